// gRPC integration of chats and messages: the real chat, user and subscriber
// services on loopback ports, one in-process event bus, real tokens.
import { randomUUID } from 'node:crypto';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import {
  type Chat,
  ChatMemberRole,
  ChatServiceClient,
  ChatType,
  type Message,
} from '@messenger/gen/messenger/chat/v1/chat';
import { fieldViolationsOf, reasonOf } from '@messenger/platform/grpc';
import { call, failure } from '@messenger/platform/testing';
import { type ChatTestSystem, startChatTestSystem, type TestUser, waitFor } from '../testing/chat-test-system.ts';

const { CHAT_TYPE_DIRECT: DIRECT, CHAT_TYPE_GROUP: GROUP, CHAT_TYPE_UNSPECIFIED } = ChatType;
const MEMBER_CAP = 6;

describe('ChatService over gRPC', () => {
  let sys: ChatTestSystem;
  let client: ChatServiceClient;

  beforeAll(async () => {
    sys = await startChatTestSystem({ limits: { memberCap: MEMBER_CAP, unreadCountCap: 50 } });
    client = sys.client;
  });
  afterAll(async () => {
    await sys.stop();
  });

  const refused = async (pending: Promise<unknown>) => {
    const error = await failure(pending);
    return [error.code, reasonOf(error)];
  };
  const violations = async (pending: Promise<unknown>) => {
    const error = await failure(pending);
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    return fieldViolationsOf(error).map((v) => v.field);
  };
  /** A group of the owner's friends (befriended here first), who join at once. */
  const createGroup = async (owner: TestUser, members: TestUser[], title = 'the group') => {
    for (const m of members) if (m.id !== owner.id) await sys.befriend(owner, m);
    return (
      await call(client, client.createChat, { type: GROUP, memberIds: members.map((m) => m.id), title }, owner.md)
    ).chat as Chat;
  };
  const createDirect = async (a: TestUser, b: TestUser) =>
    (await call(client, client.createChat, { type: DIRECT, memberIds: [b.id], title: '' }, a.md)).chat as Chat;
  const send = async (who: TestUser, chat: Chat, text = 'hi', clientMessageId: string = randomUUID()) =>
    (
      await call(
        client,
        client.sendMessage,
        { chatId: chat.chatId, clientMessageId, text, replyToMessageId: '', attachmentIds: [] },
        who.md,
      )
    ).message as Message;
  const getChat = async (who: TestUser, chat: Chat) =>
    (await call(client, client.getChat, { chatId: chat.chatId }, who.md)).chat as Chat;
  const history = async (who: TestUser, chat: Chat, pageSize = 0, pageToken = '') =>
    call(client, client.listMessages, { chatId: chat.chatId, pageSize, pageToken }, who.md);
  const listChats = async (who: TestUser, pageSize = 0, pageToken = '') =>
    call(client, client.listChats, { pageSize, pageToken }, who.md);
  /** Up to six new users, destructured as a tuple. */
  const users = async (n: number) =>
    (await Promise.all(Array.from({ length: n }, () => sys.newUser()))) as unknown as [
      TestUser,
      TestUser,
      TestUser,
      TestUser,
      TestUser,
      TestUser,
    ];

  describe('CreateChat', () => {
    it('creates a direct chat between friends once, whoever asks again', async () => {
      const [a, b] = await users(2);
      await sys.befriend(a, b);
      const chat = await createDirect(a, b);
      expect(chat).toMatchObject({ type: DIRECT, title: '', ownerId: '' });
      expect(chat.members.map((m) => [m.userId, m.role, m.nickname])).toEqual([
        [a.id, ChatMemberRole.CHAT_MEMBER_ROLE_MEMBER, a.nickname],
        [b.id, ChatMemberRole.CHAT_MEMBER_ROLE_MEMBER, b.nickname],
      ]);
      expect((await createDirect(a, b)).chatId).toBe(chat.chatId);
      expect((await createDirect(b, a)).chatId).toBe(chat.chatId);
      const [x, y] = await Promise.all([createDirect(b, a), createDirect(a, b)]);
      expect([x.chatId, y.chatId]).toEqual([chat.chatId, chat.chatId]);
    });

    it('refuses a direct chat with a stranger, a pending request or an unknown user', async () => {
      const [a, b, c] = await users(3);
      expect(await refused(createDirect(a, b))).toEqual([status.FAILED_PRECONDITION, 'NOT_FRIENDS']);
      await call(sys.friends, sys.friends.makeFriend, { userId: c.id }, a.md);
      expect(await refused(createDirect(a, c))).toEqual([status.FAILED_PRECONDITION, 'NOT_FRIENDS']);
      const ghost = { ...b, id: randomUUID() };
      expect(await refused(createDirect(a, ghost))).toEqual([status.NOT_FOUND, 'USER_NOT_FOUND']);
    });

    it('creates a group of existing users owned by its creator', async () => {
      const [owner, b, c] = await users(3);
      const chat = await createGroup(owner, [b, c, b, owner], 'Weekend ✨');
      expect(chat).toMatchObject({ type: GROUP, title: 'Weekend ✨', ownerId: owner.id });
      expect(chat.members.map((m) => [m.userId, m.role])).toEqual([
        [owner.id, ChatMemberRole.CHAT_MEMBER_ROLE_OWNER],
        [b.id, ChatMemberRole.CHAT_MEMBER_ROLE_MEMBER],
        [c.id, ChatMemberRole.CHAT_MEMBER_ROLE_MEMBER],
      ]);
      expect(chat.members[1]?.nickname).toBe(b.nickname);
      expect(chat.lastActivityTime).toEqual(chat.createTime);
      const ghost = randomUUID();
      const missing = await failure(
        call(client, client.createChat, { type: GROUP, memberIds: [b.id, ghost], title: 't' }, owner.md),
      );
      expect([missing.code, reasonOf(missing)]).toEqual([status.NOT_FOUND, 'USER_NOT_FOUND']);
    });

    it('checks type, members and title', async () => {
      const [a, b, c] = await users(3);
      await sys.befriend(a, b);
      const create = (type: ChatType, memberIds: string[], title: string) =>
        call(client, client.createChat, { type, memberIds, title }, a.md);
      expect(await violations(create(CHAT_TYPE_UNSPECIFIED, [b.id], ''))).toEqual(['type']);
      expect(await violations(create(99 as ChatType, [b.id], ''))).toEqual(['type']);
      expect(await violations(create(DIRECT, [b.id, c.id], ''))).toEqual(['member_ids']);
      expect(await violations(create(DIRECT, [a.id], ''))).toEqual(['member_ids']);
      expect(await violations(create(DIRECT, [b.id], 'title'))).toEqual(['title']);
      expect(await violations(create(DIRECT, ['bob'], ''))).toEqual(['member_ids[0]']);
      expect(await violations(create(GROUP, [b.id], ''))).toEqual(['title']);
      expect(await violations(create(GROUP, [b.id], '   '))).toEqual(['title']);
      expect(await violations(create(GROUP, [b.id], 'x'.repeat(129)))).toEqual(['title']);
      expect(await violations(create(GROUP, [], 'empty'))).toEqual(['member_ids']);
      const many = Array.from({ length: MEMBER_CAP }, () => randomUUID());
      expect(await violations(create(GROUP, many, 'too big'))).toEqual(['member_ids']);
    });

    it('is for signed-in users only', async () => {
      const anonymous = await failure(
        call(client, client.createChat, { type: GROUP, memberIds: [], title: 't' }, new Metadata()),
      );
      expect(anonymous.code).toBe(status.UNAUTHENTICATED);
      const asService = sys.auth.bearer(await sys.auth.serviceToken('gateway'));
      expect(await refused(call(client, client.listChats, { pageSize: 0, pageToken: '' }, asService))).toEqual([
        status.PERMISSION_DENIED,
        'USER_CALLER_REQUIRED',
      ]);
    });
  });

  describe('membership', () => {
    it('hides a chat and its messages from everyone but its members', async () => {
      const [a, b, outsider] = await users(3);
      const chat = await createGroup(a, [b]);
      const m = await send(a, chat);
      const notFound = [status.NOT_FOUND, 'CHAT_NOT_FOUND'];
      expect(await refused(getChat(outsider, chat))).toEqual(notFound);
      expect(await refused(send(outsider, chat))).toEqual(notFound);
      expect(await refused(history(outsider, chat))).toEqual(notFound);
      expect(
        await refused(call(client, client.getMessage, { chatId: chat.chatId, messageId: m.messageId }, outsider.md)),
      ).toEqual(notFound);
      expect(
        await refused(
          call(client, client.editMessage, { chatId: chat.chatId, messageId: m.messageId, text: 'x' }, outsider.md),
        ),
      ).toEqual(notFound);
      expect(
        await refused(call(client, client.deleteMessage, { chatId: chat.chatId, messageId: m.messageId }, outsider.md)),
      ).toEqual(notFound);
      expect(
        await refused(call(client, client.markRead, { chatId: chat.chatId, upToSequence: '1' }, outsider.md)),
      ).toEqual(notFound);
      expect(
        await refused(
          call(client, client.addChatMembers, { chatId: chat.chatId, memberIds: [outsider.id] }, outsider.md),
        ),
      ).toEqual(notFound);
      expect(
        await refused(call(client, client.removeChatMember, { chatId: chat.chatId, userId: a.id }, outsider.md)),
      ).toEqual(notFound);
      // A chat that does not exist looks the same.
      expect(await refused(getChat(a, { ...chat, chatId: randomUUID() }))).toEqual(notFound);
      expect(await violations(getChat(a, { ...chat, chatId: 'nope' }))).toEqual(['chat_id']);
      expect((await listChats(outsider)).chats).toEqual([]);
    });

    it('lets only the owner add existing users, skipping members, up to the cap', async () => {
      const [owner, b, c, d, e, f] = await users(6);
      const chat = await createGroup(owner, [b]);
      for (const u of [c, d, e, f]) await sys.befriend(owner, u);
      const add = (who: TestUser, ids: string[]) =>
        call(client, client.addChatMembers, { chatId: chat.chatId, memberIds: ids }, who.md);
      expect(await refused(add(b, [c.id]))).toEqual([status.PERMISSION_DENIED, 'NOT_PERMITTED']);
      expect(await refused(add(owner, [c.id, randomUUID()]))).toEqual([status.NOT_FOUND, 'USER_NOT_FOUND']);
      const added = (await add(owner, [c.id, b.id, c.id])).chat as Chat;
      expect(added.members.map((m) => m.userId)).toEqual([owner.id, b.id, c.id]);
      expect((await add(owner, [c.id])).chat?.members).toHaveLength(3);
      await add(owner, [d.id, e.id]);
      // Six is the cap in this suite: one more fits, two do not.
      expect(await refused(add(owner, [f.id, randomUUID()]))).toEqual([status.FAILED_PRECONDITION, 'MEMBER_CAP']);
      expect((await add(owner, [f.id])).chat?.members).toHaveLength(MEMBER_CAP);
      expect(await violations(add(owner, []))).toEqual(['member_ids']);
      // New members see the chat and its history.
      await expect(getChat(f, chat)).resolves.toMatchObject({ chatId: chat.chatId });
    });

    it('lets the owner remove anyone and members leave; the longest-standing member inherits ownership', async () => {
      const [owner, b, c, d] = await users(4);
      const chat = await createGroup(owner, [b, c, d]);
      const remove = (who: TestUser, userId: string) =>
        call(client, client.removeChatMember, { chatId: chat.chatId, userId }, who.md);
      expect(await refused(remove(b, c.id))).toEqual([status.PERMISSION_DENIED, 'NOT_PERMITTED']);
      expect(await refused(remove(owner, randomUUID()))).toEqual([status.NOT_FOUND, 'MEMBER_NOT_FOUND']);
      await remove(owner, d.id);
      expect(await refused(getChat(d, chat))).toEqual([status.NOT_FOUND, 'CHAT_NOT_FOUND']);
      await remove(owner, owner.id);
      const after = await getChat(b, chat);
      expect(after.ownerId).toBe(b.id);
      expect(after.members.map((m) => [m.userId, m.role])).toEqual([
        [b.id, ChatMemberRole.CHAT_MEMBER_ROLE_OWNER],
        [c.id, ChatMemberRole.CHAT_MEMBER_ROLE_MEMBER],
      ]);
      await remove(c, c.id);
      expect((await getChat(b, chat)).members.map((m) => m.userId)).toEqual([b.id]);
    });

    it('invites non-friends instead of adding them; they join only by accepting, or decline', async () => {
      const [owner, friend, stranger, other] = await users(4);
      await sys.befriend(owner, friend);
      const made = await call(
        client,
        client.createChat,
        { type: GROUP, memberIds: [friend.id, stranger.id], title: 'consent' },
        owner.md,
      );
      const chat = made.chat as Chat;
      expect(chat.members.map((m) => m.userId)).toEqual([owner.id, friend.id]);
      expect(made.invitedUserIds).toEqual([stranger.id]);
      const added = await call(client, client.addChatMembers, { chatId: chat.chatId, memberIds: [other.id] }, owner.md);
      expect([added.chat?.members.length, added.invitedUserIds]).toEqual([2, [other.id]]);

      // Not a member yet: the chat does not exist for them and they cannot post.
      expect(await refused(getChat(stranger, chat))).toEqual([status.NOT_FOUND, 'CHAT_NOT_FOUND']);
      expect(await refused(send(stranger, chat))).toEqual([status.NOT_FOUND, 'CHAT_NOT_FOUND']);
      const listed = await call(client, client.listChatInvitations, { pageSize: 0, pageToken: '' }, stranger.md);
      expect(listed.invitations).toMatchObject([{ chatId: chat.chatId, title: 'consent', inviterId: owner.id }]);
      const lapse = listed.invitations[0];
      expect((lapse?.expireTime?.getTime() ?? 0) - (lapse?.createTime?.getTime() ?? 0)).toBe(7 * 24 * 60 * 60 * 1000);

      const accepted = await call(client, client.acceptChatInvitation, { chatId: chat.chatId }, stranger.md);
      expect(accepted.chat?.members.map((m) => m.userId)).toEqual([owner.id, friend.id, stranger.id]);
      await expect(send(stranger, chat, 'joined')).resolves.toMatchObject({ text: 'joined' });
      expect(await refused(call(client, client.acceptChatInvitation, { chatId: chat.chatId }, stranger.md))).toEqual([
        status.NOT_FOUND,
        'INVITATION_NOT_FOUND',
      ]);

      await call(client, client.declineChatInvitation, { chatId: chat.chatId }, other.md);
      await expect(
        call(client, client.listChatInvitations, { pageSize: 0, pageToken: '' }, other.md),
      ).resolves.toMatchObject({ invitations: [] });
      expect(await refused(call(client, client.acceptChatInvitation, { chatId: chat.chatId }, other.md))).toEqual([
        status.NOT_FOUND,
        'INVITATION_NOT_FOUND',
      ]);
      expect(await violations(call(client, client.acceptChatInvitation, { chatId: 'nope' }, other.md))).toEqual([
        'chat_id',
      ]);
    });

    it('keeps the members of a direct chat fixed', async () => {
      const [a, b, c] = await users(3);
      await sys.befriend(a, b);
      const chat = await createDirect(a, b);
      expect(
        await refused(call(client, client.addChatMembers, { chatId: chat.chatId, memberIds: [c.id] }, a.md)),
      ).toEqual([status.FAILED_PRECONDITION, 'DIRECT_CHAT']);
      expect(await refused(call(client, client.removeChatMember, { chatId: chat.chatId, userId: a.id }, a.md))).toEqual(
        [status.FAILED_PRECONDITION, 'DIRECT_CHAT'],
      );
    });
  });

  describe('SendMessage', () => {
    it('numbers messages per chat and moves the chat to the top of its members’ lists', async () => {
      const [a, b] = await users(2);
      const first = await createGroup(a, [b]);
      const second = await createGroup(a, [b]);
      const m1 = await send(a, first, 'one');
      const m2 = await send(b, first, 'two');
      const n1 = await send(a, second, 'other');
      expect([m1.sequence, m2.sequence, n1.sequence]).toEqual(['1', '2', '1']);
      expect(m2).toMatchObject({ chatId: first.chatId, senderId: b.id, text: 'two', deleted: false });
      expect(m2.createTime).toBeInstanceOf(Date);
      expect(m2.editTime).toBeUndefined();
      await send(b, first, 'three');
      expect((await listChats(a)).chats.map((s) => s.chat?.chatId)).toEqual([first.chatId, second.chatId]);
    });

    it('returns the first message for a retried client message id and stores nothing new', async () => {
      const [a, b] = await users(2);
      const chat = await createGroup(a, [b]);
      const id = randomUUID();
      const first = await send(a, chat, 'once', id);
      expect(await send(a, chat, 'once', id)).toEqual(first);
      expect(await send(a, chat, 'different text', id.toUpperCase())).toEqual(first);
      const fromB = await send(b, chat, 'same id, other sender', id);
      expect(fromB.sequence).toBe('2');
      expect((await history(a, chat)).messages.map((m) => m.sequence)).toEqual(['2', '1']);
    });

    it('gives 100 concurrent sends 100 distinct sequences without gaps', async () => {
      const members = await users(4);
      const [owner, ...rest] = members as [TestUser, ...TestUser[]];
      const chat = await createGroup(owner, rest);
      const sent = await Promise.all(
        Array.from({ length: 100 }, (_, i) => send(members[i % 4] as TestUser, chat, `message ${i}`)),
      );
      const sequences = sent.map((m) => Number(m.sequence)).sort((x, y) => x - y);
      expect(sequences).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(new Set(sent.map((m) => m.messageId)).size).toBe(100);
      const page = await history(owner, chat, 1000);
      expect(page.messages.map((m) => Number(m.sequence))).toEqual(Array.from({ length: 100 }, (_, i) => 100 - i));
    });

    it('checks the text and the client message id', async () => {
      const [a] = await users(1);
      const chat = await createGroup(a, await users(1));
      const sendRaw = (text: string, clientMessageId: string = randomUUID()) =>
        call(
          client,
          client.sendMessage,
          { chatId: chat.chatId, clientMessageId, text, replyToMessageId: '', attachmentIds: [] },
          a.md,
        );
      expect(await violations(sendRaw(''))).toEqual(['text']);
      expect(await violations(sendRaw(' \n\t '))).toEqual(['text']);
      expect(await violations(sendRaw('x'.repeat(4097)))).toEqual(['text']);
      expect(await violations(sendRaw('ok', 'not-a-uuid'))).toEqual(['client_message_id']);
      expect(await violations(sendRaw('ok', ''))).toEqual(['client_message_id']);
      // 4096 code points, each of two UTF-16 units, fit.
      await expect(sendRaw('😀'.repeat(4096))).resolves.toBeDefined();
    });
  });

  describe('replies and threads', () => {
    const reply = (who: TestUser, chat: Chat, replyToMessageId: string, text = 're') =>
      call(
        client,
        client.sendMessage,
        { chatId: chat.chatId, clientMessageId: randomUUID(), text, replyToMessageId, attachmentIds: [] },
        who.md,
      );
    const thread = (who: TestUser, chat: Chat, messageId: string, pageSize = 0, pageToken = '') =>
      call(client, client.listReplies, { chatId: chat.chatId, messageId, pageSize, pageToken }, who.md);

    it('quotes the parent, counts its replies and lists them oldest first', async () => {
      const [a, b] = await users(2);
      const chat = await createGroup(a, [b]);
      const parent = await send(a, chat, 'x'.repeat(150));
      const r1 = (await reply(b, chat, parent.messageId, 'one')).message as Message;
      const r2 = (await reply(a, chat, parent.messageId.toUpperCase(), 'two')).message as Message;
      expect(r1.replyTo).toEqual({ messageId: parent.messageId, senderId: a.id, text: 'x'.repeat(100) });
      const got = (await call(client, client.getMessage, { chatId: chat.chatId, messageId: parent.messageId }, b.md))
        .message;
      expect(got).toMatchObject({ replyCount: 2, lastReplyTime: r2.createTime });
      const page = await thread(b, chat, parent.messageId, 1);
      expect(page.messages.map((m) => m.text)).toEqual(['one']);
      const rest = await thread(b, chat, parent.messageId, 1, page.nextPageToken);
      expect([rest.messages.map((m) => m.text), rest.nextPageToken]).toEqual([['two'], '']);
      expect((await thread(a, chat, r1.messageId)).messages).toEqual([]);
    });

    it('refuses a reply to a bad, unknown, foreign or deleted message, and hides threads from non-members', async () => {
      const [a, b, c] = await users(3);
      const chat = await createGroup(a, [b]);
      const elsewhere = await createGroup(c, [a]);
      const foreign = await send(c, elsewhere, 'not in this chat');
      expect(await violations(reply(a, chat, 'nope'))).toEqual(['reply_to_message_id']);
      expect(await refused(reply(a, chat, randomUUID()))).toEqual([status.NOT_FOUND, 'MESSAGE_NOT_FOUND']);
      expect(await refused(reply(a, chat, foreign.messageId))).toEqual([status.NOT_FOUND, 'MESSAGE_NOT_FOUND']);
      const gone = await send(a, chat, 'soon gone');
      await call(client, client.deleteMessage, { chatId: chat.chatId, messageId: gone.messageId }, a.md);
      expect((await refused(reply(b, chat, gone.messageId)))[0]).toBe(status.FAILED_PRECONDITION);
      expect(await refused(thread(c, chat, gone.messageId))).toEqual([status.NOT_FOUND, 'CHAT_NOT_FOUND']);
      expect(await violations(thread(a, chat, gone.messageId, 0, 'garbage'))).toEqual(['page_token']);
    });
  });

  describe('history', () => {
    it('pages newest first with opaque tokens, stable while new messages arrive', async () => {
      const [a, b] = await users(2);
      const chat = await createGroup(a, [b]);
      for (let i = 1; i <= 7; i++) await send(i % 2 ? a : b, chat, `m${i}`);
      const first = await history(b, chat, 3);
      expect(first.messages.map((m) => m.text)).toEqual(['m7', 'm6', 'm5']);
      await send(a, chat, 'm8');
      const second = await history(b, chat, 3, first.nextPageToken);
      expect(second.messages.map((m) => m.text)).toEqual(['m4', 'm3', 'm2']);
      const third = await history(b, chat, 3, second.nextPageToken);
      expect(third.messages.map((m) => m.text)).toEqual(['m1']);
      expect(third.nextPageToken).toBe('');
      expect((await history(b, chat)).messages).toHaveLength(8);
    });

    it('refuses a negative page size and tokens of another chat or list', async () => {
      const [a] = await users(1);
      const one = await createGroup(a, await users(1));
      const two = await createGroup(a, await users(1));
      for (let i = 0; i < 3; i++) await send(a, one);
      const token = (await history(a, one, 1)).nextPageToken;
      expect(token).not.toBe('');
      expect(await violations(history(a, one, -1))).toEqual(['page_size']);
      expect(await violations(history(a, two, 1, token))).toEqual(['page_token']);
      expect(await violations(history(a, one, 1, 'garbage'))).toEqual(['page_token']);
      expect(await violations(listChats(a, 1, token))).toEqual(['page_token']);
    });

    it('gets, edits and deletes messages by their rules', async () => {
      const [owner, b, c] = await users(3);
      const chat = await createGroup(owner, [b, c]);
      const m = await send(b, chat, 'original');
      const get = (who: TestUser, messageId = m.messageId) =>
        call(client, client.getMessage, { chatId: chat.chatId, messageId }, who.md);
      const edit = (who: TestUser, text: string) =>
        call(client, client.editMessage, { chatId: chat.chatId, messageId: m.messageId, text }, who.md);
      const del = (who: TestUser, messageId = m.messageId) =>
        call(client, client.deleteMessage, { chatId: chat.chatId, messageId }, who.md);

      expect((await get(c)).message).toEqual(m);
      expect(await refused(get(c, randomUUID()))).toEqual([status.NOT_FOUND, 'MESSAGE_NOT_FOUND']);
      const other = await createGroup(b, [c]);
      expect(
        await refused(call(client, client.getMessage, { chatId: other.chatId, messageId: m.messageId }, b.md)),
      ).toEqual([status.NOT_FOUND, 'MESSAGE_NOT_FOUND']);

      expect(await refused(edit(owner, 'hijack'))).toEqual([status.PERMISSION_DENIED, 'NOT_SENDER']);
      expect(await violations(edit(b, ''))).toEqual(['text']);
      const edited = (await edit(b, 'edited')).message as Message;
      expect(edited).toMatchObject({ messageId: m.messageId, sequence: m.sequence, text: 'edited' });
      expect(edited.editTime).toBeInstanceOf(Date);
      expect((await edit(b, 'edited')).message).toEqual(edited);

      expect(await refused(del(c))).toEqual([status.PERMISSION_DENIED, 'NOT_SENDER']);
      const tombstone = (await del(owner)).message as Message;
      expect(tombstone).toMatchObject({ messageId: m.messageId, sequence: m.sequence, senderId: b.id, text: '' });
      expect(tombstone.deleted).toBe(true);
      expect((await del(b)).message).toEqual(tombstone);
      expect(await refused(edit(b, 'again'))).toEqual([status.FAILED_PRECONDITION, 'MESSAGE_DELETED']);
      expect((await history(c, chat)).messages).toEqual([tombstone]);
      // A sender deletes their own message; in a direct chat nobody else can.
      const own = await send(c, chat);
      expect((await del(c, own.messageId)).message?.deleted).toBe(true);
    });
  });

  describe('ListChats and MarkRead', () => {
    it('lists chats by activity with the last message and the unread count from the read position', async () => {
      const [me, b, c] = await users(3);
      const quiet = await createGroup(b, [me], 'quiet');
      const busy = await createGroup(c, [me, b], 'busy');
      const mine = await createGroup(me, [b], 'mine');
      await send(b, busy, 'b1');
      const c1 = await send(c, busy, 'c1');
      await send(me, busy, 'me1');
      const last = await send(c, busy, 'c2');
      await call(client, client.deleteMessage, { chatId: busy.chatId, messageId: c1.messageId }, c.md);

      const summaries = (await listChats(me)).chats;
      expect(summaries.map((s) => s.chat?.title)).toEqual(['busy', 'mine', 'quiet']);
      const top = summaries[0];
      expect(top?.lastMessage).toEqual(last);
      // b1 and c2 count; c1 is deleted and me1 is mine.
      expect([top?.unreadCount, top?.readSequence]).toEqual(['2', '0']);
      expect(summaries[1]?.lastMessage).toBeUndefined();
      expect(summaries[1]?.unreadCount).toBe('0');

      const markRead = (who: TestUser, upToSequence: string) =>
        call(client, client.markRead, { chatId: busy.chatId, upToSequence }, who.md);
      expect(await markRead(me, '1')).toMatchObject({ readSequence: '1', unreadCount: '1' });
      expect(await markRead(me, '99')).toMatchObject({ readSequence: '4', unreadCount: '0' });
      expect(await markRead(me, '2')).toMatchObject({ readSequence: '4', unreadCount: '0' });
      expect(await violations(markRead(me, '0'))).toEqual(['up_to_sequence']);
      expect((await listChats(me)).chats[0]).toMatchObject({ unreadCount: '0', readSequence: '4' });
      expect((await listChats(b)).chats.find((s) => s.chat?.chatId === busy.chatId)?.unreadCount).toBe('2');
      expect(quiet.chatId).not.toBe(mine.chatId);
    });

    it('pages the list and caps the unread count', async () => {
      const [me, b] = await users(2);
      const chats: Chat[] = [];
      for (let i = 0; i < 5; i++) chats.push(await createGroup(b, [me], `g${i}`));
      for (let i = 0; i < 55; i++) await send(b, chats[2] as Chat);
      const first = await listChats(me, 2);
      expect(first.chats.map((s) => s.chat?.title)).toEqual(['g2', 'g4']);
      expect(first.chats[0]?.unreadCount).toBe('50');
      const second = await listChats(me, 2, first.nextPageToken);
      expect(second.chats.map((s) => s.chat?.title)).toEqual(['g3', 'g1']);
      const third = await listChats(me, 2, second.nextPageToken);
      expect(third.chats.map((s) => s.chat?.title)).toEqual(['g0']);
      expect(third.nextPageToken).toBe('');
      expect(await violations(listChats(me, -1))).toEqual(['page_size']);
    });
  });

  describe('user events', () => {
    it('refreshes member profile copies after a profile update, without asking the user service per read', async () => {
      const [a, b] = await users(2);
      const chat = await createGroup(a, [b]);
      const nickname = `${b.nickname}_x`;
      await call(
        sys.users,
        sys.users.updateUser,
        {
          userId: b.id,
          user: {
            userId: b.id,
            nickname,
            about: '',
            avatarUrl: 'https://img.example/b.png',
            createTime: undefined,
            updateTime: undefined,
          },
          updateMask: ['nickname', 'avatar_url'],
        },
        b.md,
      );
      const refreshed = await waitFor(async () => {
        const m = (await getChat(a, chat)).members.find((x) => x.userId === b.id);
        return m?.nickname === nickname ? m : undefined;
      });
      expect(refreshed.avatarUrl).toBe('https://img.example/b.png');
    });

    it('removes a deleted user from their chats, handing over a group they owned', async () => {
      const [owner, b, c] = await users(3);
      await sys.befriend(owner, c);
      const group = await createGroup(owner, [b, c]);
      const direct = await createDirect(owner, c);
      await call(sys.users, sys.users.deleteUser, { userId: owner.id }, owner.md);
      const after = await waitFor(async () => {
        const chat = await getChat(b, group);
        return chat.members.length === 2 ? chat : undefined;
      });
      expect(after.ownerId).toBe(b.id);
      const survivor = await waitFor(async () => {
        const chat = await getChat(c, direct);
        return chat.members.length === 1 ? chat : undefined;
      });
      expect(survivor.members.map((m) => m.userId)).toEqual([c.id]);
    });
  });

  it('answers on a second client connection the same way (a new channel, same server)', async () => {
    const other = new ChatServiceClient(`127.0.0.1:${sys.chat[0]?.running.port}`, credentials.createInsecure());
    try {
      const [a] = await users(1);
      await expect(call(other, other.listChats, { pageSize: 0, pageToken: '' }, a.md)).resolves.toEqual({
        chats: [],
        nextPageToken: '',
      });
    } finally {
      other.close();
    }
  });
});
