// gRPC integration: the real subscriber service and the real user service on
// loopback ports, sharing one in-process event bus, called with real tokens.
import { randomUUID } from 'node:crypto';
import { credentials, type Metadata, status } from '@grpc/grpc-js';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { FriendConfirmed, FriendRemoved } from '@messenger/gen/messenger/subscriber/v1/events';
import {
  type Friendship,
  FriendshipStatus,
  type ListFriendsRequest,
  SubscriberServiceClient,
} from '@messenger/gen/messenger/subscriber/v1/subscriber';
import { UserServiceClient } from '@messenger/gen/messenger/user/v1/user';
import {
  type ClientPool,
  createClientPool,
  createLogger,
  createMetrics,
  fieldViolationsOf,
  InProcessEventBus,
  loadMessengerCatalog,
  reasonOf,
} from '@messenger/platform';
import { call, createTestAuth, failure, type TestAuth } from '@messenger/platform/testing';
import { MemoryUserStore, type RunningService as RunningUserService, startUserService } from '@messenger/user';
import { type RunningService, startSubscriberService } from '../app.ts';
import { MemoryFriendshipStore } from '../store/memory/memory-friendship-store.ts';
import { grpcUserDirectory } from './user-directory.grpc.ts';

const { FRIENDSHIP_STATUS_UNSPECIFIED: NONE, FRIENDSHIP_STATUS_CONFIRMED: CONFIRMED } = FriendshipStatus;
const { FRIENDSHIP_STATUS_INCOMING: INCOMING, FRIENDSHIP_STATUS_OUTGOING: OUTGOING } = FriendshipStatus;

