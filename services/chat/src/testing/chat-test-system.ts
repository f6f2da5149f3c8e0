// Test harness (not a test): the real user, subscriber and chat services on
// loopback ports, sharing one in-process event bus, called with real tokens.
import { randomUUID } from 'node:crypto';
import { type ClientReadableStream, credentials, type Metadata } from '@grpc/grpc-js';
import { ChatServiceClient, type StreamUpdatesResponse, type Update } from '@messenger/gen/messenger/chat/v1/chat';
import { SubscriberServiceClient } from '@messenger/gen/messenger/subscriber/v1/subscriber';
import { UserServiceClient } from '@messenger/gen/messenger/user/v1/user';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import { type EventBus, InProcessEventBus } from '@messenger/platform/events';
import { type ClientPool, createClientPool } from '@messenger/platform/grpc';
import { createLogger } from '@messenger/platform/logger';
import { createMetrics } from '@messenger/platform/metrics';
import { call, createTestAuth, type TestAuth } from '@messenger/platform/testing';
import {
  MemoryFriendshipStore,
  type RunningService as RunningSubscriber,
  startSubscriberService,
  grpcUserDirectory as subscriberUserDirectory,
} from '@messenger/subscriber';
import { MemoryUserStore, type RunningService as RunningUser, startUserService } from '@messenger/user';
import { type ChatServiceOptions, type RunningService, startChatService } from '../app.ts';
import { grpcFriendshipChecker } from '../clients/friendship-checker.client.ts';
import { grpcUserProfiles } from '../clients/user-profiles.client.ts';
import type { ChatStore } from '../store/chat-store.ts';
import { MemoryChatStore } from '../store/memory/memory-chat-store.ts';

export interface TestUser {
  readonly id: string;
  readonly nickname: string;
  readonly md: Metadata;
}

export interface ChatInstance {
  readonly running: RunningService;
  readonly client: ChatServiceClient;
}

export interface ChatTestSystem {
  readonly auth: TestAuth;
  readonly bus: EventBus;
  readonly store: ChatStore;
  readonly users: UserServiceClient;
  readonly friends: SubscriberServiceClient;
  /** Chat instances sharing the store and the bus; `chat[0]` is the default one. */
  readonly chat: ChatInstance[];
  readonly client: ChatServiceClient;
  /** Starts one more chat instance on the same store and bus. */
  addChatInstance(): Promise<ChatInstance>;
  newUser(): Promise<TestUser>;
  /** Makes the two friends; a pair already made friends here is left as it is. */
  befriend(a: TestUser, b: TestUser): Promise<void>;
  stop(): Promise<void>;
}

