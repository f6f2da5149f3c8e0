// KafkaEventBus against a real Kafka wire protocol: librdkafka's mock cluster,
// started by scripts/with-test-infra.sh (its limits: test/e2e/support/kafka.ts).
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { type Consumer, Kafka, type KafkaMessage, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { createEnvelope, packPayload } from './envelope.ts';
import { runEventBusContract } from './event-bus.contract.ts';
import { type DeliveryMeta, deadLetterTopic, type EventBus, EventBusErrorCode } from './event-bus.ts';
import { KafkaEventBus, type KafkaEventBusOptions } from './kafka-event-bus.ts';
import { MemoryOutbox } from './memory-outbox.ts';
import { startOutboxRelay } from './outbox-relay.ts';
import { partitionOf } from './partitioner.ts';

const brokersEnv = process.env.KAFKA_BROKERS;
if (!brokersEnv) {
  throw new Error(
    'KAFKA_BROKERS is not set. Run the tests under scripts/with-test-infra.sh, e.g. ' +
      '`scripts/with-test-infra.sh npm test -- platform/src/events/kafka` (after scripts/install-test-deps.sh).',
  );
}
const brokers = brokersEnv.split(',');
const silent = pino({ level: 'silent' });

// The mock holds each rebalance for about sessionTimeout - 1 s and each first
// join for ~3 s; these keep both short. It refuses the
// idempotent producer and admin createTopics (it auto-creates, 4 partitions).
const mockSettings = {
  clientId: 'kafka-event-bus-test',
  idempotentProducer: false,
  createTopics: false,
  sessionTimeoutMs: 3000,
  rebalanceTimeoutMs: 3000,
  heartbeatIntervalMs: 300,
  maxWaitTimeInMs: 100,
  log: silent,
} as const;

function newBus(overrides: Partial<KafkaEventBusOptions> = {}): KafkaEventBus {
  return new KafkaEventBus({ brokers, ...mockSettings, ...overrides });
}

runEventBusContract(
  'KafkaEventBus',
  async () => {
    const bus = newBus();
    return { bus, cleanup: () => bus.close() };
  },
  // A broker round trip and a group (re)join are slower than memory.
  { settleMs: 300, timeoutMs: 15_000 },
);

const event = (key: string, seq: number) =>
  createEnvelope({
    type: 'test.item.created',
    source: 'kafka-test',
    key,
    payload: packPayload('test.v1.Item', Buffer.from(`${key}:${seq}`)),
  });

const label = (e: EventEnvelope) => (e.payload ? Buffer.from(e.payload.value).toString() : '');

async function waitFor(what: string, done: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A port nothing listens on: bound once by us, then released. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

interface Seen {
  readonly topic: string;
  readonly partition: number;
  readonly message: KafkaMessage;
}

describe('KafkaEventBus', () => {
  it('rejects bad options when constructed', () => {
    const invalid = { code: EventBusErrorCode.InvalidArgument };
    expect(() => new KafkaEventBus({ brokers: [], clientId: 'x' })).toThrow(expect.objectContaining(invalid));
    expect(() => new KafkaEventBus({ brokers: ['no-port'], clientId: 'x' })).toThrow(/brokers/);
    expect(() => new KafkaEventBus({ brokers, clientId: '' })).toThrow(/clientId/);
    expect(() => newBus({ partitions: 0 })).toThrow(/partitions/);
    expect(() => newBus({ heartbeatIntervalMs: 3000 })).toThrow(/heartbeatIntervalMs/);
    expect(() => newBus({ maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => newBus({ brokerRetry: { retries: -1 } })).toThrow(/retries/);
  });

  it.concurrent('writes the envelope as a keyed protobuf value with CloudEvents headers; dead letters add dlq_* headers', async () => {
    const raw = new Kafka({ clientId: 'kafka-event-bus-raw', brokers, logLevel: logLevel.NOTHING });
    const bus = newBus();
    let consumer: Consumer | undefined;
    try {
      const topic = `kafka.wire-${randomUUID().slice(0, 8)}`;
      const group = `wire-${randomUUID().slice(0, 8)}`;
      const seen: Seen[] = [];
      consumer = raw.consumer({
        groupId: `raw-${randomUUID()}`,
        sessionTimeout: 3000,
        heartbeatInterval: 300,
        maxWaitTimeInMs: 100,
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic, deadLetterTopic(topic)], fromBeginning: true });
      const delivered: DeliveryMeta[] = [];
      // Two joins at once: the mock takes ~3 s for each first join.
      const [, handle] = await Promise.all([
        consumer.run({ eachMessage: async (m) => void seen.push(m) }),
        bus.subscribe({
          topics: [topic],
          group,
          delivery: 'shared',
          retry: { maxAttempts: 1 },
          handle: async (_event, meta) => {
            delivered.push(meta);
            throw new Error('rejected by the test');
          },
        }),
      ]);
      const sent = event('user-42', 0);
      await bus.publish(topic, [sent]);

      await waitFor('the event and its dead letter', () => seen.length === 2);
      await handle.unsubscribe();
      const original = seen.find((m) => m.topic === topic);
      const letter = seen.find((m) => m.topic === deadLetterTopic(topic));
      if (!original || !letter) throw new Error('missing message');

      const headers = (m: Seen) =>
        Object.fromEntries(Object.entries(m.message.headers ?? {}).map(([k, v]) => [k, v?.toString()]));
      const ce = {
        ce_specversion: '1.0',
        ce_id: sent.id,
        ce_type: 'test.item.created',
        ce_source: 'kafka-test',
        ce_time: sent.time?.toISOString(),
        'content-type': 'application/protobuf',
      };
      expect(original.message.key?.toString()).toBe('user-42');
      expect(EventEnvelope.decode(original.message.value ?? Buffer.alloc(0))).toEqual(sent);
      expect(headers(original)).toEqual(ce);
      expect(sent.time?.toISOString()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      // The partition embedded mode would pick for the key.
      expect(original.partition).toBe(partitionOf('user-42', 4));
      expect(delivered[0]?.partition).toBe(original.partition);

      // The dead letter: the same key, value and headers, plus why and where it failed.
      expect(letter.message.key?.toString()).toBe('user-42');
      expect(letter.message.value?.equals(original.message.value ?? Buffer.alloc(0))).toBe(true);
      expect(headers(letter)).toEqual({
        ...ce,
        dlq_topic: topic,
        dlq_partition: String(original.partition),
        dlq_offset: original.message.offset,
        dlq_group: group,
        dlq_attempts: '1',
        dlq_reason: 'Error: rejected by the test',
      });
    } finally {
      await consumer?.disconnect();
      await bus.close();
    }
  }, 30_000);

  it.concurrent('commits a handler that succeeds while its member leaves, so the next member does not repeat it', async () => {
    const bus = newBus();
    try {
      const topic = `kafka.leave-${randomUUID().slice(0, 8)}`;
      const group = `leave-${randomUUID().slice(0, 8)}`;
      const first: string[] = [];
      let release = () => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const a = await bus.subscribe({
        topics: [topic],
        group,
        delivery: 'shared',
        handle: async (e) => {
          first.push(label(e));
          await released;
        },
      });
      await bus.publish(topic, [event('k', 0), event('k', 1)]);
      await waitFor('k:0 in hand', () => first.length === 1);

      const leaving = a.unsubscribe();
      await sleep(100);
      release();
      await leaving;
      // A leaving member starts nothing new.
      expect(first).toEqual(['k:0']);

      const second: string[] = [];
      await bus.subscribe({
        topics: [topic],
        group,
        delivery: 'shared',
        handle: async (e) => void second.push(label(e)),
      });
      await waitFor('k:1', () => second.includes('k:1'));
      await sleep(300);
      expect(second).toEqual(['k:1']);
    } finally {
      await bus.close();
    }
  }, 30_000);

  it('rejects publish while Kafka is unreachable, so the outbox keeps the events', async () => {
    const bus = newBus({
      brokers: [`127.0.0.1:${await deadPort()}`],
      brokerRetry: { retries: 1, initialRetryTime: 50 },
      connectionTimeoutMs: 500,
    });
    try {
      const started = Date.now();
      await expect(bus.publish('kafka.outage', [event('k', 0)])).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(5000);

      let failures = 0;
      const counting: EventBus = {
        publish: (topic, events) =>
          bus.publish(topic, events).catch((err: unknown) => {
            failures++;
            throw err;
          }),
        subscribe: (sub) => bus.subscribe(sub),
        close: () => bus.close(),
      };
      const outbox = new MemoryOutbox();
      const envelope = event('k', 1);
      outbox.append([{ topic: 'kafka.outage', envelope }]);
      const relay = startOutboxRelay({ source: outbox, bus: counting, log: silent, initialBackoffMs: 50 });
      try {
        await waitFor('two failed publishes', () => failures >= 2);
      } finally {
        await relay.stop();
      }
      expect(outbox.size).toBe(1);
      expect((await outbox.pendingEvents(10))[0]?.envelope).toBe(envelope);
    } finally {
      const closing = Date.now();
      await bus.close();
      expect(Date.now() - closing).toBeLessThan(2000);
    }
  }, 30_000);

  it.concurrent('commits a broadcast member’s offsets, so its lag is visible in the group offsets', async () => {
    const bus = newBus();
    const admin = new Kafka({ clientId: 'kafka-event-bus-lag', brokers, logLevel: logLevel.NOTHING }).admin();
    const topic = `kafka.broadcast-lag-${randomUUID().slice(0, 8)}`;
    try {
      await admin.connect();
      let handled = 0;
      const handle = await bus.subscribe({
        topics: [topic],
        group: 'lag',
        delivery: 'broadcast',
        handle: async () => {
          handled++;
        },
      });
      await bus.publish(topic, [event('a', 0), event('a', 1), event('b', 2)]);
      await waitFor('three events handled', () => handled === 3);
      const committed = async () => {
        const [offsets] = await admin.fetchOffsets({ groupId: handle.group, topics: [topic] });
        return (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
      };
      // Committed at the end of each batch, just after the handler returns: polled.
      let total = 0;
      for (let i = 0; i < 100 && total !== 3; i++) {
        total = await committed();
        if (total !== 3) await sleep(50);
      }
      expect(total).toBe(3);
    } finally {
      await bus.close();
      await admin.disconnect();
    }
  }, 30_000);

  // The mock cluster speaks neither TLS nor SASL, so a secured connection to
  // it must fail: this proves the options reach kafkajs. Real TLS/SASL
  // handshakes are not tested here (docs/OPERATIONS.md, Kafka security).
  it.each([
    ['TLS', { ssl: true }],
    ['SASL', { sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } }],
  ] as const)(
    'connects with %s when asked, which the plaintext mock refuses',
    async (_what, security) => {
      const plain = newBus();
      const secured = newBus({ ...security, brokerRetry: { retries: 0 }, connectionTimeoutMs: 1000 });
      try {
        await plain.connect();
        await expect(secured.connect()).rejects.toThrow();
      } finally {
        await Promise.all([plain.close(), secured.close()]);
      }
    },
    30_000,
  );
});
