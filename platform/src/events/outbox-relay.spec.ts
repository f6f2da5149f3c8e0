import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createEnvelope, packPayload } from './envelope.ts';
import type { EventBus } from './event-bus.ts';
import { InProcessEventBus } from './in-process-event-bus.ts';
import { MemoryOutbox } from './memory-outbox.ts';
import { type OutboxSource, startOutboxRelay } from './outbox-relay.ts';
import { InMemoryRelayLease } from './relay-lease.ts';

const log = pino({ level: 'silent' });

function event(key: string, n: number): EventEnvelope {
  return createEnvelope({
    type: 'test.thing.changed',
    source: 'test',
    key,
    payload: packPayload('test.Thing', Buffer.from([n])),
  });
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The outbox, counting how often the relay looks into it. */
function countingReads(outbox: MemoryOutbox): { source: OutboxSource; reads(): number } {
  let reads = 0;
  return {
    source: {
      pendingEvents: (limit) => {
        reads++;
        return outbox.pendingEvents(limit);
      },
      markPublished: (ids) => outbox.markPublished(ids),
      onCommit: (wake) => outbox.onCommit(wake),
    },
    reads: () => reads,
  };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The payload byte of every event published on `things`, in arrival order. */
async function payloadsOf(bus: EventBus): Promise<number[]> {
  const seen: number[] = [];
  await bus.subscribe({
    topics: ['things'],
    group: 'g',
    delivery: 'shared',
    handle: async (e) => {
      seen.push(e.payload?.value[0] ?? -1);
    },
  });
  return seen;
}

describe('outbox relay', () => {
  it('lets only the lease holder of a shared outbox publish, and hands over when it stops', async () => {
    const bus = new InProcessEventBus();
    const outbox = new MemoryOutbox();
    const lease = new InMemoryRelayLease();
    // Two replicas' relays over one store, each publishing with its own producer.
    const publishedBy: string[] = [];
    const producer = (name: string): EventBus => ({
      publish: async (topic, events) => {
        publishedBy.push(...events.map(() => name));
        await bus.publish(topic, events);
      },
      subscribe: (s) => bus.subscribe(s),
      close: async () => {},
    });
    const shared: OutboxSource = {
      pendingEvents: (limit) => outbox.pendingEvents(limit),
      markPublished: (ids) => outbox.markPublished(ids),
      onCommit: (wake) => outbox.onCommit(wake),
      lease,
    };
    const seen = await payloadsOf(bus);
    const first = startOutboxRelay({ source: shared, bus: producer('first'), log, pollIntervalMs: 20 });
    await pause(50); // the first relay takes the lease
    const second = startOutboxRelay({ source: shared, bus: producer('second'), log, pollIntervalMs: 20 });
    try {
      for (let n = 1; n <= 20; n++) {
        outbox.append([{ topic: 'things', envelope: event('k', n) }]);
        await pause(2);
      }
      await waitFor(() => seen.length === 20);
      expect(new Set(publishedBy)).toEqual(new Set(['first']));

      await first.stop();
      outbox.append([21, 22].map((n) => ({ topic: 'things', envelope: event('k', n) })));
      await waitFor(() => seen.length === 22);
      expect(seen).toEqual(Array.from({ length: 22 }, (_, i) => i + 1));
      expect(publishedBy.slice(20)).toEqual(['second', 'second']);
    } finally {
      await first.stop();
      await second.stop();
      await bus.close();
    }
  });

  it('publishes stored events in order and removes them from the outbox', async () => {
    const bus = new InProcessEventBus();
    const outbox = new MemoryOutbox();
    const seen = await payloadsOf(bus);
    const relay = startOutboxRelay({ source: outbox, bus, log, pollIntervalMs: 20 });
    outbox.append([1, 2, 3].map((n) => ({ topic: 'things', envelope: event('k', n) })));
    await waitFor(() => seen.length === 3);
    expect(seen).toEqual([1, 2, 3]);
    await waitFor(() => outbox.size === 0);
    await relay.stop();
    await bus.close();
  });

  it('keeps events while the bus is down and publishes them once it is back', async () => {
    const inner = new InProcessEventBus();
    let down = true;
    const flaky: EventBus = {
      publish: async (topic, events) => {
        if (down) throw new Error('broker unreachable');
        await inner.publish(topic, events);
      },
      subscribe: (s) => inner.subscribe(s),
      close: () => inner.close(),
    };
    const outbox = new MemoryOutbox();
    const seen: string[] = [];
    await inner.subscribe({
      topics: ['things'],
      group: 'g',
      delivery: 'shared',
      handle: async (e) => {
        seen.push(e.id);
      },
    });
    const registry = new Registry();
    const relay = startOutboxRelay({
      source: outbox,
      bus: flaky,
      log,
      pollIntervalMs: 20,
      initialBackoffMs: 10,
      metrics: { registry, service: 'things' },
    });
    const failuresCounted = async () =>
      (await registry.getSingleMetricAsString('outbox_publish_failures_total'))
        .split('\n')
        .find((line) => line.startsWith('outbox_publish_failures_total{service="things"}'));
    const events = [event('a', 1), event('b', 2)];
    outbox.append(events.map((envelope) => ({ topic: 'things', envelope })));
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual([]);
    expect(outbox.size).toBe(2);
    // The operator sees the failures: a counter that keeps rising while the bus is down.
    expect(Number((await failuresCounted())?.split(' ')[1])).toBeGreaterThanOrEqual(2);
    down = false;
    await waitFor(() => seen.length === 2);
    expect(seen.sort()).toEqual(events.map((e) => e.id).sort());
    expect(outbox.size).toBe(0);
    await relay.stop();
    await flaky.close();
  });

  it('is woken by a committed append, with no call to notify(), and not by an empty one', async () => {
    const bus = new InProcessEventBus();
    const outbox = new MemoryOutbox();
    const { source, reads } = countingReads(outbox);
    const seen = await payloadsOf(bus);
    // It looks once at start-up, then would not look again for a minute.
    const relay = startOutboxRelay({ source, bus, log, pollIntervalMs: 60_000 });
    try {
      await waitFor(() => reads() === 1);
      outbox.append([]);
      await pause(50);
      expect(reads()).toBe(1);
      outbox.append([{ topic: 'things', envelope: event('k', 7) }]);
      await waitFor(() => seen.length === 1, 1000);
      expect(seen).toEqual([7]);
      await waitFor(() => outbox.size === 0);
    } finally {
      await relay.stop();
    }
    // Stopped: no longer listening.
    const after = reads();
    outbox.append([{ topic: 'things', envelope: event('k', 8) }]);
    await pause(50);
    expect(reads()).toBe(after);
    await bus.close();
  });

  it('lets no commit cut short its wait after a failed publish', async () => {
    const outbox = new MemoryOutbox();
    const inner = new InProcessEventBus();
    let attempts = 0;
    const down: EventBus = {
      publish: async () => {
        attempts++;
        throw new Error('broker unreachable');
      },
      subscribe: (s) => inner.subscribe(s),
      close: () => inner.close(),
    };
    outbox.append([{ topic: 'things', envelope: event('k', 1) }]);
    const relay = startOutboxRelay({ source: outbox, bus: down, log, initialBackoffMs: 60_000 });
    try {
      await waitFor(() => attempts === 1);
      for (let n = 2; n < 12; n++) {
        outbox.append([{ topic: 'things', envelope: event('k', n) }]);
        await pause(5);
      }
      expect(attempts).toBe(1);
      expect(outbox.size).toBe(11);
    } finally {
      await relay.stop();
      await down.close();
    }
  });
});
