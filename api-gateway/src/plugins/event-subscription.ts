import { setTimeout as sleep } from 'node:timers/promises';
import type { EventBus, Subscription, SubscriptionHandle } from '@messenger/platform/events';
import type { FastifyInstance } from 'fastify';

/** Pause after a failed background join, doubled per failure up to the maximum. */
const REJOIN_FIRST_MS = 1000;
const REJOIN_MAX_MS = 30_000;

/**
 * Subscribes once the app is ready (a start-up that fails leaves nothing
 * subscribed) and unsubscribes when it closes (before the onClose hooks
 * added earlier: Fastify runs them last-added first). A failed unsubscribe
 * is logged, and closing goes on.
 *
 * When the app is ready depends on the delivery:
 * - broadcast: the group starts at the end of each partition as of its join,
 *   so the app waits for the join; an event published before it would be
 *   missed otherwise (a revocation, say).
 * - shared: the group resumes from its committed offsets, so nothing is
 *   missed while it joins, and joining can take a whole rebalance of the
 *   group when other replicas or workers join at the same time (up to the
 *   bus's session timeout, longer than a start-up may take). It joins in the
 *   background, trying again after a failure until the app closes.
 */
export function subscribeWhileOpen(app: FastifyInstance, name: string, bus: EventBus, sub: Subscription): void {
  let subscription: SubscriptionHandle | undefined;
  const closed = new AbortController();

  const leave = (handle: SubscriptionHandle) =>
    handle.unsubscribe().catch((err: unknown) => app.log.warn({ err }, `${name}: unsubscribe failed`));
  const joinUntilClosed = async () => {
    for (let pause = REJOIN_FIRST_MS; !closed.signal.aborted; pause = Math.min(pause * 2, REJOIN_MAX_MS)) {
      try {
        const joined = await bus.subscribe(sub);
        // Closed while joining: leave at once (closing the bus would too).
        if (closed.signal.aborted) await leave(joined);
        else subscription = joined;
        return;
      } catch (err) {
        if (closed.signal.aborted) return;
        app.log.error({ err, group: sub.group, retryInMs: pause }, `${name}: joining failed; trying again`);
        // Cut short by closing (the rejection ends the wait, and the loop with it).
        await sleep(pause, undefined, { signal: closed.signal, ref: false }).catch(() => {});
      }
    }
  };

  app.addHook('onReady', async () => {
    if (sub.delivery === 'broadcast') subscription = await bus.subscribe(sub);
    else void joinUntilClosed();
  });
  app.addHook('onClose', async () => {
    // A join still under way is not waited for: it may take a rebalance.
    closed.abort();
    if (subscription) await leave(subscription);
  });
}