export async function startChatTestSystem(options: ChatServiceOptions = {}): Promise<ChatTestSystem> {
  const auth = await createTestAuth();
  const bus = new InProcessEventBus();
  const catalog = await loadMessengerCatalog();
  const metrics = createMetrics({ defaultMetrics: false });
  const common = { bus, catalog, metrics, authenticator: auth.authenticator };
  const silent = (service: string) => createLogger({ level: 'silent', service });
  const pool: ClientPool = createClientPool({ catalog, metrics, defaultDeadlineMs: 5000 });
  const userService: RunningUser = await startUserService(
    { ...common, store: new MemoryUserStore(), logger: silent('user') },
    { host: '127.0.0.1', port: 0 },
  );
  const userAddress = `127.0.0.1:${userService.port}`;
  const subscriber: RunningSubscriber = await startSubscriberService(
    {
      ...common,
      store: new MemoryFriendshipStore(),
      users: subscriberUserDirectory({ pool, address: userAddress, tokens: auth.serviceTokenSource('subscriber') }),
      logger: silent('subscriber'),
    },
    { host: '127.0.0.1', port: 0 },
  );
  const store = new MemoryChatStore();
  const tokens = auth.serviceTokenSource('chat');
  const chat: ChatInstance[] = [];
  const addChatInstance = async () => {
    const running = await startChatService(
      {
        ...common,
        store,
        users: grpcUserProfiles({ pool, address: userAddress, tokens }),
        friends: grpcFriendshipChecker({ pool, address: `127.0.0.1:${subscriber.port}`, tokens }),
        logger: silent('chat'),
        options,
      },
      { host: '127.0.0.1', port: 0 },
    );
    const instance = {
      running,
      client: new ChatServiceClient(`127.0.0.1:${running.port}`, credentials.createInsecure()),
    };
    chat.push(instance);
    return instance;
  };
  await addChatInstance();
  const users = new UserServiceClient(userAddress, credentials.createInsecure());
  const friends = new SubscriberServiceClient(`127.0.0.1:${subscriber.port}`, credentials.createInsecure());
  const asAuth = auth.bearer(await auth.serviceToken('auth'));
  let seq = 0;
  const befriended = new Set<string>();

  return {
    auth,
    bus,
    store,
    users,
    friends,
    chat,
    client: (chat[0] as ChatInstance).client,
    addChatInstance,
    async newUser() {
      const id = randomUUID();
      const nickname = `u${++seq}_${id.slice(0, 8)}`;
      await call(users, users.createUser, { userId: id, nickname }, asAuth);
      return { id, nickname, md: auth.bearer(await auth.userToken(id)) };
    },
    async befriend(a, b) {
      const pair = [a.id, b.id].sort().join(':');
      if (befriended.has(pair)) return;
      befriended.add(pair);
      await call(friends, friends.makeFriend, { userId: b.id }, a.md);
      await call(friends, friends.confirmFriend, { userId: a.id }, b.md);
    },
    async stop() {
      for (const c of chat) c.client.close();
      users.close();
      friends.close();
      for (const c of chat) await c.running.stop(1000);
      await subscriber.stop(1000);
      await userService.stop(1000);
      pool.close();
      await bus.close();
      auth.close();
    },
  };
}

/** An open StreamUpdates call with what it received so far. */
export interface UpdateReader {
  readonly call: ClientReadableStream<StreamUpdatesResponse>;
  readonly updates: Update[];
  /** Updates other than heartbeats and presence changes (those follow streams opening and closing, not chats). */
  readonly content: () => Update[];
  /** Resolves once `predicate` holds for what was received (polling), or rejects after `timeoutMs`. */
  until(predicate: (content: Update[]) => boolean, timeoutMs?: number): Promise<Update[]>;
  /** Resolves once the stream is registered on the server: its first heartbeat came (set a short interval). */
  ready(): Promise<UpdateReader>;
  /** Resolves with the status the call ended with. */
  readonly ended: Promise<{ code: number; details: string }>;
  cancel(): Promise<void>;
}

export function readUpdates(client: ChatServiceClient, md: Metadata, resumeAfter = ''): UpdateReader {
  const stream = client.streamUpdates({ resumeAfter }, md);
  const updates: Update[] = [];
  stream.on('data', (res: StreamUpdatesResponse) => {
    if (res.update) updates.push(res.update);
  });
  const ended = new Promise<{ code: number; details: string }>((resolve) => {
    stream.on('status', (s) => resolve({ code: s.code, details: s.details }));
  });
  stream.on('error', () => {});
  const content = () => updates.filter((u) => !u.heartbeat && !u.presence);
  const reader: UpdateReader = {
    call: stream,
    updates,
    content,
    async until(predicate, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(content())) {
        if (Date.now() > deadline) {
          throw new Error(`stream condition not met in ${timeoutMs} ms; got ${JSON.stringify(content(), null, 1)}`);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      return content();
    },
    async ready() {
      const deadline = Date.now() + 5000;
      while (!updates.some((u) => u.heartbeat)) {
        if (Date.now() > deadline) throw new Error('no heartbeat within 5 s');
        await new Promise((r) => setTimeout(r, 5));
      }
      return reader;
    },
    ended,
    async cancel() {
      stream.cancel();
      await ended;
    },
  };
  return reader;
}

export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
