// Presence across two chat instances, as two replicas run it: each with its
// own KafkaEventBus (librdkafka's mock cluster) and its own Redis registry
// on one real Redis. A user's stream on one replica shows them online to a
// friend whose stream another replica holds, and moving between replicas
// within the grace period tells nothing. Run under scripts/with-test-infra.sh.
import { randomUUID } from 'node:crypto';
import { credentials } from '@grpc/grpc-js';
import { ChatServiceClient, type Presence, PresenceState } from '@messenger/gen/messenger/chat/v1/chat';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import { KafkaEventBus } from '@messenger/platform/events/kafka';
import { createLogger } from '@messenger/platform/logger';
import { createMetrics } from '@messenger/platform/metrics';
import { call, concurrentJoins, createTestAuth, namespacedBus, type TestAuth } from '@messenger/platform/testing';
import { Redis } from 'ioredis';
import { type RunningService, startChatService } from '../app.ts';
import { MemoryChatStore } from '../store/memory/memory-chat-store.ts';
import { readUpdates, type UpdateReader } from '../testing/chat-test-system.ts';
import { RedisPresenceRegistry } from './redis-presence-registry.ts';

const { KAFKA_BROKERS, REDIS_URL } = process.env;
if (!KAFKA_BROKERS || !REDIS_URL) {
  throw new Error('KAFKA_BROKERS and REDIS_URL must be set: run under scripts/with-test-infra.sh.');
}

// What librdkafka's mock cluster cannot do (idempotence, createTopics), and quick joins.
const mockSettings = {
  idempotentProducer: false,
  createTopics: false,
  sessionTimeoutMs: 3000,
  rebalanceTimeoutMs: 3000,
  heartbeatIntervalMs: 300,
  maxWaitTimeInMs: 100,
} as const;

const namespace = `test-chat-presence-${randomUUID().slice(0, 8)}`;

interface Instance {
  readonly bus: KafkaEventBus;
  readonly running: RunningService;
  readonly client: ChatServiceClient;
}

describe('presence across chat replicas', () => {
  let auth: TestAuth;
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const instances: Instance[] = [];
  const readers: UpdateReader[] = [];
  const friendsOf = new Map<string, string[]>();

  beforeAll(async () => {
    await redis.connect();
    auth = await createTestAuth();
    const catalog = await loadMessengerCatalog();
    const store = new MemoryChatStore();
    const keyPrefix = `test:presence:${randomUUID()}:`;
    const start = async (name: string): Promise<Instance> => {
      const bus = new KafkaEventBus({ brokers: KAFKA_BROKERS.split(','), clientId: name, ...mockSettings });
      await bus.connect();
      // Topics and groups of this file's own, so that files running in parallel on the
      // cluster never meet; the instance's consumers join at once, not one ~3 s first
      // join after another.
      const joining = concurrentJoins(namespacedBus(bus, namespace));
      const running = await startChatService(
        {
          store,
          users: { getProfiles: async () => new Map() },
          friends: {
            relation: async (a, b) => ({ friends: friendsOf.get(a)?.includes(b) ?? false, blocked: false }),
            friendIds: async (id) => friendsOf.get(id) ?? [],
          },
          bus: joining.bus,
          catalog,
          metrics: createMetrics({ defaultMetrics: false }),
          logger: createLogger({ level: 'silent', service: name }),
          authenticator: auth.authenticator,
          options: { heartbeatIntervalMs: 50, presenceGraceMs: 1500 },
          presence: new RedisPresenceRegistry({ redis, keyPrefix }),
        },
        { host: '127.0.0.1', port: 0 },
      );
      await joining.joined();
      return {
        bus,
        running,
        client: new ChatServiceClient(`127.0.0.1:${running.port}`, credentials.createInsecure()),
      };
    };
    // Joined at once: the mock takes a few seconds for each first join.
    instances.push(...(await Promise.all([start('chat-a'), start('chat-b')])));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(readers.map((r) => r.cancel()));
    for (const i of instances) {
      i.client.close();
      await i.running.stop(1000);
      await i.bus.close();
    }
    auth.close();
    await redis.quit();
  }, 60_000);

  const friends = async () => {
    const [ann, bob] = [randomUUID(), randomUUID()];
    friendsOf.set(ann, [bob]);
    friendsOf.set(bob, [ann]);
    return {
      ann: { id: ann, md: auth.bearer(await auth.userToken(ann)) },
      bob: { id: bob, md: auth.bearer(await auth.userToken(bob)) },
    };
  };
  const open = async (via: Instance, md: ReturnType<TestAuth['bearer']>) => {
    const reader = await readUpdates(via.client, md).ready();
    readers.push(reader);
    return reader;
  };
  const statesOf = (reader: UpdateReader, userId: string) =>
    reader.updates.flatMap((u) => (u.presence?.userId === userId ? [u.presence.state] : []));

  it('shows a user online to a friend on another replica, and a move between replicas within the grace tells nothing', async () => {
    const [a, b] = instances as [Instance, Instance];
    const { ann, bob } = await friends();
    const bobs = await open(b, bob.md);
    const onA = await open(a, ann.md);
    await bobs.until(() => statesOf(bobs, ann.id).length === 1, 15_000);
    const asked = await call(b.client, b.client.getPresence, { userIds: [ann.id] }, bob.md);
    expect(asked.presences).toEqual([
      { userId: ann.id, state: PresenceState.PRESENCE_STATE_ONLINE, lastSeenTime: undefined },
    ]);

    await onA.cancel();
    const onB = await open(b, ann.md);
    await onB.cancel();
    await bobs.until(() => statesOf(bobs, ann.id).length === 2, 15_000);
    expect(statesOf(bobs, ann.id)).toEqual([PresenceState.PRESENCE_STATE_ONLINE, PresenceState.PRESENCE_STATE_OFFLINE]);
    const offline = bobs.updates.findLast((u) => u.presence?.userId === ann.id)?.presence as Presence;
    const after = await call(a.client, a.client.getPresence, { userIds: [ann.id] }, bob.md);
    expect(after.presences).toEqual([offline]);
    expect(offline.lastSeenTime).toBeInstanceOf(Date);
  }, 60_000);
});
