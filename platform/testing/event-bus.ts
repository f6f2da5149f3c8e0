// Event buses for tests that share one Kafka cluster: names of their own, and
// services started without waiting out each consumer group's first join in turn.
import type { EventBus, Subscription, SubscriptionHandle } from '@messenger/platform/events';

/**
 * A bus whose subscribe() starts the join and answers at once; `joined()`
 * resolves once every join started so far has completed, and rejects with
 * the first that failed. A service subscribes its consumers one after
 * another while starting, and each first join of a group holds librdkafka's
 * mock cluster for ~3 s: through this bus they all join at the same time.
 * Whoever starts services on it awaits `joined()` before using them, so
 * their consumers are in their groups (broadcast ones at their starting
 * positions) as they would be had each subscribe() waited.
 */
export function concurrentJoins(inner: EventBus): { readonly bus: EventBus; joined(): Promise<void> } {
  const joins: Promise<SubscriptionHandle>[] = [];
  return {
    bus: {
      publish: (topic, events) => inner.publish(topic, events),
      async subscribe(sub: Subscription) {
        const join = inner.subscribe(sub);
        joins.push(join);
        let joinedGroup: string | undefined;
        // A failed join surfaces through joined(), not as an unhandled rejection.
        join.then(
          (handle) => {
            joinedGroup = handle.group;
          },
          () => {},
        );
        return {
          get group() {
            if (joinedGroup === undefined) throw new Error(`${sub.group}: not joined yet`);
            return joinedGroup;
          },
          async unsubscribe() {
            const handle = await join.catch(() => undefined);
            await handle?.unsubscribe();
          },
        };
      },
      close: () => inner.close(),
    },
    async joined() {
      await Promise.all(joins);
    },
  };
}

/**
 * The same bus with every topic and group name prefixed by `<namespace>.`:
 * the system under test publishes to `user.events` and joins
 * `auth.user-events` as in production, while on the shared mock cluster
 * those are `<namespace>.user.events` and `<namespace>.auth.user-events`, so
 * test files running in parallel (and their shared groups) never meet.
 * Handlers see the topic names unprefixed.
 */
export function namespacedBus(inner: EventBus, namespace: string): EventBus {
  const prefix = `${namespace}.`;
  const outer = (topic: string) => `${prefix}${topic}`;
  const unprefixed = (topic: string) => (topic.startsWith(prefix) ? topic.slice(prefix.length) : topic);
  return {
    publish: (topic, events) => inner.publish(outer(topic), events),
    async subscribe(sub: Subscription) {
      const handle = await inner.subscribe({
        topics: sub.topics.map(outer),
        group: outer(sub.group),
        delivery: sub.delivery,
        ...(sub.retry ? { retry: sub.retry } : {}),
        handle: (event, meta) =>
          sub.handle(event, {
            ...meta,
            topic: unprefixed(meta.topic),
            ...(meta.deadLetter
              ? { deadLetter: { ...meta.deadLetter, topic: unprefixed(meta.deadLetter.topic) } }
              : {}),
          }),
      });
      return { group: handle.group.slice(prefix.length), unsubscribe: () => handle.unsubscribe() };
    },
    close: () => inner.close(),
  };
}
