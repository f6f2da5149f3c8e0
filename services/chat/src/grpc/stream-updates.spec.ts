// StreamUpdates over gRPC: two chat instances sharing a store and an
// in-process event bus, with the real user and subscriber services.
import { randomUUID } from 'node:crypto';
import { Metadata, status } from '@grpc/grpc-js';
import {
  type Chat,
  type ChatServiceClient,
  ChatType,
  type Message,
  type Update,
} from '@messenger/gen/messenger/chat/v1/chat';
import { FriendshipStatus } from '@messenger/gen/messenger/subscriber/v1/subscriber';
import { fieldViolationsOf } from '@messenger/platform/grpc';
import { call, failure } from '@messenger/platform/testing';
import {
  type ChatInstance,
  type ChatTestSystem,
  readUpdates,
  startChatTestSystem,
  type TestUser,
  type UpdateReader,
} from '../testing/chat-test-system.ts';

const HEARTBEAT_MS = 50;

describe('StreamUpdates over gRPC', () => {
  let sys: ChatTestSystem;
  let one: ChatInstance;
  let two: ChatInstance;
  const open: UpdateReader[] = [];

  beforeAll(async () => {
    sys = await startChatTestSystem({ heartbeatIntervalMs: HEARTBEAT_MS });
    // Both instances subscribe before anything happens, so both have seen every event.
    one = sys.chat[0] as ChatInstance;
    two = await sys.addChatInstance();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.cancel()));
  });
  afterAll(async () => {
    await sys.stop();
  });

  const stream = async (who: TestUser, via: ChatInstance = one) => {
    const reader = readUpdates(via.client, who.md);
    open.push(reader);
    return reader.ready();
  };
  const resume = (who: TestUser, resumeAfter: string, via: ChatInstance = one) => {
    const reader = readUpdates(via.client, who.md, resumeAfter);
    open.push(reader);
    return reader;
  };
  const users = async (n: number) =>
    (await Promise.all(Array.from({ length: n }, () => sys.newUser()))) as unknown as [
      TestUser,
      TestUser,
      TestUser,
      TestUser,
    ];
  /** A group of the owner's friends (befriended here first), who join at once. */
  const createGroup = async (owner: TestUser, members: TestUser[], client: ChatServiceClient = one.client) => {
    for (const m of members) await sys.befriend(owner, m);
    return (
      await call(
        client,
        client.createChat,
        { type: ChatType.CHAT_TYPE_GROUP, memberIds: members.map((m) => m.id), title: 'g' },
        owner.md,
      )
    ).chat as Chat;
  };
  const send = async (who: TestUser, chat: Chat, text: string, via: ChatInstance = one) =>
    (
      await call(
        via.client,
        via.client.sendMessage,
        { chatId: chat.chatId, clientMessageId: randomUUID(), text, replyToMessageId: '', attachmentIds: [] },
        who.md,
      )
    ).message as Message;
  const texts = (updates: Update[], chat?: Chat) =>
    updates
      .map((u) => u.messageCreated)
      .filter((m): m is Message => m !== undefined && !m.system && (!chat || m.chatId === chat.chatId))
      .map((m) => m.text);
  const kinds = (updates: Update[]) =>
    updates.map((u) => Object.keys(u).find((k) => k !== 'updateId' && k !== 'time' && u[k as keyof Update]));

  it("streams a member's chat and message updates in order, and nothing to others", async () => {
    const [a, b, outsider] = await users(3);
    // Friends before the streams open: this test is about chat updates only.
    await sys.befriend(a, b);
    const [sa, sb, so] = [await stream(a), await stream(b), await stream(outsider)];
    const chat = await createGroup(a, [b]);
    const sent: Message[] = [];
    for (let i = 1; i <= 5; i++) sent.push(await send(i % 2 ? a : b, chat, `m${i}`));
    const target = sent[1] as Message;
    await call(
      one.client,
      one.client.editMessage,
      { chatId: chat.chatId, messageId: target.messageId, text: 'e' },
      b.md,
    );
    await call(one.client, one.client.deleteMessage, { chatId: chat.chatId, messageId: target.messageId }, a.md);

    for (const reader of [sa, sb]) {
      const got = await reader.until((u) => u.some((x) => x.messageDeleted));
      expect(kinds(got)).toEqual([
        'chatCreated',
        'messageCreated',
        'messageCreated',
        'messageCreated',
        'messageCreated',
        'messageCreated',
        'messageEdited',
        'messageDeleted',
      ]);
      expect(got[0]?.chatCreated?.chatId).toBe(chat.chatId);
      expect(got.slice(1, 6).map((u) => u.messageCreated)).toEqual(sent);
      expect(got[6]?.messageEdited).toMatchObject({ messageId: target.messageId, text: 'e' });
      expect(got[7]?.messageDeleted).toMatchObject({ messageId: target.messageId, text: '', deleted: true });
      expect(new Set(got.map((u) => u.updateId)).size).toBe(got.length);
      expect(got.every((u) => u.updateId !== '' && u.time instanceof Date)).toBe(true);
    }
    // The outsider got heartbeats only: first the stream's start position,
    // then empty ids at the configured interval.
    await new Promise((r) => setTimeout(r, HEARTBEAT_MS * 3));
    expect(so.content()).toEqual([]);
    const [start, ...idle] = so.updates;
    expect(start?.heartbeat && start.updateId !== '').toBe(true);
    expect(idle.length).toBeGreaterThanOrEqual(2);
    expect(idle.every((u) => u.heartbeat && u.updateId === '')).toBe(true);
  });

  it('tells members about members joining and leaving; a removed member stops getting the chat', async () => {
    const [owner, b, c] = await users(3);
    const chat = await createGroup(owner, [b]);
    await sys.befriend(owner, c);
    const [so, sb, sc] = [await stream(owner), await stream(b), await stream(c)];
    await call(one.client, one.client.addChatMembers, { chatId: chat.chatId, memberIds: [c.id] }, owner.md);
    for (const reader of [so, sb, sc]) {
      const [added] = await reader.until((u) => u.some((x) => x.memberAdded));
      expect(added?.memberAdded).toMatchObject({ userIds: [c.id], addedById: owner.id });
      expect(added?.memberAdded?.chat?.members.map((m) => m.userId)).toEqual([owner.id, b.id, c.id]);
    }
    await call(one.client, one.client.removeChatMember, { chatId: chat.chatId, userId: b.id }, owner.md);
    for (const reader of [so, sc]) {
      const removed = (await reader.until((u) => u.some((x) => x.memberRemoved))).find((u) => u.memberRemoved);
      expect(removed?.memberRemoved).toMatchObject({ chatId: chat.chatId, userId: b.id, removedById: owner.id });
      expect(removed?.memberRemoved?.chat?.members.map((m) => m.userId)).toEqual([owner.id, c.id]);
    }
    const own = (await sb.until((u) => u.some((x) => x.memberRemoved))).find((u) => u.memberRemoved);
    expect(own?.memberRemoved).toMatchObject({ chatId: chat.chatId, userId: b.id });
    expect(own?.memberRemoved?.chat).toBeUndefined();
    await send(owner, chat, 'after b left');
    await sc.until((u) => texts(u).includes('after b left'));
    expect(texts(sb.content())).toEqual([]);
  });

  it('tells only the invitee about an invitation, and gives them the chat once they accept', async () => {
    const [owner, b, stranger] = await users(3);
    const chat = await createGroup(owner, [b]);
    const [so, ss] = [await stream(owner), await stream(stranger)];
    await call(one.client, one.client.addChatMembers, { chatId: chat.chatId, memberIds: [stranger.id] }, owner.md);
    const [invited] = await ss.until((u) => u.some((x) => x.invitationReceived));
    expect(invited?.invitationReceived).toMatchObject({ chatId: chat.chatId, inviterId: owner.id, title: 'g' });
    // Until they accept they get none of the chat's messages.
    await send(owner, chat, 'before accepting');
    await call(one.client, one.client.acceptChatInvitation, { chatId: chat.chatId }, stranger.md);
    const joined = (await ss.until((u) => u.some((x) => x.memberAdded))).find((u) => u.memberAdded);
    expect(joined?.memberAdded).toMatchObject({ userIds: [stranger.id], addedById: owner.id });
    await send(owner, chat, 'after accepting');
    await ss.until((u) => texts(u).includes('after accepting'));
    expect(texts(ss.content())).toEqual(['after accepting']);
    await so.until((u) => u.some((x) => x.memberAdded));
    expect(so.content().some((u) => u.invitationReceived)).toBe(false);
  });

  it('streams friendship changes to both users, each from their own side', async () => {
    const [a, b] = await users(2);
    const [sa, sb] = [await stream(a), await stream(b)];
    const friendship = (reader: UpdateReader) =>
      reader.content().flatMap((u) => (u.friendshipChanged ? [u.friendshipChanged] : []));
    await call(sys.friends, sys.friends.makeFriend, { userId: b.id }, a.md);
    await sa.until((u) => u.length === 1);
    await sb.until((u) => u.length === 1);
    await call(sys.friends, sys.friends.confirmFriend, { userId: a.id }, b.md);
    await call(sys.friends, sys.friends.unfriend, { userId: a.id }, b.md);
    await sa.until((u) => u.length === 3);
    await sb.until((u) => u.length === 3);
    const { FRIENDSHIP_STATUS_OUTGOING, FRIENDSHIP_STATUS_INCOMING, FRIENDSHIP_STATUS_CONFIRMED } = FriendshipStatus;
    const none = FriendshipStatus.FRIENDSHIP_STATUS_UNSPECIFIED;
    expect(friendship(sa)).toEqual([
      { userId: b.id, status: FRIENDSHIP_STATUS_OUTGOING },
      { userId: b.id, status: FRIENDSHIP_STATUS_CONFIRMED },
      { userId: b.id, status: none },
    ]);
    expect(friendship(sb)).toEqual([
      { userId: a.id, status: FRIENDSHIP_STATUS_INCOMING },
      { userId: a.id, status: FRIENDSHIP_STATUS_CONFIRMED },
      { userId: a.id, status: none },
    ]);
  });

  it('reports refreshed member profiles as chat updates', async () => {
    const [a, b] = await users(2);
    const chat = await createGroup(a, [b]);
    const sa = await stream(a);
    await call(
      sys.users,
      sys.users.updateUser,
      {
        userId: b.id,
        user: {
          userId: b.id,
          nickname: `${b.nickname}_2`,
          about: '',
          avatarUrl: '',
          createTime: undefined,
          updateTime: undefined,
        },
        updateMask: ['nickname'],
      },
      b.md,
    );
    const [updated] = await sa.until((u) => u.some((x) => x.chatUpdated));
    expect(updated?.chatUpdated?.chatId).toBe(chat.chatId);
    expect(updated?.chatUpdated?.members.find((m) => m.userId === b.id)?.nickname).toBe(`${b.nickname}_2`);
  });

  it('delivers a message sent through one instance to a stream held by the other', async () => {
    const [a, b] = await users(2);
    const chat = await createGroup(a, [b]);
    const [onTwo, onOne] = [await stream(b, two), await stream(b, one)];
    for (let i = 1; i <= 10; i++) await send(a, chat, `x${i}`, i % 2 ? one : two);
    const expected = Array.from({ length: 10 }, (_, i) => `x${i + 1}`);
    for (const reader of [onTwo, onOne]) {
      await reader.until((u) => texts(u).length === 10);
      // In order, each once, although both instances' outbox relays may publish an event.
      expect(texts(reader.content())).toEqual(expected);
    }
  });

  it('resumes after a disconnect with nothing lost or duplicated, on the same or the other instance', async () => {
    const [a, b] = await users(2);
    const chat = await createGroup(a, [b]);
    const other = await createGroup(b, [a]);
    const sa = await stream(a);
    for (let i = 1; i <= 3; i++) await send(b, chat, `m${i}`);
    const before = await sa.until((u) => texts(u).length === 3);
    const cursor = before.at(-1)?.updateId ?? '';
    await sa.cancel();

    const missed = ['m4', 'm5', 'm6'];
    for (const text of missed) await send(b, chat, text, two);
    await send(b, other, 'elsewhere');
    await send(a, chat, 'mine');

    let live: string[] = [];
    for (const via of [one, two]) {
      const resumed = resume(a, cursor, via);
      const replayed = [...missed, 'mine', ...live];
      const got = await resumed.until((u) => texts(u).length >= replayed.length + 1);
      expect(texts(got, chat)).toEqual(replayed);
      expect(texts(got, other)).toEqual(['elsewhere']);
      // Then live, after the replay.
      const text = `live${live.length + 1}`;
      live = [...live, text];
      await send(b, chat, text);
      const now = await resumed.until((u) => texts(u).length >= replayed.length + 2);
      expect(texts(now).at(-1)).toBe(text);
      expect(texts(now)).toHaveLength(replayed.length + 2);
      await resumed.cancel();
      // Resuming from the last id of a resumed stream continues from there, on either instance.
      const again = resume(a, now.at(-1)?.updateId ?? '', via === one ? two : one);
      await new Promise((r) => setTimeout(r, HEARTBEAT_MS * 3));
      expect(again.content()).toEqual([]);
      await again.cancel();
    }
  });

  it('asks the client to resync when it cannot vouch for the resume point, and refuses a malformed one', async () => {
    const [a] = await users(1);
    // A cursor naming a partition no replica here has ever seen.
    const unknown = Buffer.from(
      JSON.stringify({ h: 'elsewhere', t: { 'chat.events': [null, null, null, 7] } }),
    ).toString('base64url');
    const reader = resume(a, unknown);
    const [first] = await reader.until((u) => u.length > 0);
    expect(first?.resyncRequired).toEqual({});
    expect(first?.updateId).not.toBe('');
    const chat = await createGroup(a, (await users(1)).slice(0, 1));
    await reader.until((u) => u.some((x) => x.chatCreated?.chatId === chat.chatId));

    const malformed = readUpdates(one.client, a.md, 'not a cursor');
    const ended = await malformed.ended;
    expect(ended.code).toBe(status.INVALID_ARGUMENT);
    const error = await failure(
      new Promise((resolve, reject) => {
        const s = one.client.streamUpdates({ resumeAfter: '{}' }, a.md);
        s.on('error', reject);
        s.on('end', resolve);
        s.on('data', () => {});
      }),
    );
    expect(fieldViolationsOf(error).map((v) => v.field)).toEqual(['resume_after']);
  });

  it('ends open streams when an instance stops, so clients reconnect elsewhere', async () => {
    const three = await sys.addChatInstance();
    const [a] = await users(1);
    const reader = readUpdates(three.client, a.md);
    await reader.ready();
    await three.running.stop(1000);
    const ended = await reader.ended;
    expect(ended.code).toBe(status.OK);
    sys.chat.splice(sys.chat.indexOf(three), 1);
    three.client.close();
  });

  it('ends a stream with UNAUTHENTICATED when the access token it was opened with expires', async () => {
    const ann = await sys.newUser();
    const { token } = await sys.auth.signer.signAccessToken({
      userId: ann.id,
      sessionId: randomUUID(),
      roles: [],
      ttlSeconds: 2,
    });
    const reader = readUpdates(one.client, sys.auth.bearer(token));
    open.push(reader);
    await reader.ready();
    const ended = await reader.ended;
    expect(ended.code).toBe(status.UNAUTHENTICATED);
    expect(ended.details).toMatch(/^the access token expired/);
  });
});

