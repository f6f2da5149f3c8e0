// Tests only: the real subscriber service and the real user service on
// loopback ports, sharing one in-process event bus, called with real tokens.
// Never imported by production code.
import { randomUUID } from 'node:crypto';
import { credentials, type Metadata, status } from '@grpc/grpc-js';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import {
  type Friendship,
  FriendshipStatus,
  type ListFriendsRequest,
  type ListFriendsResponse,
  SubscriberServiceClient,
} from '@messenger/gen/messenger/subscriber/v1/subscriber';
import { UserServiceClient } from '@messenger/gen/messenger/user/v1/user';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import { InProcessEventBus } from '@messenger/platform/events';
import { createClientPool, fieldViolationsOf } from '@messenger/platform/grpc';
import { createLogger } from '@messenger/platform/logger';
import { createMetrics } from '@messenger/platform/metrics';
import { call, createTestAuth, failure } from '@messenger/platform/testing';
import { MemoryUserStore, startUserService } from '@messenger/user';
import { startSubscriberService } from '../app.ts';
import { grpcUserDirectory } from '../clients/user-directory.client.ts';
import { MemoryFriendshipStore } from '../store/memory/memory-friendship-store.ts';

/** A user that exists in the user service, with their access token. */
export interface TestUser {
  readonly id: string;
  readonly md: Metadata;
}

export interface SubscriberFixture {
  readonly client: SubscriberServiceClient;
  readonly users: UserServiceClient;
  /** The chat service's credential: CheckFriendship is internal. */
  readonly asChat: Metadata;
  /** Every event published on `subscriber.events`, in arrival order. */
  readonly events: EventEnvelope[];
  newUser(): Promise<TestUser>;
  makeFriend(from: TestUser, to: TestUser): Promise<Friendship>;
  list(who: TestUser, request?: Partial<ListFriendsRequest>): Promise<ListFriendsResponse>;
  /** [other user, status] of each of the user's friendships and requests, as listed. */
  listed(who: TestUser, statusFilter?: FriendshipStatus): Promise<[string, FriendshipStatus][]>;
  /** CheckFriendship, as the chat service asks it. */
  friends(a: TestUser, b: TestUser): Promise<boolean>;
  /** The types of the pair's events so far, in order. */
  eventsOf(a: TestUser, b: TestUser): string[];
  close(): Promise<void>;
}

export async function startSubscriberFixture(): Promise<SubscriberFixture> {
  const auth = await createTestAuth();
  const bus = new InProcessEventBus();
  const events: EventEnvelope[] = [];
  await bus.subscribe({
    topics: ['subscriber.events'],
    group: 'subscriber-spec',
    delivery: 'broadcast',
    handle: async (event) => {
      events.push(event);
    },
  });
  const catalog = await loadMessengerCatalog();
  const metrics = createMetrics({ defaultMetrics: false });
  const common = { bus, catalog, metrics, authenticator: auth.authenticator };
  const userService = await startUserService(
    { ...common, store: new MemoryUserStore(), logger: createLogger({ level: 'silent', service: 'user' }) },
    { host: '127.0.0.1', port: 0 },
  );
  const pool = createClientPool({ catalog, metrics, defaultDeadlineMs: 5000 });
  const subscriber = await startSubscriberService(
    {
      ...common,
      store: new MemoryFriendshipStore(),
      users: grpcUserDirectory({
        pool,
        address: `127.0.0.1:${userService.port}`,
        tokens: auth.serviceTokenSource('subscriber'),
      }),
      logger: createLogger({ level: 'silent', service: 'subscriber' }),
    },
    { host: '127.0.0.1', port: 0 },
  );
  const client = new SubscriberServiceClient(`127.0.0.1:${subscriber.port}`, credentials.createInsecure());
  const users = new UserServiceClient(`127.0.0.1:${userService.port}`, credentials.createInsecure());
  const asChat = auth.bearer(await auth.serviceToken('chat'));

  let seq = 0;
  const list = (who: TestUser, request: Partial<ListFriendsRequest> = {}) =>
    call(
      client,
      client.listFriends,
      { status: FriendshipStatus.FRIENDSHIP_STATUS_UNSPECIFIED, pageSize: 0, pageToken: '', ...request },
      who.md,
    );
  return {
    client,
    users,
    asChat,
    events,
    async newUser() {
      const id = randomUUID();
      const nickname = `friend_${++seq}_${id.slice(0, 8)}`;
      await call(users, users.createUser, { userId: id, nickname }, auth.bearer(await auth.serviceToken('auth')));
      return { id, md: auth.bearer(await auth.userToken(id)) };
    },
    makeFriend: async (from, to) =>
      (await call(client, client.makeFriend, { userId: to.id }, from.md)).friendship as Friendship,
    list,
    listed: async (who, statusFilter = FriendshipStatus.FRIENDSHIP_STATUS_UNSPECIFIED) =>
      (await list(who, { status: statusFilter })).friendships.map((f): [string, FriendshipStatus] => [
        f.userId,
        f.status,
      ]),
    friends: async (a, b) =>
      (await call(client, client.checkFriendship, { userIdA: a.id, userIdB: b.id }, asChat)).friends,
    eventsOf: (a, b) => events.filter((e) => e.key === pairKey(a, b)).map((e) => e.type),
    async close() {
      client.close();
      users.close();
      await subscriber.stop(1000);
      await userService.stop(1000);
      pool.close();
      await bus.close();
      auth.close();
    },
  };
}

/** The pair's id, as events carry it in their key. */
export function pairKey(a: TestUser, b: TestUser): string {
  return [a.id, b.id].sort().join(':');
}

/** What `probe` finds, once it finds something; fails after about three seconds. */
export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 300; i++) {
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
