// The Kafka side of the whole-system tests: the mock cluster that
// scripts/with-test-infra.sh starts (KAFKA_BROKERS), settings that suit it,
// and a per-file namespace so that test files sharing it never share topics
// or consumer groups.
import { randomUUID } from 'node:crypto';
import type { EventBus, Subscription } from '@messenger/platform/events';
import { KafkaEventBus, type KafkaEventBusOptions } from '@messenger/platform/events/kafka';
import { createLogger, type Logger } from '@messenger/platform/logger';

export function kafkaBrokers(): string[] {
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) {
    throw new Error(
      'KAFKA_BROKERS is not set: run the whole-system tests under scripts/with-test-infra.sh, ' +
        'e.g. `scripts/with-test-infra.sh npm test -- test/e2e` (make test does).',
    );
  }
  return brokers.split(',');
}

export const silentLog: Logger = createLogger({ level: 'silent', service: 'e2e' });

/**
 * The mock refuses the idempotent producer and admin createTopics (it creates
 * topics on first use, 4 partitions), holds a rebalance for about
 * sessionTimeout − 1 s and a first join for ~3 s: short timeouts keep tests
 * quick.
 */
export const MOCK_SETTINGS = {
  idempotentProducer: false,
  createTopics: false,
  sessionTimeoutMs: 3000,
  rebalanceTimeoutMs: 3000,
  heartbeatIntervalMs: 300,
  maxWaitTimeInMs: 100,
} as const satisfies Partial<KafkaEventBusOptions>;

export function mockKafkaBus(clientId: string, overrides: Partial<KafkaEventBusOptions> = {}): KafkaEventBus {
  return new KafkaEventBus({ brokers: kafkaBrokers(), clientId, log: silentLog, ...MOCK_SETTINGS, ...overrides });
}

/** A fresh namespace, e.g. `e2e-1a2b3c4d`, for `namespacedBus`. */
export function testNamespace(name: string): string {
  return `e2e-${name}-${randomUUID().slice(0, 8)}`;
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
