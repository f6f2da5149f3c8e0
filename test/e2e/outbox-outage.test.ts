// No event is lost while Kafka is unreachable: the user service
// publishes through its transactional outbox and relay to a KafkaEventBus
// whose only way to the broker is a TCP proxy this test cuts and restores.
// Changes made meanwhile wait in the outbox and all arrive, in order per key,
// once the broker is reachable again. Runs under scripts/with-test-infra.sh.
import { randomUUID } from 'node:crypto';
import { credentials } from '@grpc/grpc-js';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { UserUpdated } from '@messenger/gen/messenger/user/v1/events';
import { UserServiceClient } from '@messenger/gen/messenger/user/v1/user';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import type { EventBus, SubscriptionHandle } from '@messenger/platform/events';
import { KafkaEventBus } from '@messenger/platform/events/kafka';
import { createLogger } from '@messenger/platform/logger';
import { createMetrics } from '@messenger/platform/metrics';
import { call, createTestAuth, namespacedBus, type TestAuth } from '@messenger/platform/testing';
import { MemoryUserStore, type RunningService, startUserService } from '@messenger/user';
import { kafkaBrokers, MOCK_SETTINGS, mockKafkaBus, silentLog, testNamespace } from './support/kafka.ts';
import { type KafkaProxy, startKafkaProxy } from './support/kafka-proxy.ts';
import { waitFor } from './support/wait.ts';

describe('outbox relay across a Kafka outage', () => {
  const namespace = testNamespace('outage');
  let proxy: KafkaProxy;
  let producerBus: EventBus;
  let observerBus: EventBus;
  let observer: SubscriptionHandle;
  let auth: TestAuth;
  let store: MemoryUserStore;
  let service: RunningService;
  let client: UserServiceClient;
  /** Everything that reached Kafka's `user.events`, in arrival order. */
  const seen: EventEnvelope[] = [];
  /** The user service's warnings: the relay's failed publishes. */
  const warnings: string[] = [];

  beforeAll(async () => {
    const [broker] = kafkaBrokers();
    if (broker === undefined) throw new Error('KAFKA_BROKERS names no broker');
    proxy = await startKafkaProxy(broker);
    // Quick to give up, so the outage shows as failed publishes the relay retries.
    producerBus = namespacedBus(
      new KafkaEventBus({
        brokers: [proxy.address],
        clientId: 'e2e-outage-user',
        log: silentLog,
        ...MOCK_SETTINGS,
        connectionTimeoutMs: 500,
        requestTimeoutMs: 3000,
        brokerRetry: { retries: 1, initialRetryTime: 100, maxRetryTime: 300 },
      }),
      namespace,
    );
    observerBus = namespacedBus(mockKafkaBus('e2e-outage-observer'), namespace);
    observer = await observerBus.subscribe({
      topics: ['user.events'],
      group: 'observer',
      delivery: 'shared',
      handle: async (event) => {
        seen.push(event);
      },
    });
    auth = await createTestAuth();
    store = new MemoryUserStore();
    service = await startUserService(
      {
        store,
        bus: producerBus,
        logger: createLogger({ level: 'warn', service: 'user', destination: { write: (line) => warnings.push(line) } }),
        metrics: createMetrics({ defaultMetrics: false }),
        catalog: await loadMessengerCatalog(),
        authenticator: auth.authenticator,
      },
      { host: '127.0.0.1', port: 0 },
    );
    client = new UserServiceClient(`127.0.0.1:${service.port}`, credentials.createInsecure());
  }, 30_000);

  afterAll(async () => {
    client?.close();
    await service?.stop(1000);
    await observer?.unsubscribe();
    await Promise.all([producerBus?.close(), observerBus?.close()]);
    await proxy?.stop();
    auth?.close();
  }, 30_000);

  const createUser = async () => {
    const userId = randomUUID();
    const nickname = `outage_${userId.slice(0, 8)}`;
    await call(client, client.createUser, { userId, nickname }, auth.bearer(await auth.serviceToken('auth')));
    return userId;
  };
  const setAbout = async (userId: string, about: string) =>
    call(
      client,
      client.updateUser,
      {
        userId,
        user: { userId: '', nickname: '', about, avatarUrl: '', createTime: undefined, updateTime: undefined },
        updateMask: ['about'],
      },
      auth.bearer(await auth.userToken(userId)),
    );
  const deleteUser = async (userId: string) =>
    call(client, client.deleteUser, { userId }, auth.bearer(await auth.userToken(userId)));
  const seenIds = (key: string) => [...new Set(seen.filter((e) => e.key === key).map((e) => e.id))];

  it('keeps the events of changes made while Kafka is unreachable and publishes all of them, in order per key, once it is back', async () => {
    // Kafka reachable: the path works, through the proxy.
    const users = [await createUser(), await createUser(), await createUser()];
    await waitFor('the user.user.created events', () => users.every((u) => seenIds(u).length === 1));
    expect(proxy.connections).toBeGreaterThan(0);
    await waitFor('an empty outbox', () => store.outbox.size === 0);

    // Kafka unreachable: changes still succeed; their events wait in the outbox.
    await proxy.stop();
    const [ann, bob, cat] = users as [string, string, string];
    for (const round of [1, 2, 3]) {
      for (const user of users) await setAbout(user, `${user.slice(0, 4)} round ${round}`);
    }
    await deleteUser(cat);
    const dan = await createUser();
    await setAbout(dan, 'born during the outage');
    const waiting = (await store.outbox.pendingEvents(1000)).map((e) => e.envelope);
    expect(waiting).toHaveLength(3 * 3 + 1 + 2);
    // The relay tries, fails and keeps the events.
    await waitFor('failed publishes', () => warnings.filter((w) => w.includes('outbox publish failed')).length >= 2);
    await new Promise((r) => setTimeout(r, 1000));
    expect(store.outbox.size).toBe(waiting.length);
    expect(seen.filter((e) => waiting.some((w) => w.id === e.id))).toEqual([]);

    // Kafka reachable again, on the same address: every waiting event arrives.
    const address = proxy.address;
    await proxy.start();
    expect(proxy.address).toBe(address);
    await waitFor('every event of the outage', () => waiting.every((w) => seen.some((e) => e.id === w.id)), 30_000);
    await waitFor('an empty outbox', () => store.outbox.size === 0);

    for (const key of [ann, bob, cat, dan]) {
      // Per key, the order they were written in (after the events from before the outage).
      const written = waiting.filter((w) => w.key === key).map((w) => w.id);
      expect(seenIds(key).slice(-written.length)).toEqual(written);
    }
    // Each arrived once: no attempt made during the outage reached the broker.
    // (A relay may publish an event twice, e.g. after a crash; consumers dedupe.)
    expect(seen.filter((e) => waiting.some((w) => w.id === e.id))).toHaveLength(waiting.length);
    const abouts = seen
      .filter((e) => e.key === bob && e.type === 'user.user.updated' && e.payload)
      .map((e) => UserUpdated.decode(e.payload?.value ?? new Uint8Array()).after?.about);
    expect(abouts).toEqual([1, 2, 3].map((round) => `${bob.slice(0, 4)} round ${round}`));
    expect(seen.filter((e) => e.key === cat).map((e) => e.type)).toEqual([
      'user.user.created',
      'user.user.updated',
      'user.user.updated',
      'user.user.updated',
      'user.user.deleted',
    ]);
    expect(seen.filter((e) => e.key === dan).map((e) => e.type)).toEqual(['user.user.created', 'user.user.updated']);
  }, 60_000);
});
