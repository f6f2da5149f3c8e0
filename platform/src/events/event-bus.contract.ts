import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { createEnvelope, packPayload } from './envelope.ts';
import {
  type DeliveryMeta,
  deadLetterTopic,
  type EventBus,
  EventBusError,
  EventBusErrorCode,
  type Subscription,
} from './event-bus.ts';

export interface EventBusContractOptions {
  /** How long to wait before concluding that nothing more arrives (default 50 ms; a broker needs more). */
  readonly settleMs?: number;
  /** The bound on every wait for something to arrive (default 5000 ms). */
  readonly timeoutMs?: number;
}

export type EventBusFactory = () => Promise<{ bus: EventBus; cleanup(): Promise<void> }>;

/**
 * The behaviour every EventBus adapter must show, run by each adapter's spec.
 * Topics and groups get a random suffix, so runs against a real broker may
 * share it. Waits poll with a bound; only "nothing more arrives" checks sleep
 * (for `settleMs`).
 */
export function runEventBusContract(name: string, factory: EventBusFactory, opts: EventBusContractOptions = {}): void {
  const settleMs = opts.settleMs ?? 50;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const testTimeout = timeoutMs * 4;

  describe(`EventBus contract: ${name}`, () => {
    /**
     * Runs a test on a bus of its own: the tests run concurrently (each
     * mostly waits, on a broker for its groups to form), so they share no
     * bus. Handlers parked on a gate are let go before the bus is closed.
     */
    const withBus = (test: (t: { bus: EventBus; gate(): Gate }) => Promise<void>) => async (): Promise<void> => {
      const { bus, cleanup } = await factory();
      const gates: Gate[] = [];
      const gate = (): Gate => {
        const g = createGate();
        gates.push(g);
        return g;
      };
      try {
        await test({ bus, gate });
      } finally {
        for (const g of gates) g.open();
        await cleanup();
      }
    };
    const settle = () => sleep(settleMs);
    const waitFor = async (what: string, done: () => boolean) => {
      const deadline = Date.now() + timeoutMs;
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(5);
      }
    };

    it.concurrent(
      'delivers each event intact, outside publish, with its topic, partition, offset and attempt',
      withBus(async ({ bus }) => {
        const topic = unique('contract.intact');
        const log = new Log();
        let inPublish = false;
        await bus.subscribe(
          shared(topic, unique('g'), async (event, meta) => {
            log.push(event, meta);
            if (inPublish) throw new Error('handler ran inside publish');
          }),
        );
        const events = [event('k1', 0, 'req-1'), event('k2', 0), event('k1', 1)];
        inPublish = true;
        const published = bus.publish(topic, events);
        inPublish = false;
        await published;

        await waitFor('3 events', () => log.all.length === 3);
        for (const sent of events) {
          const got = log.all.find((r) => r.event.id === sent.id);
          expect(got?.event).toEqual(sent);
          expect(got?.meta).toMatchObject({ topic, attempt: 1 });
          expect(got?.meta.offset).toMatch(/^\d+$/);
          expect(Number.isInteger(got?.meta.partition)).toBe(true);
          expect(got?.meta.deadLetter).toBeUndefined();
        }
        const k1 = log.all.filter((r) => r.event.key === 'k1');
        expect(k1[0]?.meta.partition).toBe(k1[1]?.meta.partition);
        expect(BigInt(k1[1]?.meta.offset ?? 0)).toBeGreaterThan(BigInt(k1[0]?.meta.offset ?? 0));
      }),
      testTimeout,
    );

    it.concurrent(
      'starts a new shared group at the earliest retained event',
      withBus(async ({ bus }) => {
        const topic = unique('contract.earliest');
        await bus.publish(topic, [event('a', 0), event('b', 0), event('a', 1)]);
        const log = new Log();
        await bus.subscribe(shared(topic, unique('g'), log.handler()));
        await waitFor('3 events', () => log.all.length === 3);
        expect(log.labels('a')).toEqual(['a:0', 'a:1']);
      }),
      testTimeout,
    );

    it.concurrent(
      'consumes several topics in one subscription',
      withBus(async ({ bus }) => {
        const [t1, t2] = [unique('contract.multi'), unique('contract.multi')];
        const log = new Log();
        await bus.subscribe({ ...shared(t1, unique('g'), log.handler()), topics: [t1, t2] });
        await bus.publish(t1, [event('k', 0)]);
        await bus.publish(t2, [event('k', 1)]);
        await waitFor('both events', () => log.all.length === 2);
        expect(Object.fromEntries(log.all.map((r) => [r.meta.topic, label(r.event)]))).toEqual({
          [t1]: 'k:0',
          [t2]: 'k:1',
        });
      }),
      testTimeout,
    );

    it.concurrent(
      'delivers the events of each key in publish order, each once, however keys interleave',
      withBus(async ({ bus }) => {
        const topic = unique('contract.order');
        const log = new Log();
        // Handlers that take varying time would reorder events handled concurrently.
        await bus.subscribe(
          shared(topic, unique('g'), async (event, meta) => {
            if (Math.random() < 0.3) await sleep(1);
            log.push(event, meta);
          }),
        );
        const keys = Array.from({ length: 16 }, (_, i) => `key-${i}`);
        const perKey = 20;
        const all = Array.from({ length: perKey }, (_, seq) => keys.map((k) => event(k, seq))).flat();
        // Batches of several sizes, then single events.
        const half = all.length / 2;
        for (let i = 0; i < half; i += 7) await bus.publish(topic, all.slice(i, Math.min(i + 7, half)));
        for (const e of all.slice(half)) await bus.publish(topic, [e]);

        await waitFor(`${all.length} events`, () => log.all.length >= all.length);
        await settle();
        expect(log.all).toHaveLength(all.length);
        for (const k of keys) {
          expect(log.labels(k)).toEqual(Array.from({ length: perKey }, (_, seq) => `${k}:${seq}`));
          expect(new Set(log.byKey(k).map((r) => r.meta.partition)).size).toBe(1);
        }
        // Offsets grow within each partition in delivery order.
        const lastOffset = new Map<number, bigint>();
        for (const r of log.all) {
          const offset = BigInt(r.meta.offset);
          expect(offset).toBeGreaterThan(lastOffset.get(r.meta.partition) ?? -1n);
          lastOffset.set(r.meta.partition, offset);
        }
      }),
      testTimeout,
    );

    it.concurrent(
      'redelivers an event whose handler throws, before any later event of its key',
      withBus(async ({ bus }) => {
        const topic = unique('contract.retry');
        const log = new Log();
        let failures = 0;
        await bus.subscribe({
          ...shared(topic, unique('g'), async (event, meta) => {
            log.push(event, meta);
            if (label(event) === 'k:0' && failures < 2) {
              failures++;
              throw new Error('transient');
            }
          }),
          retry: { maxAttempts: 5, initialBackoffMs: 1 },
        });
        await bus.publish(topic, [event('k', 0), event('k', 1), event('k', 2)]);

        await waitFor('k:2', () => log.labels('k').includes('k:2'));
        await settle();
        expect(log.all.map((r) => `${label(r.event)}#${r.meta.attempt}`)).toEqual([
          'k:0#1',
          'k:0#2',
          'k:0#3',
          'k:1#1',
          'k:2#1',
        ]);
        const offsets = new Set(
          log
            .byKey('k')
            .filter((r) => label(r.event) === 'k:0')
            .map((r) => r.meta.offset),
        );
        expect(offsets.size).toBe(1);
      }),
      testTimeout,
    );

    it.concurrent(
      'backs off exponentially between attempts',
      withBus(async ({ bus }) => {
        const topic = unique('contract.backoff');
        const at: number[] = [];
        await bus.subscribe({
          ...shared(topic, unique('g'), async () => {
            at.push(performance.now());
            throw new Error('always');
          }),
          retry: { maxAttempts: 4, initialBackoffMs: 20 },
        });
        await bus.publish(topic, [event('k', 0)]);
        await waitFor('4 attempts', () => at.length === 4);
        const gaps = at.slice(1).map((t, i) => t - (at[i] ?? 0));
        // 20, 40, 80 ms; timers may fire a little early.
        expect(gaps.map((g, i) => g >= 20 * 2 ** i - 2)).toEqual([true, true, true]);
      }),
      testTimeout,
    );

    it.concurrent(
      'dead-letters an event to <topic>.dlq after maxAttempts, with the reason, and moves on',
      withBus(async ({ bus }) => {
        const topic = unique('contract.dlq');
        const group = unique('g');
        const log = new Log();
        await bus.subscribe({
          ...shared(topic, group, async (event, meta) => {
            log.push(event, meta);
            if (label(event) === 'k:0') throw new Error('poison pill');
          }),
          retry: { maxAttempts: 3, initialBackoffMs: 1 },
        });
        const dead = new Log();
        await bus.subscribe(shared(deadLetterTopic(topic), unique('dlq-reader'), dead.handler()));
        const poison = event('k', 0);
        await bus.publish(topic, [poison, event('k', 1)]);

        await waitFor('k:1 after the poison', () => log.labels('k').includes('k:1'));
        await waitFor('the dead letter', () => dead.all.length === 1);
        await settle();
        expect(log.all.map((r) => `${label(r.event)}#${r.meta.attempt}`)).toEqual(['k:0#1', 'k:0#2', 'k:0#3', 'k:1#1']);
        const failed = log.all[0]?.meta;
        const letter = dead.all[0];
        expect(letter?.event).toEqual(poison);
        expect(letter?.meta.topic).toBe(deadLetterTopic(topic));
        expect(letter?.meta.deadLetter).toEqual({
          topic,
          partition: failed?.partition,
          offset: failed?.offset,
          group,
          attempts: 3,
          reason: expect.stringContaining('poison pill'),
        });
      }),
      testTimeout,
    );

    it.concurrent(
      'commits only after the handler resolved: an event in hand when its member leaves goes to the next member',
      withBus(async ({ bus, gate }) => {
        const topic = unique('contract.crash');
        const group = unique('g');
        const first = new Log();
        const hung = gate();
        const a = await bus.subscribe(
          shared(topic, group, async (event, meta) => {
            first.push(event, meta);
            await hung.wait;
          }),
        );
        await bus.publish(topic, [event('k', 0), event('k', 1)]);
        await waitFor('k:0 in hand', () => first.all.length === 1);
        await settle();
        expect(first.labels('k')).toEqual(['k:0']);

        // The member goes away mid-event: it stops, and its handler then fails.
        const leaving = a.unsubscribe();
        hung.fail(new Error('crashed'));
        await leaving;
        const second = new Log();
        await bus.subscribe(shared(topic, group, second.handler()));
        await waitFor('k:0 and k:1 redelivered', () => second.all.length >= 2);
        await settle();
        expect(second.labels('k')).toEqual(['k:0', 'k:1']);
        // A leaving member does not retry.
        expect(first.labels('k')).toEqual(['k:0']);
      }),
      testTimeout,
    );

    it.concurrent(
      'resumes a group from its committed offset',
      withBus(async ({ bus }) => {
        const topic = unique('contract.resume');
        const group = unique('g');
        const before = new Log();
        const a = await bus.subscribe(shared(topic, group, before.handler()));
        await bus.publish(topic, [event('k', 0), event('k', 1), event('j', 0)]);
        await waitFor('3 events', () => before.all.length === 3);
        await a.unsubscribe();
        await a.unsubscribe();

        await bus.publish(topic, [event('k', 2), event('j', 1)]);
        await settle();
        expect(before.all).toHaveLength(3);
        const after = new Log();
        await bus.subscribe(shared(topic, group, after.handler()));
        await waitFor('2 new events', () => after.all.length >= 2);
        await settle();
        expect(after.all.map((r) => label(r.event)).sort()).toEqual(['j:1', 'k:2']);
      }),
      testTimeout,
    );

    it.concurrent(
      'shares the partitions among the members of a group: each event once, to one of them',
      withBus(async ({ bus }) => {
        const topic = unique('contract.share');
        const group = unique('g');
        const [a, b] = [new Log(), new Log()];
        const ha = await bus.subscribe(shared(topic, group, a.handler()));
        const hb = await bus.subscribe(shared(topic, group, b.handler()));
        expect([ha.group, hb.group]).toEqual([group, group]);
        const events = Array.from({ length: 200 }, (_, i) => event(`key-${i % 40}`, Math.floor(i / 40)));
        await bus.publish(topic, events);

        await waitFor('200 events', () => a.all.length + b.all.length >= 200);
        await settle();
        const ids = [...a.all, ...b.all].map((r) => r.event.id);
        expect(ids).toHaveLength(200);
        expect(new Set(ids).size).toBe(200);
        expect(a.all.length).toBeGreaterThan(0);
        expect(b.all.length).toBeGreaterThan(0);
        // A key lives in one partition, which one member holds.
        const keysOfA = new Set(a.all.map((r) => r.event.key));
        expect(b.all.filter((r) => keysOfA.has(r.event.key))).toEqual([]);
      }),
      testTimeout,
    );

    it.concurrent(
      'hands the partitions of a member that leaves to the members that stay',
      withBus(async ({ bus }) => {
        const topic = unique('contract.handover');
        const group = unique('g');
        const [a, b] = [new Log(), new Log()];
        const ha = await bus.subscribe(shared(topic, group, a.handler()));
        await bus.subscribe(shared(topic, group, b.handler()));
        await ha.unsubscribe();
        const events = Array.from({ length: 50 }, (_, i) => event(`key-${i}`, 0));
        await bus.publish(topic, events);
        await waitFor('50 events at b', () => new Set(b.all.map((r) => r.event.id)).size >= 50);
        await settle();
        // Delivery is at least once: b's group may still be rebalancing after
        // a left, and a rebalance re-reads from the last committed offset, so
        // b may see an event twice; it must see every one.
        expect([...new Set(b.all.map((r) => r.event.id))].sort()).toEqual(events.map((e) => e.id).sort());
        expect(a.all).toEqual([]);
      }),
      testTimeout,
    );

    it.concurrent(
      'delivers every event to every broadcast subscriber',
      withBus(async ({ bus }) => {
        const topic = unique('contract.broadcast');
        const group = unique('live');
        const [a, b] = [new Log(), new Log()];
        const ha = await bus.subscribe(broadcast(topic, group, a.handler()));
        const hb = await bus.subscribe(broadcast(topic, group, b.handler()));
        expect(ha.group).not.toBe(hb.group);
        const events = Array.from({ length: 50 }, (_, i) => event(`key-${i % 10}`, Math.floor(i / 10)));
        await bus.publish(topic, events);

        await waitFor('50 events at each', () => a.all.length >= 50 && b.all.length >= 50);
        await settle();
        for (const log of [a, b]) {
          expect(log.all.map((r) => r.event.id).sort()).toEqual(events.map((e) => e.id).sort());
          expect(log.labels('key-3')).toEqual(['key-3:0', 'key-3:1', 'key-3:2', 'key-3:3', 'key-3:4']);
        }
      }),
      testTimeout,
    );

    it.concurrent(
      'starts a broadcast subscriber at the events published after it subscribed',
      withBus(async ({ bus }) => {
        const topic = unique('contract.broadcast-live');
        await bus.publish(topic, [event('k', 0)]);
        const log = new Log();
        await bus.subscribe(broadcast(topic, unique('live'), log.handler()));
        await bus.publish(topic, [event('k', 1)]);
        await waitFor('k:1', () => log.all.length >= 1);
        await settle();
        expect(log.labels('k')).toEqual(['k:1']);
      }),
      testTimeout,
    );

    it.concurrent(
      'close() waits for the handlers in flight, starts no more, then refuses work',
      withBus(async ({ bus, gate }) => {
        const topic = unique('contract.close');
        const log = new Log();
        const slow = gate();
        let finished = false;
        await bus.subscribe(
          shared(topic, unique('g'), async (event, meta) => {
            log.push(event, meta);
            await slow.wait;
            finished = true;
          }),
        );
        await bus.publish(topic, [event('k', 0), event('k', 1)]);
        await waitFor('k:0 in hand', () => log.all.length === 1);

        let closed = false;
        const closing = bus.close().then(() => {
          closed = true;
        });
        await settle();
        expect(closed).toBe(false);
        slow.open();
        await closing;
        expect(finished).toBe(true);
        await settle();
        expect(log.labels('k')).toEqual(['k:0']);

        await expect(bus.publish(topic, [event('k', 2)])).rejects.toMatchObject({ code: EventBusErrorCode.Closed });
        await expect(bus.subscribe(shared(topic, unique('g'), log.handler()))).rejects.toBeInstanceOf(EventBusError);
        await bus.close();
      }),
      testTimeout,
    );

    it.concurrent(
      'close() does not wait out a retry backoff',
      withBus(async ({ bus }) => {
        const topic = unique('contract.close-backoff');
        let attempts = 0;
        await bus.subscribe({
          ...shared(topic, unique('g'), async () => {
            attempts++;
            throw new Error('always');
          }),
          retry: { maxAttempts: 5, initialBackoffMs: 60_000, maxBackoffMs: 60_000 },
        });
        await bus.publish(topic, [event('k', 0)]);
        await waitFor('the first attempt', () => attempts === 1);
        const started = Date.now();
        await bus.close();
        expect(Date.now() - started).toBeLessThan(timeoutMs);
        expect(attempts).toBe(1);
      }),
      testTimeout,
    );

    it.concurrent(
      'rejects a bad topic name, an event without id or key, and an empty subscription',
      withBus(async ({ bus }) => {
        const topic = unique('contract.invalid');
        const invalid = { code: EventBusErrorCode.InvalidArgument };
        await expect(bus.publish('no spaces allowed', [event('k', 0)])).rejects.toMatchObject(invalid);
        await expect(bus.publish(topic, [{ ...event('k', 0), id: '' }])).rejects.toMatchObject(invalid);
        await expect(bus.publish(topic, [{ ...event('k', 0), key: '' }])).rejects.toMatchObject(invalid);
        await expect(
          bus.subscribe({ ...shared(topic, unique('g'), async () => {}), topics: [] }),
        ).rejects.toMatchObject(invalid);
        await expect(bus.subscribe(shared(topic, '', async () => {}))).rejects.toMatchObject(invalid);
      }),
      testTimeout,
    );
  });
}

