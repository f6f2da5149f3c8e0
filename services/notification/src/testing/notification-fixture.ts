// Tests only: the real notification service on a loopback port with a
// memory store and an in-process event bus, called with real tokens, pushing
// to a Web Push endpoint on loopback. Never imported by production code.
import { randomUUID } from 'node:crypto';
import { credentials, type Metadata, status } from '@grpc/grpc-js';
import { ChatSettings, Message } from '@messenger/gen/messenger/chat/v1/chat';
import { MemberSettingsChanged, MessageCreated } from '@messenger/gen/messenger/chat/v1/events';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { type Device, NotificationServiceClient } from '@messenger/gen/messenger/notification/v1/notification';
import { UserDeleted } from '@messenger/gen/messenger/user/v1/events';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import { createEnvelope, InProcessEventBus, packPayload } from '@messenger/platform/events';
import { fieldViolationsOf } from '@messenger/platform/grpc';
import { createLogger } from '@messenger/platform/logger';
import { createMetrics } from '@messenger/platform/metrics';
import { call, createTestAuth, failure } from '@messenger/platform/testing';
import { type NotificationServiceOptions, startNotificationService } from '../app.ts';
import type { PushSender } from '../domain/ports.ts';
import { NEW_MESSAGES_GROUP } from '../events/chat-events.consumer.ts';
import { USER_DELETED_GROUP } from '../events/user-deleted.consumer.ts';
import { generateVapidKeys, webPushSender } from '../push/web-push-sender.ts';
import { MemoryDeviceStore } from '../store/memory/memory-device-store.ts';
import { startWebPushEndpoint, type TestSubscription, type WebPushEndpoint } from './web-push-endpoint.ts';

export interface TestUser {
  readonly id: string;
  readonly md: Metadata;
}

export interface NotificationFixture {
  readonly client: NotificationServiceClient;
  readonly endpoint: WebPushEndpoint;
  readonly store: MemoryDeviceStore;
  readonly vapidPublicKey: string;
  newUser(): Promise<TestUser>;
  /** A new browser subscription of the user's, registered. */
  subscribe(user: TestUser): Promise<{ subscription: TestSubscription; device: Device }>;
  /** Publishes `chat.message.created` as the chat service would; returns the envelope (to publish again). */
  messageSent(
    chatId: string,
    sender: TestUser,
    members: readonly TestUser[],
    sequence: number,
    opts?: { mentioned?: readonly TestUser[]; sentAt?: Date },
  ): Promise<EventEnvelope>;
  /** Publishes `chat.member.settings_changed` as the chat service would, as of `time` (default now). */
  settingsChanged(
    chatId: string,
    member: TestUser,
    settings: Partial<ChatSettings>,
    time?: Date,
  ): Promise<EventEnvelope>;
  publish(envelope: EventEnvelope): Promise<void>;
  /** Publishes `user.user.deleted` as the user service would. */
  userDeleted(user: TestUser): Promise<void>;
  /** Stops the service: what its coalescing windows hold is pushed, and every push in flight ends. */
  stop(): Promise<void>;
  close(): Promise<void>;
}

export async function startNotificationFixture(
  opts: { options?: Partial<NotificationServiceOptions>; fcm?: PushSender } = {},
): Promise<NotificationFixture> {
  const auth = await createTestAuth();
  const bus = new InProcessEventBus();
  const catalog = await loadMessengerCatalog();
  const vapid = generateVapidKeys();
  const endpoint = await startWebPushEndpoint({ vapidPublicKey: vapid.publicKey });
  const store = new MemoryDeviceStore();
  const service = await startNotificationService(
    {
      store,
      senders: {
        webpush: webPushSender({ vapid, subject: 'mailto:ops@messenger.test' }),
        ...(opts.fcm ? { fcm: opts.fcm } : {}),
      },
      webPushPublicKey: vapid.publicKey,
      options: {
        maxDevicesPerUser: 3,
        allowLoopbackHttp: true,
        coalesceWindowMs: 0,
        baseBackoffMs: 10,
        ...opts.options,
      },
      bus,
      catalog,
      metrics: createMetrics({ defaultMetrics: false }),
      authenticator: auth.authenticator,
      logger: createLogger({ level: 'silent', service: 'notification' }),
    },
    { host: '127.0.0.1', port: 0 },
  );
  const client = new NotificationServiceClient(`127.0.0.1:${service.port}`, credentials.createInsecure());
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // What the tests published is handled before the service stops (it would otherwise wait in the bus for a later run).
    await bus.caughtUp(NEW_MESSAGES_GROUP, 'chat.events');
    await bus.caughtUp(USER_DELETED_GROUP, 'user.events');
    await service.stop(1000);
  };
  const publish = (envelope: EventEnvelope) => bus.publish('chat.events', [envelope]);
  return {
    client,
    endpoint,
    store,
    vapidPublicKey: vapid.publicKey,
    async newUser() {
      const id = randomUUID();
      return { id, md: auth.bearer(await auth.userToken(id)) };
    },
    async subscribe(user) {
      const subscription = endpoint.subscribe();
      const { device } = await call(client, client.registerDevice, { webPush: subscription }, user.md);
      if (!device) throw new Error('no device returned');
      return { subscription, device };
    },
    async messageSent(chatId, sender, members, sequence, opts = {}) {
      const envelope = createEnvelope({
        type: 'chat.message.created',
        source: 'chat',
        key: chatId,
        payload: packPayload(
          'messenger.chat.v1.MessageCreated',
          MessageCreated.encode({
            message: Message.fromPartial({
              messageId: randomUUID(),
              chatId,
              sequence: String(sequence),
              senderId: sender.id,
              text: `message ${sequence}`,
              createTime: opts.sentAt ?? new Date(),
            }),
            memberIds: members.map((m) => m.id),
            mentionedUserIds: (opts.mentioned ?? []).map((m) => m.id),
          }).finish(),
        ),
      });
      await publish(envelope);
      return envelope;
    },
    async settingsChanged(chatId, member, settings, time = new Date()) {
      const envelope = createEnvelope({
        type: 'chat.member.settings_changed',
        source: 'chat',
        key: chatId,
        time,
        payload: packPayload(
          'messenger.chat.v1.MemberSettingsChanged',
          MemberSettingsChanged.encode({
            chatId,
            userId: member.id,
            settings: ChatSettings.fromPartial(settings),
          }).finish(),
        ),
      });
      await publish(envelope);
      return envelope;
    },
    publish,
    async userDeleted(user) {
      const before = {
        userId: user.id,
        nickname: 'gone',
        avatarUrl: '',
        about: '',
        createTime: new Date(),
        updateTime: new Date(),
      };
      await bus.publish('user.events', [
        createEnvelope({
          type: 'user.user.deleted',
          source: 'user',
          key: user.id,
          payload: packPayload(
            'messenger.user.v1.UserDeleted',
            UserDeleted.encode(UserDeleted.fromPartial({ before })).finish(),
          ),
        }),
      ]);
    },
    stop,
    async close() {
      await stop();
      client.close();
      await bus.close();
      await endpoint.close();
      auth.close();
    },
  };
}

/** What `probe` finds, once it finds something; fails after about five seconds. */
export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const found = await probe();
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('condition not met in time');
}

/** The field paths of an INVALID_ARGUMENT failure. */
export async function violations(pending: Promise<unknown>): Promise<string[]> {
  const error = await failure(pending);
  expect(error.code).toBe(status.INVALID_ARGUMENT);
  return fieldViolationsOf(error).map((v) => v.field);
}

export { call, failure };
