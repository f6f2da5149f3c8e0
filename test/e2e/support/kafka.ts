// The Kafka side of the whole-system tests: the mock cluster that
// scripts/with-test-infra.sh starts (KAFKA_BROKERS), settings that suit it,
// and a per-file namespace so that test files sharing it never share topics
// or consumer groups.
import { randomUUID } from 'node:crypto';
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