type Handler = Subscription['handle'];

function shared(topic: string, group: string, handle: Handler): Subscription {
  return { topics: [topic], group, delivery: 'shared', handle };
}

function broadcast(topic: string, group: string, handle: Handler): Subscription {
  return { topics: [topic], group, delivery: 'broadcast', handle };
}

function unique(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** An event whose payload reads `<key>:<seq>`. */
function event(key: string, seq: number, requestId?: string): EventEnvelope {
  return createEnvelope({
    type: 'contract.item.created',
    source: 'contract',
    key,
    payload: packPayload('contract.v1.Item', Buffer.from(`${key}:${seq}`)),
    ...(requestId ? { requestId } : {}),
  });
}

function label(event: EventEnvelope): string {
  return event.payload ? Buffer.from(event.payload.value).toString() : '';
}

interface Received {
  readonly event: EventEnvelope;
  readonly meta: DeliveryMeta;
}

/** Every delivery, in the order handlers were called. */
class Log {
  readonly all: Received[] = [];

  push(event: EventEnvelope, meta: DeliveryMeta): void {
    this.all.push({ event, meta });
  }

  handler(): Handler {
    return async (event, meta) => this.push(event, meta);
  }

  byKey(key: string): Received[] {
    return this.all.filter((r) => r.event.key === key);
  }

  labels(key: string): string[] {
    return this.byKey(key).map((r) => label(r.event));
  }
}

interface Gate {
  readonly wait: Promise<void>;
  open(): void;
  fail(error: Error): void;
}

function createGate(): Gate {
  let open = () => {};
  let fail: (error: Error) => void = () => {};
  const wait = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  // A gate that fails with nobody waiting is not an unhandled rejection.
  wait.catch(() => {});
  return { wait, open, fail };
}