describe('StreamUpdates opening', () => {
  let sys: ChatTestSystem;
  beforeAll(async () => {
    // Heartbeats far apart: nothing but the opening itself can reach the client.
    sys = await startChatTestSystem({ heartbeatIntervalMs: 60_000 });
  });
  afterAll(async () => {
    await sys.stop();
  });

  /** Opens a stream; resolves with whether response headers came before it ended or `waitMs` passed, and what came. */
  const open = (md: Metadata, resumeAfter = '', waitMs = 5000) => {
    const client = (sys.chat[0] as ChatInstance).client;
    const s = client.streamUpdates({ resumeAfter }, md);
    const updates: Update[] = [];
    s.on('data', (r: { update?: Update }) => r.update && updates.push(r.update));
    const outcome = new Promise<{ headers: boolean; code?: number }>((resolve) => {
      const guard = setTimeout(() => resolve({ headers: false }), waitMs);
      s.once('metadata', () => {
        clearTimeout(guard);
        resolve({ headers: true });
      });
      s.on('error', (e: { code: number }) => {
        clearTimeout(guard);
        resolve({ headers: false, code: e.code });
      });
    });
    return { outcome, updates, cancel: () => s.cancel() };
  };

  it('sends the response headers as soon as the stream is open, before any update or heartbeat', async () => {
    const a = await sys.newUser();
    const s = open(a.md);
    expect(await s.outcome).toEqual({ headers: true });
    expect(s.updates).toEqual([]);
    s.cancel();
  });

  it('refuses a stream it will not serve with no response headers (trailers only)', async () => {
    const a = await sys.newUser();
    expect(await open(a.md, 'not a cursor').outcome).toEqual({ headers: false, code: status.INVALID_ARGUMENT });
    const stranger = new Metadata();
    stranger.set('authorization', 'Bearer not-a-token');
    expect(await open(stranger).outcome).toEqual({ headers: false, code: status.UNAUTHENTICATED });
  });
});
