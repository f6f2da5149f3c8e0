// The services' reactions to each other's events, end to end: the whole system
// (startSystem) with its events on the Kafka mock cluster, driven over HTTP
// through the gateway as a client would. One system for the file: each
// consumer group's first join costs the mock ~3 s. Runs under
// scripts/with-test-infra.sh (make test).
import { randomUUID } from 'node:crypto';
import { SessionsRevoked } from '@messenger/gen/messenger/auth/v1/events';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import type { Account, Gateway } from './support/http.ts';
import { openUpdateStream, type Update, type UpdateStream } from './support/stream.ts';
import { type KafkaSystem, startKafkaSystem } from './support/system.ts';
import { waitFor } from './support/wait.ts';

const TOPICS = ['auth.events', 'user.events', 'subscriber.events', 'chat.events'];

describe('reactions to events, whole system over Kafka', () => {
  let k: KafkaSystem;
  let gw: Gateway;
  const streams: UpdateStream[] = [];

  beforeAll(async () => {
    k = await startKafkaSystem('reactions', TOPICS);
    gw = k.gateway;
  }, 90_000);

  afterAll(async () => {
    await Promise.all(streams.map((s) => s.close()));
    await k?.stop();
  }, 30_000);

  const friendsOf = async (who: Account) => {
    const body = await gw.ok('GET', '/v1/friends', who.accessToken);
    return ((body.friendships ?? []) as { userId: string; status: string }[]).map((f) => `${f.userId}:${f.status}`);
  };
  const eventsOf = (type: string, key: string) => k.events.filter((e) => e.type === type && e.key === key);
  const pairId = (a: string, b: string) => [a, b].sort().join(':');
  const streamOf = async (who: Account) => {
    const stream = await openUpdateStream(gw.url, who.accessToken);
    streams.push(stream);
    return stream;
  };
  /** Groups add only the owner's friends at once; these tests are about the members' updates. */
  const befriend = async (a: Account, b: Account) => {
    await gw.ok('POST', `/v1/friends/${b.userId}`, a.accessToken, {});
    await gw.ok('POST', `/v1/friends/${a.userId}/confirm`, b.accessToken, {});
  };
  const kindOf = (u: Update) => Object.keys(u).find((key) => key !== 'updateId' && key !== 'time');

  it('user deleted: their friendships and requests are removed and every session is revoked', async () => {
    const [ann, bob, cat] = [await gw.register('ann'), await gw.register('bob'), await gw.register('cat')];
    await gw.ok('POST', `/v1/friends/${bob.userId}`, ann.accessToken, {});
    await gw.ok('POST', `/v1/friends/${ann.userId}/confirm`, bob.accessToken, {});
    await gw.ok('POST', `/v1/friends/${ann.userId}`, cat.accessToken, {});
    // Read (and cached by the gateway) before the deletion.
    expect(await friendsOf(bob)).toEqual([`${ann.userId}:FRIENDSHIP_STATUS_CONFIRMED`]);
    expect(await friendsOf(cat)).toEqual([`${ann.userId}:FRIENDSHIP_STATUS_OUTGOING`]);
    const annOtherSession = await gw.login(ann);
    for (const token of [ann.accessToken, annOtherSession]) {
      expect((await gw.request('GET', '/v1/friends', token)).status).toBe(200);
    }

    await gw.ok('DELETE', `/v1/users/${ann.userId}`, ann.accessToken);

    // auth: every session of the user ends; the gateway refuses their access tokens.
    await waitFor('the old access tokens to be refused', async () => {
      const statuses = await Promise.all(
        [ann.accessToken, annOtherSession].map(async (t) => (await gw.request('GET', '/v1/friends', t)).status),
      );
      return statuses.every((s) => s === 401);
    });
    // subscriber: the friendship and the pending request are gone, for the other users too.
    await waitFor('the friendships of the deleted user to be removed', async () => {
      const [b, c] = await Promise.all([friendsOf(bob), friendsOf(cat)]);
      return b.length === 0 && c.length === 0;
    });
    await waitFor('the events of the reactions', () => {
      const revoked = eventsOf('auth.session.revoked', ann.userId);
      return (
        revoked.length === 1 &&
        eventsOf('subscriber.friendship.removed', pairId(ann.userId, bob.userId)).length === 1 &&
        eventsOf('subscriber.friendship.removed', pairId(ann.userId, cat.userId)).length === 1
      );
    });
    const [revoked] = eventsOf('auth.session.revoked', ann.userId) as [EventEnvelope];
    const payload = SessionsRevoked.decode(revoked.payload?.value ?? new Uint8Array());
    expect(payload.sessionIds).toHaveLength(2);
    expect(payload.all).toBe(true);
    // Bob and Cat keep their sessions.
    expect((await gw.request('GET', '/v1/friends', bob.accessToken)).status).toBe(200);
    expect((await gw.request('GET', `/v1/users/${cat.userId}`, cat.accessToken)).status).toBe(200);

    // Kafka redelivers (a consumer that crashed before committing, a relay
    // that retried a publish): the same event again has no second effect.
    const [deleted] = eventsOf('user.user.deleted', ann.userId) as [EventEnvelope];
    const before = k.events.length;
    await k.bus.publish('user.events', [deleted, deleted]);
    await Promise.all([
      k.caughtUp('auth.user-events', 'user.events'),
      k.caughtUp('subscriber.user-deleted', 'user.events'),
    ]);
    // Both groups handled the repeats; what they published (nothing, if
    // deduplicated) would reach the observer within a few milliseconds.
    await waitFor('the repeats to be observed', () => eventsOf('user.user.deleted', ann.userId).length === 3);
    await new Promise((r) => setTimeout(r, 300));
    const after = k.events.slice(before).filter((e) => e.type !== 'user.user.deleted');
    expect(after.map((e) => e.type)).toEqual([]);
    expect(await friendsOf(bob)).toEqual([]);
  }, 60_000);

  it('profile updated: the next read through the gateway after the event shows the new profile', async () => {
    const [dora, eve] = [await gw.register('dora'), await gw.register('eve')];
    const read = () => gw.request('GET', `/v1/users/${dora.userId}`, eve.accessToken);
    const first = await read();
    expect([first.status, first.headers.get('x-cache')]).toEqual([200, 'MISS']);
    const second = await read();
    expect([second.headers.get('x-cache'), (second.body.user as { nickname: string }).nickname]).toEqual([
      'HIT',
      dora.nickname,
    ]);

    const consumed = () => gw.metric('gateway_cache_invalidations_total', 'event="user.user.updated"');
    const invalidations = await consumed();
    const nickname = `${dora.nickname}_v2`;
    await gw.ok('PATCH', `/v1/users/${dora.userId}`, dora.accessToken, { user: { nickname }, updateMask: 'nickname' });
    // The gateway consumed user.user.updated (it counts what it invalidated).
    await waitFor('the gateway to consume user.user.updated', async () => (await consumed()) > invalidations);

    const next = await read();
    expect(next.status).toBe(200);
    expect((next.body.user as { nickname: string }).nickname).toBe(nickname);
    expect(next.headers.get('x-cache')).toBe('MISS');
  }, 30_000);

  it("friend request made and confirmed: a live update on the other user's stream", async () => {
    const [gil, hal] = [await gw.register('gil'), await gw.register('hal')];
    const [gilStream, halStream] = [await streamOf(gil), await streamOf(hal)];

    await gw.ok('POST', `/v1/friends/${hal.userId}`, gil.accessToken, {});
    const asked = await halStream.next("the request on the addressee's stream", (u) => 'friendshipChanged' in u);
    expect(asked.friendshipChanged).toEqual({ userId: gil.userId, status: 'FRIENDSHIP_STATUS_INCOMING' });

    await gw.ok('POST', `/v1/friends/${gil.userId}/confirm`, hal.accessToken, {});
    const confirmed = await gilStream.next(
      "the confirmation on the requester's stream",
      (u) => (u.friendshipChanged as { status?: string } | undefined)?.status === 'FRIENDSHIP_STATUS_CONFIRMED',
    );
    expect(confirmed.friendshipChanged).toEqual({ userId: hal.userId, status: 'FRIENDSHIP_STATUS_CONFIRMED' });
  }, 30_000);

  it("message sent, edited and deleted: a live update on every online member's stream, and nobody else's", async () => {
    const [ivy, jon, kim, lee] = [
      await gw.register('ivy'),
      await gw.register('jon'),
      await gw.register('kim'),
      await gw.register('lee'),
    ];
    await befriend(ivy, jon);
    await befriend(ivy, kim);
    const chat = (
      await gw.ok('POST', '/v1/chats', ivy.accessToken, {
        type: 'CHAT_TYPE_GROUP',
        title: 'e2e',
        memberIds: [jon.userId, kim.userId],
      })
    ).chat as { chatId: string };
    const members = [await streamOf(ivy), await streamOf(jon), await streamOf(kim)];
    const outsider = await streamOf(lee);

    const sent = (
      await gw.ok('POST', `/v1/chats/${chat.chatId}/messages`, ivy.accessToken, {
        clientMessageId: randomUUID(),
        text: 'hello',
      })
    ).message as { messageId: string };
    const about = (kind: string) => (u: Update) =>
      kindOf(u) === kind && (u[kind] as { messageId?: string }).messageId === sent.messageId;
    for (const stream of members) {
      const u = await stream.next('messageCreated', about('messageCreated'));
      expect(u.messageCreated).toMatchObject({ chatId: chat.chatId, senderId: ivy.userId, text: 'hello' });
    }

    await gw.ok('PATCH', `/v1/chats/${chat.chatId}/messages/${sent.messageId}`, ivy.accessToken, { text: 'hello!' });
    for (const stream of members) {
      const u = await stream.next('messageEdited', about('messageEdited'));
      expect(u.messageEdited).toMatchObject({ text: 'hello!' });
    }

    await gw.ok('DELETE', `/v1/chats/${chat.chatId}/messages/${sent.messageId}`, ivy.accessToken);
    for (const stream of members) {
      const u = await stream.next('messageDeleted', about('messageDeleted'));
      expect(u.messageDeleted).toMatchObject({ deleted: true });
    }
    // In order on each stream, as the chat's events are.
    for (const stream of members) {
      expect(stream.updates.filter((u) => kindOf(u)?.startsWith('message')).map((u) => kindOf(u))).toEqual([
        'messageCreated',
        'messageEdited',
        'messageDeleted',
      ]);
    }
    expect(outsider.updates.filter((u) => kindOf(u)?.startsWith('message'))).toEqual([]);
  }, 30_000);

  it("profile updated and user deleted: the chat's copy of the member and its membership follow", async () => {
    const [max, ned] = [await gw.register('max'), await gw.register('ned')];
    await befriend(max, ned);
    const chat = (
      await gw.ok('POST', '/v1/chats', max.accessToken, {
        type: 'CHAT_TYPE_GROUP',
        title: 'copies',
        memberIds: [ned.userId],
      })
    ).chat as { chatId: string };
    const stream = await streamOf(max);
    const nedIn = async () =>
      (
        (await gw.ok('GET', `/v1/chats/${chat.chatId}`, max.accessToken)).chat as {
          members: { userId: string; nickname: string }[];
        }
      ).members.find((m) => m.userId === ned.userId);

    const nickname = `${ned.nickname}_v2`;
    await gw.ok('PATCH', `/v1/users/${ned.userId}`, ned.accessToken, { user: { nickname }, updateMask: 'nickname' });
    await waitFor("the chat's copy of the profile to be refreshed", async () => (await nedIn())?.nickname === nickname);
    await stream.next('chatUpdated', (u) => kindOf(u) === 'chatUpdated');

    await gw.ok('DELETE', `/v1/users/${ned.userId}`, ned.accessToken);
    await waitFor('the deleted user to leave the chat', async () => (await nedIn()) === undefined);
    const removed = await stream.next('memberRemoved', (u) => kindOf(u) === 'memberRemoved');
    expect(removed.memberRemoved).toMatchObject({ chatId: chat.chatId, userId: ned.userId });
  }, 30_000);
});
