// Event bus benchmark: KafkaEventBus against librdkafka's mock
// cluster (.build/kafka-mock, started and stopped here), loopback only,
// bounded by event counts and a deadline per scenario:
//   (a) publish, batches of BENCH_BATCH (the relay's batch size): events/s acked
//   (b) consume: one shared subscriber reading (a)'s events from 4
//       partitions, each applied with an idempotent effect: events/s, with
//       kafkajs handling 4 partitions at once (the adapter's default) and 1;
//       beside it, plain kafkajs (eachBatch, no per-event work) reading the
//       same events, for the adapter's own cost per event
//   (c) publish, one event per call, one call at a time: events/s acked
//   (d) publish → effect latency, one event at a time: p50 / p99
//   (e) commit → effect latency through the transactional outbox (store
//       append, relay notify, publish, consume, effect), one at a time: p50 / p99
// The mock is not Kafka: it keeps everything in memory with one broker and
// acks at once, so these are the adapter's and kafkajs's costs, not a
// cluster's. Consumer settings are the tests' (test/e2e/support/kafka.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { createEnvelope, type EventBus, MemoryOutbox, packPayload, startOutboxRelay } from '@messenger/platform/events';
import { KafkaEventBus, type KafkaEventBusOptions } from '@messenger/platform/events/kafka';
import { createLogger } from '@messenger/platform/logger';
import { Kafka, logLevel } from 'kafkajs';
import { percentile } from './percentile.ts';

// The mock keeps about 5 MB per partition and drops older events, so a
// scenario stays below that (20 000 events of ~480 bytes over 4 partitions).
const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 100);
const SINGLES = Number(process.env.BENCH_SINGLE_EVENTS ?? 2_000);
const PROBES = Number(process.env.BENCH_LATENCY_EVENTS ?? 500);
const WARMUP = 50;
const SCENARIO_DEADLINE_MS = Number(process.env.BENCH_DEADLINE_MS ?? 120_000);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const mockBin = join(root, '.build', 'kafka-mock');
const log = createLogger({ level: process.env.BENCH_LOG_LEVEL ?? 'silent', service: 'bench' });

/** The payload of a typical profile event, ~200 bytes. */
const PAYLOAD = Buffer.alloc(200, 'x');

function event(key = randomUUID()): EventEnvelope {
  return createEnvelope({
    type: 'bench.item.updated',
    source: 'bench',
    key,
    payload: packPayload('messenger.bench.v1.Item', PAYLOAD),
  });
}

async function startMock(): Promise<{ brokers: string[]; stop: () => Promise<void> }> {
  if (!existsSync(mockBin)) throw new Error(`${mockBin} not found: run scripts/install-test-deps.sh`);
  // stdin stays open as its lifeline: the mock exits on EOF.
  const child: ChildProcess = spawn(mockBin, ['1'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('kafka-mock printed no bootstrap line within 15 s')), 15_000);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (l) => {
      clearTimeout(timer);
      resolve(l.trim());
    });
    child.once('exit', (code) => reject(new Error(`kafka-mock exited with ${code}`)));
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.stdin?.end();
      child.kill('SIGTERM');
    });
  return { brokers: line.split(','), stop };
}

function newBus(brokers: string[], clientId: string, extra: Partial<KafkaEventBusOptions> = {}): KafkaEventBus {
  return new KafkaEventBus({
    ...extra,
    brokers,
    clientId,
    log,
    idempotentProducer: false,
    createTopics: false,
    sessionTimeoutMs: 3000,
    rebalanceTimeoutMs: 3000,
    heartbeatIntervalMs: 300,
    maxWaitTimeInMs: 100,
  });
}

function deadline(what: string): () => void {
  const until = Date.now() + SCENARIO_DEADLINE_MS;
  return () => {
    if (Date.now() > until) throw new Error(`${what} took longer than ${SCENARIO_DEADLINE_MS} ms`);
  };
}

/**
 * A consumer's idempotent effect, as the services store it: the dedupe
 * record and the effect in one synchronous step. Resolves waiters by id.
 */
function effectStore() {
  const processed = new Set<string>();
  const waiters = new Map<string, (at: number) => void>();
  let applied = 0;
  let firstAt = 0;
  let lastAt = 0;
  return {
    get applied() {
      return applied;
    },
    get firstAt() {
      return firstAt;
    },
    get lastAt() {
      return lastAt;
    },
    apply(e: EventEnvelope) {
      if (processed.has(e.id)) return;
      processed.add(e.id);
      applied++;
      lastAt = performance.now();
      if (applied === 1) firstAt = lastAt;
      waiters.get(e.id)?.(lastAt);
      waiters.delete(e.id);
    },
    when(id: string): Promise<number> {
      return new Promise((resolve) => waiters.set(id, resolve));
    },
  };
}

async function until(what: string, done: () => boolean): Promise<void> {
  const check = deadline(what);
  while (!done()) {
    check();
    await new Promise((r) => setTimeout(r, 1));
  }
}

interface Row {
  readonly name: string;
  readonly value: string;
}
const rows: Row[] = [];
const report = (name: string, value: string) => {
  rows.push({ name, value });
  console.log(`${name.padEnd(64)} ${value}`);
};

