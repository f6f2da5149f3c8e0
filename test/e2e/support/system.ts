// The whole system (startSystem: every service and the gateway, real gRPC on
// loopback) with its events on the Kafka mock cluster, under a namespace of
// its own, plus an observer that records every event on the system's topics.

import { ANY_FREE_PORTS, loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import type { EventBus, SubscriptionHandle } from '@messenger/platform/events';
import type { KafkaEventBusOptions } from '@messenger/platform/events/kafka';
import { concurrentJoins, freePort, namespacedBus } from '@messenger/platform/testing';
import { Kafka, logLevel } from 'kafkajs';
import { Gateway } from './http.ts';
import { kafkaBrokers, mockKafkaBus, silentLog, testNamespace } from './kafka.ts';
import { waitFor } from './wait.ts';

export interface KafkaSystem {
  readonly system: RunningSystem;
  readonly gateway: Gateway;
  /** The bus the system runs on (namespaced), for publishing test events. */
  readonly bus: EventBus;
  readonly namespace: string;
  /** Every event on `topics` since start, in arrival order. */
  readonly events: EventEnvelope[];
  /** Resolves once `group` has committed every event of `topic` published so far. */
  caughtUp(group: string, topic: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Settings for the embedded system: free ports, data in memory (each test its
 * own), quiet logs, generous credential rate limits, and the cheapest
 * password hashing allowed (scrypt at production cost takes ~0.6 s of CPU
 * per registration or sign-in, which the suites do hundreds of times).
 */
export const SYSTEM_ENV = {
  EMBEDDED_STORAGE: 'memory',
  ...ANY_FREE_PORTS,
  LOG_LEVEL: 'silent',
  GATEWAY_RATE_LIMIT_STRICT_PER_MINUTE: '1000',
  AUTH_SCRYPT_LOG_N: '10',
} as const;

/**
 * `systemBus` gives the system a bus of its own (e.g. through a proxy to the
 * brokers) while the observer keeps reading the brokers directly.
 */
export async function startKafkaSystem(
  name: string,
  topics: readonly string[],
  systemBus?: Partial<KafkaEventBusOptions>,
): Promise<KafkaSystem> {
  const namespace = testNamespace(name);
  const bus = namespacedBus(mockKafkaBus(`e2e-${name}`), namespace);
  const ownBus = systemBus ? namespacedBus(mockKafkaBus(`e2e-${name}-system`, systemBus), namespace) : undefined;
  const joining = concurrentJoins(ownBus ?? bus);
  const events: EventEnvelope[] = [];
  let observer: SubscriptionHandle | undefined;
  let system: RunningSystem | undefined;
  const admin = new Kafka({
    clientId: `e2e-${name}-admin`,
    brokers: kafkaBrokers(),
    logLevel: logLevel.NOTHING,
  }).admin();
  try {
    // The observer and every consumer of the system join at the same time: each first join costs the mock ~3 s.
    [observer, system] = await Promise.all([
      bus.subscribe({
        topics,
        group: 'e2e-observer',
        delivery: 'broadcast',
        handle: async (event) => {
          events.push(event);
        },
      }),
      // METRICS_PORT 0 means off, not "any port": a free one is picked here.
      startSystem(loadEmbeddedConfig({ ...SYSTEM_ENV, METRICS_PORT: String(await freePort()) }), {
        bus: joining.bus,
        logger: silentLog,
      }),
    ]);
    await joining.joined();
    await admin.connect();
  } catch (error) {
    await system?.stop();
    await observer?.unsubscribe();
    await bus.close();
    await ownBus?.close();
    await admin.disconnect();
    throw error;
  }
  const running = system;
  const watching = observer;
  return {
    system: running,
    gateway: new Gateway(running.gatewayUrl, running.metricsUrl),
    bus: ownBus ?? bus,
    namespace,
    events,
    async caughtUp(group, topic) {
      const name = `${namespace}.${topic}`;
      const ends = await admin.fetchTopicOffsets(name);
      await waitFor(`${group} to commit ${topic}`, async () => {
        const [committed] = await admin.fetchOffsets({ groupId: `${namespace}.${group}`, topics: [name] });
        return ends.every((end) => {
          const at = committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
          return Number(end.high) === 0 || Number(at) >= Number(end.high);
        });
      });
    },
    async stop() {
      await watching.unsubscribe();
      // Closes the system's bus too.
      await running.stop();
      await bus.close();
      await admin.disconnect();
    },
  };
}
