// gRPC integration: the real subscriber service and the real user service on
// loopback ports, sharing one in-process event bus, called with real tokens.
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { FriendConfirmed, FriendRemoved } from '@messenger/gen/messenger/subscriber/v1/events';
import { FriendshipStatus } from '@messenger/gen/messenger/subscriber/v1/subscriber';
import { reasonOf } from '@messenger/platform/grpc';
import {
  call,
  failure,
  pairKey,
  type SubscriberFixture,
  startSubscriberFixture,
  type TestUser,
  violations,
  waitFor,
} from '../testing/subscriber-fixture.ts';

const { FRIENDSHIP_STATUS_UNSPECIFIED: NONE, FRIENDSHIP_STATUS_CONFIRMED: CONFIRMED } = FriendshipStatus;
const { FRIENDSHIP_STATUS_INCOMING: INCOMING, FRIENDSHIP_STATUS_OUTGOING: OUTGOING } = FriendshipStatus;

describe('SubscriberService over gRPC', () => {
  let f: SubscriberFixture;

  beforeAll(async () => {
    f = await startSubscriberFixture();
  });
  afterAll(async () => {
    await f.close();
  });

  describe('MakeFriend', () => {
    it('sends a request once, however often it is repeated', async () => {
      const [a, b] = [await f.newUser(), await f.newUser()];
      const first = await f.makeFriend(a, b);
      expect(first).toMatchObject({ userId: b.id, status: OUTGOING });
      expect(await f.makeFriend(a, b)).toEqual(first);
      expect(await f.listed(a)).toEqual([[b.id, OUTGOING]]);
      expect(await f.listed(b)).toEqual([[a.id, INCOMING]]);
      expect(await f.friends(a, b)).toBe(false);
      await waitFor(() => (f.eventsOf(a, b).length > 0 ? true : undefined));
      expect(f.eventsOf(a, b)).toEqual(['subscriber.friendship.requested']);
    });

    it('confirms when the other user has already asked', async () => {
      const [a, b] = [await f.newUser(), await f.newUser()];
      await f.makeFriend(a, b);
      expect(await f.makeFriend(b, a)).toMatchObject({ userId: a.id, status: CONFIRMED });
      expect(await f.makeFriend(a, b)).toMatchObject({ userId: b.id, status: CONFIRMED });
      expect(await f.listed(a)).toEqual([[b.id, CONFIRMED]]);
      expect(await f.listed(b)).toEqual([[a.id, CONFIRMED]]);
      expect(await f.friends(b, a)).toBe(true);
      const confirmed = await waitFor(() =>
        f.events.find((e) => e.type === 'subscriber.friendship.confirmed' && e.key === pairKey(a, b)),
      );
      expect(FriendConfirmed.decode(confirmed.payload?.value ?? new Uint8Array())).toMatchObject({
        requesterId: a.id,
        addresseeId: b.id,
      });
    });

    it('turns two simultaneous requests in opposite directions into one confirmed friendship', async () => {
      const pairs = await Promise.all(
        Array.from({ length: 8 }, async () => [await f.newUser(), await f.newUser()] as const),
      );
      await Promise.all(pairs.map(([a, b]) => Promise.all([f.makeFriend(a, b), f.makeFriend(b, a)])));
      for (const [a, b] of pairs) {
        expect(await f.listed(a)).toEqual([[b.id, CONFIRMED]]);
        expect(await f.listed(b)).toEqual([[a.id, CONFIRMED]]);
      }
      const [a, b] = pairs[0] ?? [];
      if (!a || !b) throw new Error('no pair');
      await waitFor(() => (f.eventsOf(a, b).length === 2 ? true : undefined));
      expect(f.eventsOf(a, b)).toEqual(['subscriber.friendship.requested', 'subscriber.friendship.confirmed']);
    });

    it('refuses oneself, a malformed id and an unknown user', async () => {
      const a = await f.newUser();
      expect(await violations(call(f.client, f.client.makeFriend, { userId: a.id }, a.md))).toEqual(['user_id']);
      expect(await violations(call(f.client, f.client.makeFriend, { userId: a.id.toUpperCase() }, a.md))).toEqual([
        'user_id',
      ]);
      expect(await violations(call(f.client, f.client.makeFriend, { userId: 'bob' }, a.md))).toEqual(['user_id']);
      expect(await violations(call(f.client, f.client.makeFriend, { userId: '' }, a.md))).toEqual(['user_id']);
      const unknown = await failure(call(f.client, f.client.makeFriend, { userId: randomUUID() }, a.md));
      expect([unknown.code, reasonOf(unknown)]).toEqual([status.NOT_FOUND, 'USER_NOT_FOUND']);
    });
  });

  describe('ConfirmFriend and DeclineFriend', () => {
    it('lets the addressee confirm, repeatably', async () => {
      const [a, b] = [await f.newUser(), await f.newUser()];
      await f.makeFriend(a, b);
      const confirmed = await call(f.client, f.client.confirmFriend, { userId: a.id }, b.md);
      expect(confirmed.friendship).toMatchObject({ userId: a.id, status: CONFIRMED });
      const again = await call(f.client, f.client.confirmFriend, { userId: a.id }, b.md);
      expect(again.friendship).toEqual(confirmed.friendship);
      expect(await f.friends(a, b)).toBe(true);
    });

    it("does not let anyone else answer a request: A cannot answer the request A sent, C cannot answer B's", async () => {
      const [a, b, c] = [await f.newUser(), await f.newUser(), await f.newUser()];
      await f.makeFriend(a, b);
      const own = await failure(call(f.client, f.client.confirmFriend, { userId: b.id }, a.md));
      expect([own.code, reasonOf(own)]).toEqual([status.NOT_FOUND, 'FRIEND_REQUEST_NOT_FOUND']);
      const ownDecline = await failure(call(f.client, f.client.declineFriend, { userId: b.id }, a.md));
      expect([ownDecline.code, reasonOf(ownDecline)]).toEqual([status.FAILED_PRECONDITION, 'OWN_REQUEST']);
      const stranger = await failure(call(f.client, f.client.confirmFriend, { userId: a.id }, c.md));
      expect(stranger.code).toBe(status.NOT_FOUND);
      expect(await f.listed(b)).toEqual([[a.id, INCOMING]]);
      const none = await failure(call(f.client, f.client.confirmFriend, { userId: randomUUID() }, a.md));
      expect(none.code).toBe(status.NOT_FOUND);
    });

    it('lets the addressee decline, after which the requester may ask again', async () => {
      const [a, b] = [await f.newUser(), await f.newUser()];
      await f.makeFriend(a, b);
      const declined = await call(f.client, f.client.declineFriend, { userId: a.id }, b.md);
      expect(declined.previousStatus).toBe(INCOMING);
      expect(await f.listed(a)).toEqual([]);
      const again = await call(f.client, f.client.declineFriend, { userId: a.id }, b.md);
      expect(again.previousStatus).toBe(NONE);
      expect(await f.makeFriend(a, b)).toMatchObject({ status: OUTGOING });
      await waitFor(() => (f.eventsOf(a, b).length === 3 ? true : undefined));
      expect(f.eventsOf(a, b)).toEqual([
        'subscriber.friendship.requested',
        'subscriber.friendship.declined',
        'subscriber.friendship.requested',
      ]);
    });

    it('refuses to decline a friendship', async () => {
      const [a, b] = [await f.newUser(), await f.newUser()];
      await f.makeFriend(a, b);
      await f.makeFriend(b, a);
      const error = await failure(call(f.client, f.client.declineFriend, { userId: a.id }, b.md));
      expect([error.code, reasonOf(error)]).toEqual([status.FAILED_PRECONDITION, 'ALREADY_FRIENDS']);
    });
  });

  describe('Unfriend', () => {
    it('lets either side end a friendship', async () => {
      for (const remover of [0, 1]) {
        const pair = [await f.newUser(), await f.newUser()] as const;
        await f.makeFriend(pair[0], pair[1]);
        await f.makeFriend(pair[1], pair[0]);
        const by = pair[remover] as TestUser;
        const other = pair[1 - remover] as TestUser;
        const res = await call(f.client, f.client.unfriend, { userId: other.id }, by.md);
        expect(res.previousStatus).toBe(CONFIRMED);
        expect(await f.listed(pair[0])).toEqual([]);
        expect(await f.listed(pair[1])).toEqual([]);
        expect(await f.friends(pair[0], pair[1])).toBe(false);
        const removed = await waitFor(() =>
          f.events.find((e) => e.type === 'subscriber.friendship.removed' && e.key === pairKey(by, other)),
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
      const [a, b] = [await f.newUser(), await f.newUser()];
      await f.makeFriend(a, b);
      const incoming = await failure(call(f.client, f.client.unfriend, { userId: a.id }, b.md));
      expect([incoming.code, reasonOf(incoming)]).toEqual([status.FAILED_PRECONDITION, 'INCOMING_REQUEST']);
      expect((await call(f.client, f.client.unfriend, { userId: b.id }, a.md)).previousStatus).toBe(OUTGOING);
      expect((await call(f.client, f.client.unfriend, { userId: b.id }, a.md)).previousStatus).toBe(NONE);
      expect(await violations(call(f.client, f.client.unfriend, { userId: a.id }, a.md))).toEqual(['user_id']);
    });
  });

  describe('ListFriends', () => {
    it('lists by status, most recently changed first, page by page', async () => {
      const me = await f.newUser();
      const others = await Promise.all(Array.from({ length: 5 }, () => f.newUser()));
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
        await f.makeFriend(from, to);
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
        const page = await f.list(me, { pageSize: 2, pageToken });
        seen.push(...page.friendships.map((friendship) => [friendship.userId, friendship.status]));
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken !== '');
      expect(pages).toBe(3);
      expect(seen).toEqual(expected);
      expect(await f.listed(me, CONFIRMED)).toEqual([[o3.id, CONFIRMED]]);
      expect(await f.listed(me, INCOMING)).toEqual([
        [o5.id, INCOMING],
        [o2.id, INCOMING],
      ]);
      expect(await f.listed(me, OUTGOING)).toEqual([
        [o4.id, OUTGOING],
        [o1.id, OUTGOING],
      ]);
    });

    it('refuses a negative page size, an unknown status and a token of another filter', async () => {
      const [a, b, c] = [await f.newUser(), await f.newUser(), await f.newUser()];
      await f.makeFriend(a, b);
      await f.makeFriend(a, c);
      expect(await violations(f.list(a, { pageSize: -1 }))).toEqual(['page_size']);
      expect(await violations(f.list(a, { status: 9 as FriendshipStatus }))).toEqual(['status']);
      const first = await f.list(a, { pageSize: 1 });
      expect(first.nextPageToken).not.toBe('');
      expect(await violations(f.list(a, { status: INCOMING, pageToken: first.nextPageToken }))).toEqual(['page_token']);
      expect(await violations(f.list(a, { pageToken: 'garbage' }))).toEqual(['page_token']);
    });
  });

  describe('CheckFriendship and access', () => {
    it('answers services only, and refuses malformed ids', async () => {
      const [a, b] = [await f.newUser(), await f.newUser()];
      const asUser = await failure(call(f.client, f.client.checkFriendship, { userIdA: a.id, userIdB: b.id }, a.md));
      expect(asUser.code).toBe(status.PERMISSION_DENIED);
      expect(await f.friends(a, a)).toBe(false);
      expect(await f.friends(a, { id: randomUUID(), md: a.md })).toBe(false);
      expect(
        await violations(call(f.client, f.client.checkFriendship, { userIdA: 'x', userIdB: '' }, f.asChat)),
      ).toEqual(['user_id_a', 'user_id_b']);
    });

    it('refuses calls without a token, and user methods called with a service token', async () => {
      const anonymous = await failure(call(f.client, f.client.makeFriend, { userId: randomUUID() }));
      expect(anonymous.code).toBe(status.UNAUTHENTICATED);
      const anonymousList = await failure(
        call(f.client, f.client.listFriends, { status: NONE, pageSize: 0, pageToken: '' }),
      );
      expect(anonymousList.code).toBe(status.UNAUTHENTICATED);
      const service = await failure(call(f.client, f.client.makeFriend, { userId: randomUUID() }, f.asChat));
      expect([service.code, reasonOf(service)]).toEqual([status.PERMISSION_DENIED, 'USER_CALLER_REQUIRED']);
    });
  });

  describe('BlockUser, UnblockUser and ListBlockedUsers', () => {
    const block = (who: TestUser, whom: TestUser) => call(f.client, f.client.blockUser, { userId: whom.id }, who.md);
    const blocked = async (who: TestUser) =>
      (await call(f.client, f.client.listBlockedUsers, { pageSize: 0, pageToken: '' }, who.md)).blockedUsers.map(
        (b) => b.userId,
      );

    it("declines the blocked user's pending request with an ordinary decline, once however often repeated", async () => {
      const [me, pest] = [await f.newUser(), await f.newUser()];
      await f.makeFriend(pest, me);
      const first = await block(me, pest);
      expect(first.blockedUser?.userId).toBe(pest.id);
      expect((await block(me, pest)).blockedUser).toEqual(first.blockedUser);
      expect(await f.listed(me)).toEqual([]);
      expect(await f.listed(pest)).toEqual([]);
      expect(await blocked(me)).toEqual([pest.id]);
      expect(await blocked(pest)).toEqual([]);
      await waitFor(() => (f.eventsOf(me, pest).length === 2 ? true : undefined));
      expect(f.eventsOf(me, pest)).toEqual(['subscriber.friendship.requested', 'subscriber.friendship.declined']);
    });

    it('answers a blocked user asking again as an ordinary request, but stores and publishes nothing', async () => {
      const [me, pest] = [await f.newUser(), await f.newUser()];
      await block(me, pest);
      const answer = await f.makeFriend(pest, me);
      expect(answer).toMatchObject({ userId: me.id, status: OUTGOING });
      expect(await f.listed(me)).toEqual([]);
      const own = await failure(call(f.client, f.client.makeFriend, { userId: pest.id }, me.md));
      expect([own.code, reasonOf(own)]).toEqual([status.FAILED_PRECONDITION, 'YOU_BLOCK_USER']);
      expect(f.eventsOf(me, pest)).toEqual([]);
    });

    it('ends a friendship: the two are no longer friends for other services, until friends again', async () => {
      const [me, pal] = [await f.newUser(), await f.newUser()];
      await f.makeFriend(me, pal);
      await f.makeFriend(pal, me);
      await block(me, pal);
      expect(await f.friends(pal, me)).toBe(false);
      const checked = await call(f.client, f.client.checkFriendship, { userIdA: pal.id, userIdB: me.id }, f.asChat);
      expect(checked).toEqual({ friends: false, blocked: true });
      expect(await f.listed(pal)).toEqual([]);
      const unblocked = await call(f.client, f.client.unblockUser, { userId: pal.id }, me.md);
      expect(unblocked.unblocked).toBe(true);
      expect((await call(f.client, f.client.unblockUser, { userId: pal.id }, me.md)).unblocked).toBe(false);
      expect(await blocked(me)).toEqual([]);
      expect(await f.makeFriend(pal, me)).toMatchObject({ status: OUTGOING });
      expect(await f.listed(me)).toEqual([[pal.id, INCOMING]]);
    });

    it('refuses oneself, a malformed id, an unknown user, a foreign page token and a service caller', async () => {
      const a = await f.newUser();
      expect(await violations(call(f.client, f.client.blockUser, { userId: a.id }, a.md))).toEqual(['user_id']);
      expect(await violations(call(f.client, f.client.blockUser, { userId: 'bob' }, a.md))).toEqual(['user_id']);
      expect(await violations(call(f.client, f.client.unblockUser, { userId: '' }, a.md))).toEqual(['user_id']);
      const unknown = await failure(call(f.client, f.client.blockUser, { userId: randomUUID() }, a.md));
      expect([unknown.code, reasonOf(unknown)]).toEqual([status.NOT_FOUND, 'USER_NOT_FOUND']);
      expect(
        await violations(call(f.client, f.client.listBlockedUsers, { pageSize: -1, pageToken: '' }, a.md)),
      ).toEqual(['page_size']);
      expect(
        await violations(call(f.client, f.client.listBlockedUsers, { pageSize: 0, pageToken: 'nope' }, a.md)),
      ).toEqual(['page_token']);
      const service = await failure(call(f.client, f.client.blockUser, { userId: a.id }, f.asChat));
      expect([service.code, reasonOf(service)]).toEqual([status.PERMISSION_DENIED, 'USER_CALLER_REQUIRED']);
    });
  });

  it("removes a deleted user's friendships and requests when user.user.deleted arrives", async () => {
    const [gone, friend, asked] = [await f.newUser(), await f.newUser(), await f.newUser()];
    await f.makeFriend(gone, friend);
    await f.makeFriend(friend, gone);
    await f.makeFriend(gone, asked);
    await call(f.users, f.users.deleteUser, { userId: gone.id }, gone.md);
    await waitFor(async () =>
      (await f.listed(friend)).length === 0 && (await f.listed(asked)).length === 0 ? true : undefined,
    );
    const removed = await waitFor(() => {
      const found = f.events.filter((e) => e.type === 'subscriber.friendship.removed' && e.key.includes(gone.id));
      return found.length === 2 ? found : undefined;
    });
    const payloads = removed.map((e) => FriendRemoved.decode(e.payload?.value ?? new Uint8Array()));
    expect(payloads.map((p) => p.removedById)).toEqual([gone.id, gone.id]);
    expect(payloads.map((p) => p.beforeStatus).sort()).toEqual([CONFIRMED, OUTGOING].sort());
  });
});