describe('SubscriberService over gRPC', () => {
  let auth: TestAuth;
  let bus: InProcessEventBus;
  let pool: ClientPool;
  let userService: RunningUserService;
  let subscriber: RunningService;
  let client: SubscriberServiceClient;
  let users: UserServiceClient;
  let asChat: Metadata;
  const events: EventEnvelope[] = [];

  beforeAll(async () => {
    auth = await createTestAuth();
    bus = new InProcessEventBus();
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
    const common = {
      bus,
      catalog,
      metrics,
      authenticator: auth.authenticator,
    };
    userService = await startUserService(
      { ...common, store: new MemoryUserStore(), logger: createLogger({ level: 'silent', service: 'user' }) },
      { host: '127.0.0.1', port: 0 },
    );
    pool = createClientPool({ catalog, metrics, defaultDeadlineMs: 5000 });
    subscriber = await startSubscriberService(
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
    client = new SubscriberServiceClient(`127.0.0.1:${subscriber.port}`, credentials.createInsecure());
    users = new UserServiceClient(`127.0.0.1:${userService.port}`, credentials.createInsecure());
    asChat = auth.bearer(await auth.serviceToken('chat'));
  });

  afterAll(async () => {
    client.close();
    users.close();
    await subscriber.stop(1000);
    await userService.stop(1000);
    pool.close();
    await bus.close();
    auth.close();
  });

  interface TestUser {
    id: string;
    md: Metadata;
  }
  let seq = 0;
  /** A user that exists in the user service, with their access token. */
  const newUser = async (): Promise<TestUser> => {
    const id = randomUUID();
    const nickname = `friend_${++seq}_${id.slice(0, 8)}`;
    await call(users, users.createUser, { userId: id, nickname }, auth.bearer(await auth.serviceToken('auth')));
    return { id, md: auth.bearer(await auth.userToken(id)) };
  };
  const makeFriend = async (from: TestUser, to: TestUser) =>
    (await call(client, client.makeFriend, { userId: to.id }, from.md)).friendship as Friendship;
  const list = async (who: TestUser, request: Partial<ListFriendsRequest> = {}) =>
    call(client, client.listFriends, { status: NONE, pageSize: 0, pageToken: '', ...request }, who.md);
  const listed = async (who: TestUser, statusFilter: FriendshipStatus = NONE) =>
    (await list(who, { status: statusFilter })).friendships.map((f) => [f.userId, f.status]);
  const friends = async (a: TestUser, b: TestUser) =>
    (await call(client, client.checkFriendship, { userIdA: a.id, userIdB: b.id }, asChat)).friends;
  const pairKey = (a: TestUser, b: TestUser) => [a.id, b.id].sort().join(':');
  const violations = async (pending: Promise<unknown>) => {
    const error = await failure(pending);
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    return fieldViolationsOf(error).map((v) => v.field);
  };
  const waitFor = async <T>(probe: () => Promise<T | undefined> | T | undefined): Promise<T> => {
    for (let i = 0; i < 300; i++) {
      const found = await probe();
      if (found !== undefined) return found;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('condition not met in time');
  };
  const eventsOf = (a: TestUser, b: TestUser) => events.filter((e) => e.key === pairKey(a, b)).map((e) => e.type);

  describe('MakeFriend', () => {
    it('sends a request once, however often it is repeated', async () => {
      const [a, b] = [await newUser(), await newUser()];
      const first = await makeFriend(a, b);
      expect(first).toMatchObject({ userId: b.id, status: OUTGOING });
      expect(await makeFriend(a, b)).toEqual(first);
      expect(await listed(a)).toEqual([[b.id, OUTGOING]]);
      expect(await listed(b)).toEqual([[a.id, INCOMING]]);
      expect(await friends(a, b)).toBe(false);
      await waitFor(() => (eventsOf(a, b).length > 0 ? true : undefined));
      expect(eventsOf(a, b)).toEqual(['subscriber.friendship.requested']);
    });

    it('confirms when the other user has already asked', async () => {
      const [a, b] = [await newUser(), await newUser()];
      await makeFriend(a, b);
      expect(await makeFriend(b, a)).toMatchObject({ userId: a.id, status: CONFIRMED });
      expect(await makeFriend(a, b)).toMatchObject({ userId: b.id, status: CONFIRMED });
      expect(await listed(a)).toEqual([[b.id, CONFIRMED]]);
      expect(await listed(b)).toEqual([[a.id, CONFIRMED]]);
      expect(await friends(b, a)).toBe(true);
      const confirmed = await waitFor(() =>
        events.find((e) => e.type === 'subscriber.friendship.confirmed' && e.key === pairKey(a, b)),
      );
      expect(FriendConfirmed.decode(confirmed.payload?.value ?? new Uint8Array())).toMatchObject({
        requesterId: a.id,
        addresseeId: b.id,
      });
    });

    it('turns two simultaneous requests in opposite directions into one confirmed friendship', async () => {
      const pairs = await Promise.all(
        Array.from({ length: 8 }, async () => [await newUser(), await newUser()] as const),
      );
      await Promise.all(pairs.map(([a, b]) => Promise.all([makeFriend(a, b), makeFriend(b, a)])));
      for (const [a, b] of pairs) {
        expect(await listed(a)).toEqual([[b.id, CONFIRMED]]);
        expect(await listed(b)).toEqual([[a.id, CONFIRMED]]);
      }
      const [a, b] = pairs[0] ?? [];
      if (!a || !b) throw new Error('no pair');
      await waitFor(() => (eventsOf(a, b).length === 2 ? true : undefined));
      expect(eventsOf(a, b)).toEqual(['subscriber.friendship.requested', 'subscriber.friendship.confirmed']);
    });

    it('refuses oneself, a malformed id and an unknown user', async () => {
      const a = await newUser();
      expect(await violations(call(client, client.makeFriend, { userId: a.id }, a.md))).toEqual(['user_id']);
      expect(await violations(call(client, client.makeFriend, { userId: a.id.toUpperCase() }, a.md))).toEqual([
        'user_id',
      ]);
      expect(await violations(call(client, client.makeFriend, { userId: 'bob' }, a.md))).toEqual(['user_id']);
      expect(await violations(call(client, client.makeFriend, { userId: '' }, a.md))).toEqual(['user_id']);
      const unknown = await failure(call(client, client.makeFriend, { userId: randomUUID() }, a.md));
      expect([unknown.code, reasonOf(unknown)]).toEqual([status.NOT_FOUND, 'USER_NOT_FOUND']);
    });
  });

  describe('ConfirmFriend and DeclineFriend', () => {
    it('lets the addressee confirm, repeatably', async () => {
      const [a, b] = [await newUser(), await newUser()];
      await makeFriend(a, b);
      const confirmed = await call(client, client.confirmFriend, { userId: a.id }, b.md);
      expect(confirmed.friendship).toMatchObject({ userId: a.id, status: CONFIRMED });
      const again = await call(client, client.confirmFriend, { userId: a.id }, b.md);
      expect(again.friendship).toEqual(confirmed.friendship);
      expect(await friends(a, b)).toBe(true);
    });

    it("does not let anyone else answer a request: A cannot answer the request A sent, C cannot answer B's", async () => {
      const [a, b, c] = [await newUser(), await newUser(), await newUser()];
      await makeFriend(a, b);
      const own = await failure(call(client, client.confirmFriend, { userId: b.id }, a.md));
      expect([own.code, reasonOf(own)]).toEqual([status.NOT_FOUND, 'FRIEND_REQUEST_NOT_FOUND']);
      const ownDecline = await failure(call(client, client.declineFriend, { userId: b.id }, a.md));
      expect([ownDecline.code, reasonOf(ownDecline)]).toEqual([status.FAILED_PRECONDITION, 'OWN_REQUEST']);
      const stranger = await failure(call(client, client.confirmFriend, { userId: a.id }, c.md));
      expect(stranger.code).toBe(status.NOT_FOUND);
      expect(await listed(b)).toEqual([[a.id, INCOMING]]);
      const none = await failure(call(client, client.confirmFriend, { userId: randomUUID() }, a.md));
      expect(none.code).toBe(status.NOT_FOUND);
    });

    it('lets the addressee decline, after which the requester may ask again', async () => {
      const [a, b] = [await newUser(), await newUser()];
      await makeFriend(a, b);
      const declined = await call(client, client.declineFriend, { userId: a.id }, b.md);
      expect(declined.previousStatus).toBe(INCOMING);
      expect(await listed(a)).toEqual([]);
      const again = await call(client, client.declineFriend, { userId: a.id }, b.md);
      expect(again.previousStatus).toBe(NONE);
      expect(await makeFriend(a, b)).toMatchObject({ status: OUTGOING });
      await waitFor(() => (eventsOf(a, b).length === 3 ? true : undefined));
      expect(eventsOf(a, b)).toEqual([
        'subscriber.friendship.requested',
        'subscriber.friendship.declined',
        'subscriber.friendship.requested',
      ]);
    });

    it('refuses to decline a friendship', async () => {
      const [a, b] = [await newUser(), await newUser()];
      await makeFriend(a, b);
      await makeFriend(b, a);
      const error = await failure(call(client, client.declineFriend, { userId: a.id }, b.md));
      expect([error.code, reasonOf(error)]).toEqual([status.FAILED_PRECONDITION, 'ALREADY_FRIENDS']);
    });
  });

  describe('Unfriend', () => {
    it('lets either side end a friendship', async () => {
      for (const remover of [0, 1]) {
        const pair = [await newUser(), await newUser()] as const;
        await makeFriend(pair[0], pair[1]);
        await makeFriend(pair[1], pair[0]);
        const by = pair[remover] as TestUser;
        const other = pair[1 - remover] as TestUser;
        const res = await call(client, client.unfriend, { userId: other.id }, by.md);
        expect(res.previousStatus).toBe(CONFIRMED);
        expect(await listed(pair[0])).toEqual([]);
        expect(await listed(pair[1])).toEqual([]);
        expect(await friends(pair[0], pair[1])).toBe(false);
        const removed = await waitFor(() =>
          events.find((e) => e.type === 'subscriber.friendship.removed' && e.key === pairKey(by, other)),
        );
        expect(FriendRemoved.decode(removed.payload?.value ?? new Uint8Array())).toEqual({
          requesterId: pair[0].id,
          addresseeId: pair[1].id,
          beforeStatus: CONFIRMED,
          removedById: by.id,
        });
      }
    });

    it("withdraws the caller's own request, but not one addressed to them", async () => {
      const [a, b] = [await newUser(), await newUser()];
      await makeFriend(a, b);
      const incoming = await failure(call(client, client.unfriend, { userId: a.id }, b.md));
      expect([incoming.code, reasonOf(incoming)]).toEqual([status.FAILED_PRECONDITION, 'INCOMING_REQUEST']);
      expect((await call(client, client.unfriend, { userId: b.id }, a.md)).previousStatus).toBe(OUTGOING);
      expect((await call(client, client.unfriend, { userId: b.id }, a.md)).previousStatus).toBe(NONE);
      expect(await violations(call(client, client.unfriend, { userId: a.id }, a.md))).toEqual(['user_id']);
    });
  });

  describe('ListFriends', () => {
    it('lists by status, most recently changed first, page by page', async () => {
      const me = await newUser();
      const others = await Promise.all(Array.from({ length: 5 }, newUser));
      const [o1, o2, o3, o4, o5] = others as [TestUser, TestUser, TestUser, TestUser, TestUser];
      // Apart by a few milliseconds, so each change has its own time and the order is exact.
      const steps: [TestUser, TestUser][] = [
        [me, o1], // outgoing
        [o2, me], // incoming
        [o3, me],
        [me, o3], // confirmed
        [me, o4], // outgoing
        [o5, me], // incoming, newest
      ];
      for (const [from, to] of steps) {
        await makeFriend(from, to);
        await new Promise((r) => setTimeout(r, 3));
      }
      const expected = [
        [o5.id, INCOMING],
        [o4.id, OUTGOING],
        [o3.id, CONFIRMED],
        [o2.id, INCOMING],
        [o1.id, OUTGOING],
      ];
      const seen: unknown[] = [];
      let pageToken = '';
      let pages = 0;
      do {
        const page = await list(me, { pageSize: 2, pageToken });
        seen.push(...page.friendships.map((f) => [f.userId, f.status]));
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken !== '');
      expect(pages).toBe(3);
      expect(seen).toEqual(expected);
      expect(await listed(me, CONFIRMED)).toEqual([[o3.id, CONFIRMED]]);
      expect(await listed(me, INCOMING)).toEqual([
        [o5.id, INCOMING],
        [o2.id, INCOMING],
      ]);
      expect(await listed(me, OUTGOING)).toEqual([
        [o4.id, OUTGOING],
        [o1.id, OUTGOING],
      ]);
    });

    it('refuses a negative page size, an unknown status and a token of another filter', async () => {
      const [a, b, c] = [await newUser(), await newUser(), await newUser()];
      await makeFriend(a, b);
      await makeFriend(a, c);
      expect(await violations(list(a, { pageSize: -1 }))).toEqual(['page_size']);
      expect(await violations(list(a, { status: 9 as FriendshipStatus }))).toEqual(['status']);
      const first = await list(a, { pageSize: 1 });
      expect(first.nextPageToken).not.toBe('');
      expect(await violations(list(a, { status: INCOMING, pageToken: first.nextPageToken }))).toEqual(['page_token']);
      expect(await violations(list(a, { pageToken: 'garbage' }))).toEqual(['page_token']);
    });
  });

  describe('CheckFriendship and access', () => {
    it('answers services only, and refuses malformed ids', async () => {
      const [a, b] = [await newUser(), await newUser()];
      const asUser = await failure(call(client, client.checkFriendship, { userIdA: a.id, userIdB: b.id }, a.md));
      expect(asUser.code).toBe(status.PERMISSION_DENIED);
      expect(await friends(a, a)).toBe(false);
      expect(await friends(a, { id: randomUUID(), md: a.md })).toBe(false);
      expect(await violations(call(client, client.checkFriendship, { userIdA: 'x', userIdB: '' }, asChat))).toEqual([
        'user_id_a',
        'user_id_b',
      ]);
    });

    it('refuses calls without a token, and user methods called with a service token', async () => {
      const anonymous = await failure(call(client, client.makeFriend, { userId: randomUUID() }));
      expect(anonymous.code).toBe(status.UNAUTHENTICATED);
      const anonymousList = await failure(
        call(client, client.listFriends, { status: NONE, pageSize: 0, pageToken: '' }),
      );
      expect(anonymousList.code).toBe(status.UNAUTHENTICATED);
      const service = await failure(call(client, client.makeFriend, { userId: randomUUID() }, asChat));
      expect([service.code, reasonOf(service)]).toEqual([status.PERMISSION_DENIED, 'USER_CALLER_REQUIRED']);
    });
  });

  it("removes a deleted user's friendships and requests when user.user.deleted arrives", async () => {
    const [gone, friend, asked] = [await newUser(), await newUser(), await newUser()];
    await makeFriend(gone, friend);
    await makeFriend(friend, gone);
    await makeFriend(gone, asked);
    await call(users, users.deleteUser, { userId: gone.id }, gone.md);
    await waitFor(async () =>
      (await listed(friend)).length === 0 && (await listed(asked)).length === 0 ? true : undefined,
    );
    const removed = await waitFor(() => {
      const found = events.filter((e) => e.type === 'subscriber.friendship.removed' && e.key.includes(gone.id));
      return found.length === 2 ? found : undefined;
    });
    const payloads = removed.map((e) => FriendRemoved.decode(e.payload?.value ?? new Uint8Array()));
    expect(payloads.map((p) => p.removedById)).toEqual([gone.id, gone.id]);
    expect(payloads.map((p) => p.beforeStatus).sort()).toEqual([CONFIRMED, OUTGOING].sort());
  });
});