console.log(
  `kafka-mock (1 broker, topics auto-created with 4 partitions), loopback; ${EVENTS} events (envelopes of ~${PAYLOAD.length + 100} bytes + CloudEvents headers), ` +
    `batches of ${BATCH}; ${SINGLES} single publishes; ${PROBES} latency probes after ${WARMUP} warm-up`,
);
const mock = await startMock();
const buses: EventBus[] = [];
try {
  const producer = newBus(mock.brokers, 'bench-producer');
  buses.push(producer);
  await producer.connect();
  const run = randomUUID().slice(0, 8);

  // (a) batched publish
  {
    const topic = `bench.batch-${run}`;
    await producer.publish(topic, [event()]);
    const events = Array.from({ length: EVENTS }, () => event());
    const check = deadline('(a)');
    const t0 = performance.now();
    for (let i = 0; i < events.length; i += BATCH) {
      check();
      await producer.publish(topic, events.slice(i, i + BATCH));
    }
    const s = (performance.now() - t0) / 1000;
    report(`(a) publish, batches of ${BATCH}`, `${Math.round(EVENTS / s).toLocaleString('en')} events/s`);
    const total = EVENTS + 1;
    const kafka = new Kafka({ clientId: 'bench-raw', brokers: mock.brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    if (offsets.some((o) => o.low !== '0')) throw new Error(`the mock dropped events of ${topic}: lower BENCH_EVENTS`);

    // (b) consume what (a) stored, from the first effect to the last
    for (const concurrency of [4, 1]) {
      const consumer = newBus(mock.brokers, 'bench-consumer', { partitionsConsumedConcurrently: concurrency });
      buses.push(consumer);
      const effects = effectStore();
      await consumer.subscribe({
        topics: [topic],
        group: `bench-consume-${run}-${concurrency}`,
        delivery: 'shared',
        handle: async (e) => effects.apply(e),
      });
      await until('(b)', () => effects.applied >= total);
      const cs = (effects.lastAt - effects.firstAt) / 1000;
      report(
        `(b) consume, 1 subscriber, partitionsConsumedConcurrently ${concurrency}`,
        `${Math.round(total / cs).toLocaleString('en')} events/s`,
      );
      await consumer.close();
    }
    for (const concurrency of [4, 1]) {
      const raw = kafka.consumer({
        groupId: `bench-raw-${run}-${concurrency}`,
        sessionTimeout: 3000,
        rebalanceTimeout: 3000,
        heartbeatInterval: 300,
        maxWaitTimeInMs: 100,
      });
      let seen = 0;
      let first = 0;
      let last = 0;
      await raw.connect();
      try {
        await raw.subscribe({ topics: [topic], fromBeginning: true });
        await raw.run({
          partitionsConsumedConcurrently: concurrency,
          eachBatch: async ({ batch }) => {
            if (seen === 0) first = performance.now();
            seen += batch.messages.length;
            last = performance.now();
          },
        });
        await until('(b) plain kafkajs', () => seen >= total);
        report(
          `    plain kafkajs eachBatch, concurrency ${concurrency}, no effect`,
          `${Math.round(total / ((last - first) / 1000)).toLocaleString('en')} events/s`,
        );
      } finally {
        await raw.disconnect();
      }
    }
  }

  // (c) one event per publish
  {
    const topic = `bench.single-${run}`;
    await producer.publish(topic, [event()]);
    const check = deadline('(c)');
    const t0 = performance.now();
    for (let i = 0; i < SINGLES; i++) {
      check();
      await producer.publish(topic, [event()]);
    }
    const s = (performance.now() - t0) / 1000;
    report('(c) publish, 1 event per call, sequential', `${Math.round(SINGLES / s).toLocaleString('en')} events/s`);
  }

  // (d) publish → effect
  {
    const topic = `bench.latency-${run}`;
    const consumer = newBus(mock.brokers, 'bench-latency');
    buses.push(consumer);
    const effects = effectStore();
    await consumer.subscribe({
      topics: [topic],
      group: `bench-latency-${run}`,
      delivery: 'shared',
      handle: async (e) => effects.apply(e),
    });
    const samples: number[] = [];
    const check = deadline('(d)');
    for (let i = 0; i < WARMUP + PROBES; i++) {
      check();
      const e = event();
      const effect = effects.when(e.id);
      const t0 = performance.now();
      await producer.publish(topic, [e]);
      const at = await effect;
      if (i >= WARMUP) samples.push(at - t0);
    }
    samples.sort((x, y) => x - y);
    report(
      '(d) publish → effect latency, one at a time',
      `p50 ${percentile(samples, 50).toFixed(2)} ms, p99 ${percentile(samples, 99).toFixed(2)} ms`,
    );
  }

  // (e) outbox commit → effect, through the relay
  {
    const topic = `bench.outbox-${run}`;
    const consumer = newBus(mock.brokers, 'bench-outbox');
    buses.push(consumer);
    const effects = effectStore();
    await consumer.subscribe({
      topics: [topic],
      group: `bench-outbox-${run}`,
      delivery: 'shared',
      handle: async (e) => effects.apply(e),
    });
    const outbox = new MemoryOutbox();
    const relay = startOutboxRelay({ source: outbox, bus: producer, log });
    try {
      const samples: number[] = [];
      const check = deadline('(e)');
      for (let i = 0; i < WARMUP + PROBES; i++) {
        check();
        const e = event();
        const effect = effects.when(e.id);
        const t0 = performance.now();
        // What a store does on a change: append in the change's step, which wakes the relay.
        outbox.append([{ topic, envelope: e }]);
        const at = await effect;
        if (i >= WARMUP) samples.push(at - t0);
      }
      samples.sort((x, y) => x - y);
      report(
        '(e) outbox commit → relay → effect latency, one at a time',
        `p50 ${percentile(samples, 50).toFixed(2)} ms, p99 ${percentile(samples, 99).toFixed(2)} ms`,
      );
    } finally {
      await relay.stop();
    }
  }
} finally {
  await Promise.allSettled(buses.map((b) => b.close()));
  await mock.stop();
}
