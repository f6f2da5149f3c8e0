// Two chat instances, each with its own KafkaEventBus (as two processes would
// have) against librdkafka's mock cluster, sharing one store: a message sent
// through one reaches a stream held by the other, and a stream resumes on
// either. Run under scripts/with-test-infra.sh (make test does).
import { randomUUID } from 'node:crypto';
import { credentials } from '@grpc/grpc-js';
import { type Chat, ChatServiceClient, ChatType, type Message } from '@messenger/gen/messenger/chat/v1/chat';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import { KafkaEventBus } from '@messenger/platform/events/kafka';
import { createLogger } from '@messenger/platform/logger';
import { createMetrics } from '@messenger/platform/metrics';
import { call, concurrentJoins, createTestAuth, namespacedBus, type TestAuth } from '@messenger/platform/testing';
import { type RunningService, startChatService } from '../app.ts';
import type { Profile } from '../domain/chat.ts';
import { MemoryChatStore } from '../store/memory/memory-chat-store.ts';
import { readUpdates, type UpdateReader } from '../testing/chat-test-system.ts';

const brokersEnv = process.env.KAFKA_BROKERS;
if (!brokersEnv) {
  throw new Error(
    'KAFKA_BROKERS is not set. Run the tests under scripts/with-test-infra.sh, e.g. ' +
      '`scripts/with-test-infra.sh npm test -- services/chat` (after scripts/install-test-deps.sh).',
  );
}
const brokers = brokersEnv.split(',');

// What librdkafka's mock cluster cannot do: no idempotent producer, no admin
// createTopics; and short session timeouts so joins stay quick.
const mockSettings = {
  idempotentProducer: false,
  createTopics: false,
  sessionTimeoutMs: 3000,
  rebalanceTimeoutMs: 3000,
  heartbeatIntervalMs: 300,
  maxWaitTimeInMs: 100,
} as const;

const namespace = `test-chat-stream-updates-${randomUUID().slice(0, 8)}`;

interface Instance {
  readonly bus: KafkaEventBus;
  readonly running: RunningService;
  readonly client: ChatServiceClient;
}

describe('chat instances on Kafka', () => {
  let auth: TestAuth;
  const instances: Instance[] = [];
  const readers: UpdateReader[] = [];

  beforeAll(async () => {
    auth = await createTestAuth();
    const catalog = await loadMessengerCatalog();
    const store = new MemoryChatStore();
    const start = async (name: string): Promise<Instance> => {
      const bus = new KafkaEventBus({ brokers, clientId: name, ...mockSettings });
      await bus.connect();
      // Topics and groups of this file's own, so that files running in parallel on the
      // cluster never meet; the instance's consumers join at once, not one ~3 s first
      // join after another.
      const joining = concurrentJoins(namespacedBus(bus, namespace));
      const running = await startChatService(
        {
          store,
          // Everyone exists and everyone is friends: this suite is about delivery.
          users: {
            getProfiles: async (ids) =>
              new Map(
                ids.map((id): [string, Profile] => [
                  id,
                  { userId: id, nickname: `n${id.slice(0, 6)}`, avatarUrl: '', updateTime: undefined },
                ]),
              ),
          },
          friends: { relation: async () => ({ friends: true, blocked: false }), friendIds: async () => [] },
          bus: joining.bus,
          catalog,
          metrics: createMetrics({ defaultMetrics: false }),
          logger: createLogger({ level: 'silent', service: name }),
          authenticator: auth.authenticator,
          options: { heartbeatIntervalMs: 50, relayPollIntervalMs: 50 },
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
  }, 60_000);

  const user = async () => {
    const id = randomUUID();
    return { id, md: auth.bearer(await auth.userToken(id)) };
  };
  const texts = (reader: UpdateReader) =>
    reader
      .content()
      .flatMap((u) => (u.messageCreated ? [u.messageCreated] : []))
      .map((m: Message) => m.text);

  it('delivers a message sent through one instance to a stream held by the other, and resumes on either', async () => {
    const [a, b] = instances as [Instance, Instance];
    const [alice, bob] = [await user(), await user()];
    const chat = (
      await call(
        a.client,
        a.client.createChat,
        { type: ChatType.CHAT_TYPE_GROUP, memberIds: [bob.id], title: 'kafka' },
        alice.md,
      )
    ).chat as Chat;
    const send = (via: Instance, text: string) =>
      call(
        via.client,
        via.client.sendMessage,
        { chatId: chat.chatId, clientMessageId: randomUUID(), text, replyToMessageId: '', attachmentIds: [] },
        alice.md,
      );

    const onB = readUpdates(b.client, bob.md);
    readers.push(onB);
    await onB.ready();
    for (let i = 1; i <= 5; i++) await send(i % 2 ? a : b, `k${i}`);
    await onB.until((u) => u.filter((x) => x.messageCreated).length === 5, 15_000);
    expect(texts(onB)).toEqual(['k1', 'k2', 'k3', 'k4', 'k5']);

    const cursor = onB.content().at(-1)?.updateId ?? '';
    await onB.cancel();
    await send(a, 'k6');
    await send(b, 'k7');
    for (const via of [a, b]) {
      const resumed = readUpdates(via.client, bob.md, cursor);
      readers.push(resumed);
      await resumed.until((u) => u.filter((x) => x.messageCreated).length >= 2, 15_000);
      await new Promise((r) => setTimeout(r, 200));
      expect(texts(resumed)).toEqual(['k6', 'k7']);
    }
  }, 60_000);

  it('tells a member whose stream the other instance holds that someone read, through chat.ephemeral', async () => {
    const [a, b] = instances as [Instance, Instance];
    const [alice, bob] = [await user(), await user()];
    const chat = (
      await call(
        a.client,
        a.client.createChat,
        { type: ChatType.CHAT_TYPE_GROUP, memberIds: [alice.id], title: 'receipts' },
        bob.md,
      )
    ).chat as Chat;
    await call(
      a.client,
      a.client.sendMessage,
      { chatId: chat.chatId, clientMessageId: randomUUID(), text: 'read me', replyToMessageId: '', attachmentIds: [] },
      bob.md,
    );
    const onB = readUpdates(b.client, bob.md);
    readers.push(onB);
    await onB.ready();

    await call(a.client, a.client.markRead, { chatId: chat.chatId, upToSequence: '1' }, alice.md);
    await onB.until((u) => u.some((x) => x.readReceipt), 15_000);
    expect(onB.content().flatMap((u) => (u.readReceipt ? [u.readReceipt] : []))).toEqual([
      { chatId: chat.chatId, userId: alice.id, readSequence: '1' },
    ]);
  }, 60_000);
});
