import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { pino } from 'pino';
import { createEnvelope, packPayload } from './envelope.ts';
import type { EventBus } from './event-bus.ts';
import { InProcessEventBus } from './in-process-event-bus.ts';
import { MemoryOutbox } from './memory-outbox.ts';
import { startOutboxRelay } from './outbox-relay.ts';

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

describe('outbox relay', () => {
  it('publishes stored events in order and removes them from the outbox', async () => {
    const bus = new InProcessEventBus();
    const outbox = new MemoryOutbox();
    const seen: number[] = [];
    await bus.subscribe({
      topics: ['things'],
      group: 'g',
      delivery: 'shared',
      handle: async (e) => {
        seen.push(e.payload?.value[0] ?? -1);
      },
    });
    const relay = startOutboxRelay({ source: outbox, bus, log, pollIntervalMs: 20 });
    outbox.append([1, 2, 3].map((n) => ({ topic: 'things', envelope: event('k', n) })));
    relay.notify();
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
    const relay = startOutboxRelay({ source: outbox, bus: flaky, log, pollIntervalMs: 20, initialBackoffMs: 10 });
    const events = [event('a', 1), event('b', 2)];
    outbox.append(events.map((envelope) => ({ topic: 'things', envelope })));
    relay.notify();
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual([]);
    expect(outbox.size).toBe(2);
    down = false;
    await waitFor(() => seen.length === 2);
    expect(seen.sort()).toEqual(events.map((e) => e.id).sort());
    expect(outbox.size).toBe(0);
    await relay.stop();
    await flaky.close();
  });
});
