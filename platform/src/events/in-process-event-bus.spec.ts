import { Partitioners } from 'kafkajs';
import { createEnvelope, packPayload } from './envelope.ts';
import { runEventBusContract } from './event-bus.contract.ts';
import type { DeliveryMeta } from './event-bus.ts';
import { InProcessEventBus } from './in-process-event-bus.ts';
import { partitionOf } from './partitioner.ts';

runEventBusContract('InProcessEventBus', async () => {
  const bus = new InProcessEventBus();
  return { bus, cleanup: () => bus.close() };
});

const event = (key: string, seq: number) =>
  createEnvelope({
    type: 'test.item.created',
    source: 'test',
    key,
    payload: packPayload('test.v1.Item', Buffer.from(`${key}:${seq}`)),
  });

async function waitFor(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('InProcessEventBus', () => {
  it('rejects bad options when constructed', () => {
    expect(() => new InProcessEventBus({ partitions: 0 })).toThrow(/partitions/);
    expect(() => new InProcessEventBus({ retainPerPartition: 1.5 })).toThrow(/retainPerPartition/);
    expect(() => new InProcessEventBus({ maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => new InProcessEventBus({ initialBackoffMs: 100, maxBackoffMs: 10 })).toThrow(/maxBackoffMs/);
  });

  it('caughtUp resolves once the group has handled everything published before it, and not before', async () => {
    const bus = new InProcessEventBus({ partitions: 3 });
    try {
      const handled: string[] = [];
      await bus.subscribe({
        topics: ['slow'],
        group: 'slow-readers',
        delivery: 'shared',
        handle: async (e) => {
          await new Promise((resolve) => setTimeout(resolve, 2));
          handled.push(e.key);
        },
      });
      await bus.publish(
        'slow',
        Array.from({ length: 30 }, (_, i) => event(`k${i}`, i)),
      );
      expect(handled.length).toBeLessThan(30);
      await bus.caughtUp('slow-readers', 'slow');
      expect(handled.length).toBe(30);
      await bus.caughtUp('slow-readers', 'a-topic-nobody-published-to');
    } finally {
      await bus.close();
    }
  });

  it('keeps at most retainPerPartition events; a new group starts at the oldest kept', async () => {
    const bus = new InProcessEventBus({ partitions: 1, retainPerPartition: 10 });
    try {
      await bus.publish(
        'retained',
        Array.from({ length: 25 }, (_, i) => event('k', i)),
      );
      const got: DeliveryMeta[] = [];
      await bus.subscribe({
        topics: ['retained'],
        group: 'late',
        delivery: 'shared',
        handle: async (_, meta) => {
          got.push(meta);
        },
      });
      await waitFor('10 events', () => got.length === 10);
      expect(got.map((m) => m.offset)).toEqual(Array.from({ length: 10 }, (_, i) => String(15 + i)));
    } finally {
      await bus.close();
    }
  });

  it('keeps only what some group of the topic has yet to handle, whatever the retention bound', async () => {
    const bus = new InProcessEventBus({ partitions: 1 });
    const offsetsOf = (got: DeliveryMeta[]) => got.map((m) => Number(m.offset));
    const collect = (group: string, delivery: 'shared' | 'broadcast', got: DeliveryMeta[], gate?: () => boolean) =>
      bus.subscribe({
        topics: ['trimmed'],
        group,
        delivery,
        handle: async (_, meta) => {
          if (gate && !gate()) throw new Error('not yet');
          got.push(meta);
        },
        retry: { maxAttempts: 1_000, initialBackoffMs: 1, maxBackoffMs: 1 },
      });
    try {
      const fast: DeliveryMeta[] = [];
      const slow: DeliveryMeta[] = [];
      const watcher: DeliveryMeta[] = [];
      let slowMayGo = false;
      await collect('fast', 'shared', fast);
      await collect('slow', 'shared', slow, () => slowMayGo || slow.length < 3);
      const broadcast = await collect('watcher', 'broadcast', watcher);
      for (let i = 0; i < 10; i++) await bus.publish('trimmed', [event('k', i)]);
      await waitFor('fast and watcher to have all 10', () => fast.length === 10 && watcher.length === 10);
      // The slow group handled 3: a group joining now starts at its position, the oldest kept.
      const late1: DeliveryMeta[] = [];
      const first = await collect('late-1', 'shared', late1);
      await waitFor('late-1 to catch up', () => late1.length === 7);
      expect(offsetsOf(late1)).toEqual([3, 4, 5, 6, 7, 8, 9]);
      await first.unsubscribe();

      slowMayGo = true;
      await waitFor('slow to have all 10', () => slow.length === 10);
      // A broadcast group that left holds nothing back.
      await broadcast.unsubscribe();
      await bus.publish('trimmed', [event('k', 10)]);
      await waitFor('every group to handle offset 10', () => fast.length === 11 && slow.length === 11);
      await bus.publish('trimmed', [event('k', 11)]);
      const late2: DeliveryMeta[] = [];
      await collect('late-2', 'shared', late2);
      await waitFor('late-2 to catch up', () => late2.length === 2);
      // 0-9 went once every group had them; late-1, gone but a shared group, still holds 10 back.
      expect(offsetsOf(late2)).toEqual([10, 11]);
    } finally {
      await bus.close();
    }
  });

  it('moves a group that fell behind retention on to the oldest kept event', async () => {
    const bus = new InProcessEventBus({ partitions: 1, retainPerPartition: 5 });
    try {
      const got: string[] = [];
      const first = await bus.subscribe({
        topics: ['lagging'],
        group: 'slow',
        delivery: 'shared',
        handle: async (_, meta) => {
          got.push(meta.offset);
        },
      });
      await bus.publish('lagging', [event('k', 0)]);
      await waitFor('offset 0', () => got.length === 1);
      await first.unsubscribe();
      // 2000 appends also exercise the log's compaction of dropped entries.
      for (let i = 1; i <= 2000; i++) await bus.publish('lagging', [event('k', i)]);
      await bus.subscribe({
        topics: ['lagging'],
        group: 'slow',
        delivery: 'shared',
        handle: async (_, meta) => {
          got.push(meta.offset);
        },
      });
      await waitFor('5 more', () => got.length === 6);
      expect(got).toEqual(['0', '1996', '1997', '1998', '1999', '2000']);
    } finally {
      await bus.close();
    }
  });

  it('keeps the event loop turning while a long backlog drains', async () => {
    const bus = new InProcessEventBus({ partitions: 1 });
    try {
      await bus.publish(
        'backlog',
        Array.from({ length: 5000 }, (_, i) => event('k', i)),
      );
      let handled = 0;
      let handledWhenTimerFired = -1;
      await bus.subscribe({
        topics: ['backlog'],
        group: 'drain',
        delivery: 'shared',
        handle: async () => {
          handled++;
        },
      });
      setTimeout(() => {
        handledWhenTimerFired = handled;
      }, 0);
      await waitFor('the backlog', () => handled === 5000);
      expect(handledWhenTimerFired).toBeGreaterThanOrEqual(0);
      expect(handledWhenTimerFired).toBeLessThan(5000);
    } finally {
      await bus.close();
    }
  });

  it('close() also waits for the handler of a member still leaving', async () => {
    const bus = new InProcessEventBus();
    let release = () => {};
    let started = false;
    let finished = false;
    const handle = await bus.subscribe({
      topics: ['leaving'],
      group: 'g',
      delivery: 'shared',
      handle: async () => {
        started = true;
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        finished = true;
      },
    });
    await bus.publish('leaving', [event('k', 0)]);
    await waitFor('the handler to start', () => started);
    void handle.unsubscribe();
    const closing = bus.close();
    setTimeout(() => release(), 20);
    await closing;
    expect(finished).toBe(true);
  });

  it('gives a rebalanced partition to its new owner only after the old one finished its event', async () => {
    const bus = new InProcessEventBus({ partitions: 2 });
    try {
      const running = new Set<number>();
      const overlaps: number[] = [];
      const handled = new Set<string>();
      const handle = async (event: { id: string }, meta: DeliveryMeta) => {
        if (running.has(meta.partition)) overlaps.push(meta.partition);
        running.add(meta.partition);
        await new Promise((resolve) => setTimeout(resolve, 2));
        running.delete(meta.partition);
        handled.add(event.id);
      };
      const sub = { topics: ['handover'], group: 'g', delivery: 'shared' as const, handle };
      const a = await bus.subscribe(sub);
      await bus.publish(
        'handover',
        Array.from({ length: 60 }, (_, i) => event(`k${i % 8}`, i)),
      );
      // Join and leave while handlers are in flight.
      await waitFor('10 handled', () => handled.size >= 10);
      const b = await bus.subscribe(sub);
      await waitFor('20 handled', () => handled.size >= 20);
      await b.unsubscribe();
      await bus.subscribe(sub);
      await waitFor('30 handled', () => handled.size >= 30);
      await a.unsubscribe();
      await waitFor('all handled', () => handled.size === 60);
      expect(overlaps).toEqual([]);
    } finally {
      await bus.close();
    }
  });
});

describe('partitionOf', () => {
  it("picks the partition Kafka's default partitioner picks", () => {
    const kafka = Partitioners.DefaultPartitioner();
    for (const partitions of [1, 3, 4, 12]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
        partitionId,
        leader: 0,
        replicas: [0],
        isr: [0],
        partitionErrorCode: 0,
        offlineReplicas: [],
      }));
      for (const key of [
        '',
        'a',
        'ab',
        'abc',
        'abcd',
        'user-42',
        'ü☃ multibyte',
        '0190f3c2-7b1e-7c35-9a0e-5b2d1f4e8a61',
      ]) {
        const message = { key, value: null };
        expect(partitionOf(key, partitions)).toBe(kafka({ topic: 't', partitionMetadata, message }));
      }
    }
  });

  it('spreads keys over the partitions', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) {
      const p = partitionOf(`user-${i}`, 4);
      counts[p] = (counts[p] ?? 0) + 1;
    }
    for (const c of counts) expect(c).toBeGreaterThan(800);
  });
});
