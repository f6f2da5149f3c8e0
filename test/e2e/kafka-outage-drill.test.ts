// The Kafka outage drill: the whole system (startSystem, every service and
// the gateway) reaches the Kafka mock cluster only through a TCP proxy, so
// cutting the proxy makes Kafka unreachable for every producer and consumer
// at once. Clients keep registering, befriending, chatting, renaming and
// deleting accounts through the gateway meanwhile; once Kafka is back every
// event arrives (no outbox entry lost) and every consumer's effect happens
// exactly once. Then a lost acknowledgement: the broker stores a publish but
// its answer never arrives, so the same events are stored twice, and the
// consumers' processed-event ids keep the effect single.
//
// The outage lasts KAFKA_OUTAGE_SECONDS (default 20). 20 s is already far
// beyond every client timeout that matters here (session 3 s, request 30 s
// with retries failing fast on refused connections, the relay's 10 s backoff
// cap), so a longer outage exercises no further code path, and make test runs
// on small shared machines: the 60 s drill is `KAFKA_OUTAGE_SECONDS=60`.
// An observer on its own bus reads the brokers directly and records every
// event. Runs under scripts/with-test-infra.sh (make test).
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Account, Gateway } from './support/http.ts';
import { kafkaBrokers } from './support/kafka.ts';
import { type KafkaProxy, startKafkaProxy } from './support/kafka-proxy.ts';
import { openUpdateStream, type Update, type UpdateStream } from './support/stream.ts';
import { type KafkaSystem, startKafkaSystem } from './support/system.ts';
import { waitFor } from './support/wait.ts';

const TOPICS = ['auth.events', 'user.events', 'subscriber.events', 'chat.events'];
const OUTAGE_SECONDS = Number(process.env.KAFKA_OUTAGE_SECONDS ?? '20');
/** How long the system may take to deliver everything once Kafka is back. */
const RECOVERY_MS = 60_000;

