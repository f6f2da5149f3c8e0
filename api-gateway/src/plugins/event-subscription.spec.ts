import {
  createEnvelope,
  type EventBus,
  InProcessEventBus,
  packPayload,
  type Subscription,
  type SubscriptionHandle,
} from '@messenger/platform/events';
import Fastify, { type FastifyInstance } from 'fastify';
import { subscribeWhileOpen } from './event-subscription.ts';

/**
 * A real in-process bus whose joins wait until the test lets them through,
 * and whose first `failures` joins fail: a group whose join takes a whole
 * rebalance, or a broker that refuses it for a while.
 */
class SlowJoinBus implements EventBus {
  readonly inner = new InProcessEventBus();
  attempts = 0;
  left = 0;
  #open!: () => void;
  #gate = new Promise<void>((resolve) => {
    this.#open = resolve;
  });

  #failures: number;

  constructor(failures = 0) {
    this.#failures = failures;
  }

  letJoin(): void {
    this.#open();
  }

  publish(topic: string, events: Parameters<EventBus['publish']>[1]): Promise<void> {
    return this.inner.publish(topic, events);
  }

  async subscribe(sub: Subscription): Promise<SubscriptionHandle> {
    this.attempts++;
    await this.#gate;
    if (this.#failures > 0) {
      this.#failures--;
      throw new Error('the coordinator is moving');
    }
    const handle = await this.inner.subscribe(sub);
    return {
      group: handle.group,
      unsubscribe: async () => {
        this.left++;
        await handle.unsubscribe();
      },
    };
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

const event = (n: number) =>
  createEnvelope({
    type: 'test.item.created',
    source: 'test',
    key: 'k',
    payload: packPayload('test.v1.Item', Buffer.from([n])),
  });

async function waitFor(what: string, done: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('subscribeWhileOpen', () => {
  let app: FastifyInstance;
  let bus: SlowJoinBus;
  let handled: number[];
  const subscription = (delivery: 'shared' | 'broadcast'): Subscription => ({
    topics: ['items'],
    group: 'gateway.items',
    delivery,
    handle: async (e) => {
      handled.push(e.payload?.value[0] ?? -1);
    },
  });

  beforeEach(() => {
    app = Fastify();
    handled = [];
  });
  afterEach(async () => {
    bus.letJoin();
    await app.close();
    await bus.close();
  });

  it('a shared group joins in the background: the app is ready before the join, and nothing published meanwhile is missed', async () => {
    bus = new SlowJoinBus();
    subscribeWhileOpen(app, 'items', bus, subscription('shared'));
    await app.ready();
    expect(bus.attempts).toBe(1);
    await bus.publish('items', [event(1), event(2)]);
    expect(handled).toEqual([]);

    bus.letJoin();
    await waitFor('both events', () => handled.length === 2);
    expect(handled).toEqual([1, 2]);
    await bus.publish('items', [event(3)]);
    await waitFor('the third event', () => handled.length === 3);

    await app.close();
    expect(bus.left).toBe(1);
  });

  it('a shared join that fails is tried again until it succeeds', async () => {
    bus = new SlowJoinBus(1);
    subscribeWhileOpen(app, 'items', bus, subscription('shared'));
    await app.ready();
    bus.letJoin();
    // The first try fails; the second comes after the first pause (1 s).
    await waitFor('a second join', () => bus.attempts === 2);
    await bus.publish('items', [event(7)]);
    await waitFor('the event', () => handled.length === 1);
    expect(handled).toEqual([7]);
  });

  it('closing while a shared join is under way does not wait for it, and leaves the group once the join ends', async () => {
    bus = new SlowJoinBus();
    subscribeWhileOpen(app, 'items', bus, subscription('shared'));
    await app.ready();
    await app.close();
    expect(bus.left).toBe(0);

    bus.letJoin();
    await waitFor('the late join to be left', () => bus.left === 1);
    await bus.publish('items', [event(9)]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(handled).toEqual([]);
  });

  it('a broadcast group is joined before the app is ready: it would miss what came before its join', async () => {
    bus = new SlowJoinBus();
    subscribeWhileOpen(app, 'items', bus, subscription('broadcast'));
    let ready = false;
    const readying = app.ready().then(() => {
      ready = true;
    });
    await waitFor('the join to start', () => bus.attempts === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ready).toBe(false);

    bus.letJoin();
    await readying;
    await bus.publish('items', [event(4)]);
    await waitFor('the event', () => handled.length === 1);
    await app.close();
    expect(bus.left).toBe(1);
  });
});