describe('Kafka outage drill, whole system', () => {
  let proxy: KafkaProxy;
  let k: KafkaSystem;
  let gw: Gateway;
  const streams: UpdateStream[] = [];

  beforeAll(async () => {
    if (!Number.isInteger(OUTAGE_SECONDS) || OUTAGE_SECONDS < 1) {
      throw new Error(`KAFKA_OUTAGE_SECONDS must be a positive integer, got ${process.env.KAFKA_OUTAGE_SECONDS}`);
    }
    const [broker] = kafkaBrokers();
    if (broker === undefined) throw new Error('KAFKA_BROKERS names no broker');
    proxy = await startKafkaProxy(broker);
    k = await startKafkaSystem('drill', TOPICS, {
      brokers: [proxy.address],
      // Refused connections fail fast; a request cut mid-way gives up soon, so the outbox keeps it.
      connectionTimeoutMs: 500,
      requestTimeoutMs: 3000,
    });
    gw = k.gateway;
  }, 90_000);

  afterAll(async () => {
    await Promise.all(streams.map((s) => s.close()));
    await proxy?.start();
    await k?.stop();
    await proxy?.stop();
  }, 60_000);

  /** Distinct events (by id) of `type`, optionally only those with `key`. */
  const distinct = (type: string, key?: string) =>
    new Set(k.events.filter((e) => e.type === type && (key === undefined || e.key === key)).map((e) => e.id)).size;
  const pairId = (a: string, b: string) => [a, b].sort().join(':');
  const befriend = async (a: Account, b: Account) => {
    await gw.ok('POST', `/v1/friends/${b.userId}`, a.accessToken, {});
    await gw.ok('POST', `/v1/friends/${a.userId}/confirm`, b.accessToken, {});
  };
  const groupOf = async (owner: Account, members: Account[]) =>
    (
      (
        await gw.ok('POST', '/v1/chats', owner.accessToken, {
          type: 'CHAT_TYPE_GROUP',
          title: 'drill',
          memberIds: members.map((m) => m.userId),
        })
      ).chat as { chatId: string }
    ).chatId;
  const nicknameIn = async (viewer: Account, chatId: string, userId: string) =>
    (
      (await gw.ok('GET', `/v1/chats/${chatId}`, viewer.accessToken)).chat as {
        members: { userId: string; nickname: string }[];
      }
    ).members.find((m) => m.userId === userId)?.nickname;
  const kindOf = (u: Update) => Object.keys(u).find((key) => key !== 'updateId' && key !== 'time');
  const messageIdsOn = (stream: UpdateStream) =>
    stream.updates
      .filter((u) => kindOf(u) === 'messageCreated')
      .map((u) => (u.messageCreated as { messageId: string }).messageId);

  it(`loses no event and applies every effect once across a ${OUTAGE_SECONDS} s outage for producers and consumers`, async () => {
    // Before: friends in a group chat, one of them with an open live-updates stream.
    const [ann, bob, cat, doomed] = [
      await gw.register('ann'),
      await gw.register('bob'),
      await gw.register('cat'),
      await gw.register('doomed'),
    ];
    await befriend(ann, bob);
    await befriend(ann, cat);
    await befriend(ann, doomed);
    await befriend(bob, doomed);
    const chatId = await groupOf(ann, [bob, cat, doomed]);
    const annStream = await openUpdateStream(gw.url, ann.accessToken);
    streams.push(annStream);
    await waitFor(
      'the events so far',
      () => distinct('chat.chat.created', chatId) === 1 && distinct('auth.account.created') === 4,
    );

    // Kafka unreachable for everyone, for the whole outage.
    await proxy.stop();
    const outageEnds = Date.now() + OUTAGE_SECONDS * 1000;
    const registered: Account[] = [];
    const messageIds: string[] = [];
    const newNickname = `${cat.nickname}_renamed`;
    // Several services write concurrently: auth and user (registrations),
    // subscriber (friend requests), chat (messages), user again (a rename and a deletion).
    await Promise.all([
      (async () => {
        for (let i = 0; i < 5; i++) {
          const who = await gw.register(`new${i}`);
          registered.push(who);
          await gw.ok('POST', `/v1/friends/${ann.userId}`, who.accessToken, {});
        }
      })(),
      (async () => {
        for (const [i, sender] of [ann, bob, cat, ann, bob, cat].entries()) {
          const sent = await gw.ok('POST', `/v1/chats/${chatId}/messages`, sender.accessToken, {
            clientMessageId: randomUUID(),
            text: `during the outage ${i}`,
          });
          messageIds.push((sent.message as { messageId: string }).messageId);
        }
      })(),
      gw.ok('PATCH', `/v1/users/${cat.userId}`, cat.accessToken, {
        user: { nickname: newNickname },
        updateMask: 'nickname',
      }),
      gw.ok('DELETE', `/v1/users/${doomed.userId}`, doomed.accessToken),
    ]);
    // Nothing written during the outage has reached Kafka.
    expect(distinct('auth.account.created')).toBe(4);
    expect(distinct('chat.message.created', chatId)).toBe(0);
    await sleep(Math.max(0, outageEnds - Date.now()));
    expect(distinct('user.user.deleted', doomed.userId)).toBe(0);

    // Kafka back: every outbox entry is published…
    await proxy.start();
    await waitFor('the registrations', () => distinct('auth.account.created') === 4 + 5, RECOVERY_MS);
    await waitFor('the profiles', () => distinct('user.user.created') === 4 + 5, RECOVERY_MS);
    await waitFor(
      'the friend requests',
      () => registered.every((r) => distinct('subscriber.friendship.requested', pairId(r.userId, ann.userId)) === 1),
      RECOVERY_MS,
    );
    await waitFor('the messages', () => distinct('chat.message.created', chatId) === 6, RECOVERY_MS);
    await waitFor('the rename', () => distinct('user.user.updated', cat.userId) === 1, RECOVERY_MS);
    await waitFor('the deletion', () => distinct('user.user.deleted', doomed.userId) === 1, RECOVERY_MS);

    // …and every consumer reacts, once. subscriber: the deleted user's two friendships removed.
    await waitFor(
      "the deleted user's friendships removed",
      () =>
        distinct('subscriber.friendship.removed', pairId(ann.userId, doomed.userId)) === 1 &&
        distinct('subscriber.friendship.removed', pairId(bob.userId, doomed.userId)) === 1,
      RECOVERY_MS,
    );
    // chat: the renamed member's copy refreshed, the deleted member removed.
    await waitFor('the refreshed member copy', async () => (await nicknameIn(ann, chatId, cat.userId)) === newNickname);
    await waitFor(
      'the deleted member removed',
      async () => (await nicknameIn(ann, chatId, doomed.userId)) === undefined,
    );
    // auth: the deleted user's sessions revoked.
    await waitFor('the revoked sessions', () => distinct('auth.session.revoked', doomed.userId) >= 1, RECOVERY_MS);
    // Live updates: every message on the open stream.
    await waitFor('every message on the stream', () => messageIds.every((id) => messageIdsOn(annStream).includes(id)));

    // Let any late second reaction surface before counting.
    await k.caughtUp('subscriber.user-deleted', 'user.events');
    await k.caughtUp('chat.user-events', 'user.events');
    await k.caughtUp('auth.user-events', 'user.events');
    await sleep(1000);
    expect(distinct('subscriber.friendship.removed', pairId(ann.userId, doomed.userId))).toBe(1);
    expect(distinct('subscriber.friendship.removed', pairId(bob.userId, doomed.userId))).toBe(1);
    expect(distinct('auth.session.revoked', doomed.userId)).toBe(1);
    expect(distinct('chat.chat.updated', chatId)).toBe(1);
    expect(distinct('chat.chat.members_changed', chatId)).toBe(1);
    // Each message once on the stream: the live-update hub did not repeat any.
    expect(
      messageIdsOn(annStream)
        .filter((id) => messageIds.includes(id))
        .sort(),
    ).toEqual([...messageIds].sort());
    const friends = (await gw.ok('GET', '/v1/friends', ann.accessToken)).friendships as { userId: string }[];
    expect(friends.map((f) => f.userId)).not.toContain(doomed.userId);
  }, 180_000);

  it('a lost acknowledgement stores the deletion twice; each consumer applies it once', async () => {
    const [eve, fay, gus] = [await gw.register('eve'), await gw.register('fay'), await gw.register('gus')];
    await befriend(eve, fay);
    await befriend(gus, fay);
    const chatId = await groupOf(fay, [eve, gus]);
    await waitFor('the chat to be published', () => distinct('chat.chat.created', chatId) === 1);

    const lost = proxy.loseNextProduceAck(`${k.namespace}.user.events`);
    await gw.ok('DELETE', `/v1/users/${fay.userId}`, fay.accessToken);
    await lost;
    const copies = () => k.events.filter((e) => e.type === 'user.user.deleted' && e.key === fay.userId);
    // The broker kept the first copy and the producer, never told, sent it again.
    await waitFor('the deletion stored twice', () => copies().length >= 2, RECOVERY_MS);
    expect(new Set(copies().map((e) => e.id)).size).toBe(1);

    await k.caughtUp('subscriber.user-deleted', 'user.events');
    await k.caughtUp('chat.user-events', 'user.events');
    await k.caughtUp('auth.user-events', 'user.events');
    await waitFor(
      'the friendships removed',
      () => distinct('subscriber.friendship.removed', pairId(eve.userId, fay.userId)) === 1,
    );
    await waitFor('the member removed', () => distinct('chat.chat.members_changed', chatId) === 1);
    await sleep(1000);
    expect(distinct('subscriber.friendship.removed', pairId(eve.userId, fay.userId))).toBe(1);
    expect(distinct('subscriber.friendship.removed', pairId(gus.userId, fay.userId))).toBe(1);
    expect(distinct('auth.session.revoked', fay.userId)).toBe(1);
    expect(distinct('chat.chat.members_changed', chatId)).toBe(1);
  }, 120_000);
});
