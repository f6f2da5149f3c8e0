// The behaviour every ChatStore adapter must show; run by
// memory-chat-store.spec.ts and sqlite-chat-store.spec.ts always and by
// mongo-chat-store.spec.ts when MONGODB_URL is set. The adapters get their events through the service's
// own encoding, so the outbox entries checked here are those production writes.
import { randomUUID } from 'node:crypto';
import { ChatMembersChanged, InvitationCreated, MessageCreated } from '@messenger/gen/messenger/chat/v1/events';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import type { OutboxSource } from '@messenger/platform/events';
import {
  type Chat,
  type ChatEvent,
  directKeyOf,
  type Invitation,
  MAX_KEPT_VERSIONS,
  type Member,
  type Message,
  messageCreated,
  systemEvent,
  tombstoneOf,
  withOwner,
  withoutMember,
  withRole,
} from '../domain/chat.ts';
import { type ChatStorage, isStoreError, type MessageDraft } from '../domain/chat-storage.ts';
import { type SearchCursor, searchTermsOf } from '../domain/search.ts';
import { chatEventEntry } from '../events/chat-events.ts';
import { type ChatStore, withEventEncoding } from './chat-store.ts';

export interface ChatStoreFixture {
  readonly store: ChatStore;
  close(): Promise<void>;
}

export function chatStoreContract(name: string, make: () => Promise<ChatStoreFixture>): void {
  describe(`ChatStore contract: ${name}`, () => {
    let fixture: ChatStoreFixture;
    let store: ChatStorage;
    let outbox: OutboxSource;

    beforeEach(async () => {
      fixture = await make();
      store = withEventEncoding(fixture.store, chatEventEntry);
      outbox = fixture.store.outbox;
    });
    afterEach(async () => {
      await fixture.close();
    });

    let clock = Date.parse('2025-01-01T00:00:00.000Z');
    const tick = () => {
      clock += 1000;
      return new Date(clock);
    };
    const member = (userId: string, role: Member['role'] = 'member'): Member => ({
      userId,
      role,
      nickname: `n_${userId.slice(0, 8)}`,
      avatarUrl: '',
      joinTime: new Date(clock),
      profileTime: undefined,
    });
    const group = (ownerId: string, ...others: string[]): Chat => {
      const t = tick();
      return {
        id: randomUUID(),
        type: 'group',
        title: 'a group',
        description: '',
        avatarUrl: '',
        ownerId,
        directKey: '',
        members: [member(ownerId, 'owner'), ...others.map((id) => member(id))],
        createTime: t,
        lastActivityTime: t,
        lastSequence: 0,
        version: 1,
      };
    };
    const direct = (a: string, b: string): Chat => {
      const t = tick();
      return {
        id: randomUUID(),
        type: 'direct',
        title: '',
        description: '',
        avatarUrl: '',
        ownerId: '',
        directKey: directKeyOf(a, b),
        members: [member(a), member(b)],
        createTime: t,
        lastActivityTime: t,
        lastSequence: 0,
        version: 1,
      };
    };
    const created = (chat: Chat): ChatEvent[] => [
      { kind: 'chat_created', chat, time: chat.createTime, requestId: 'r' },
    ];
    const add = async (chat: Chat) => {
      await store.createChat(chat, created(chat));
      return chat;
    };
    const draft = (
      chatId: string,
      senderId: string,
      text = 'hello',
      clientMessageId: string = randomUUID(),
    ): MessageDraft => ({
      id: randomUUID(),
      chatId,
      senderId,
      clientMessageId,
      text,
      createTime: tick(),
    });
    const eventOf = (message: Message, memberIds: readonly string[]) => messageCreated(message, memberIds, 'r');
    const append = (d: MessageDraft) => store.appendMessage(d, eventOf);
    const post = async (chatId: string, senderId: string, text = 'hello'): Promise<Message> => {
      const result = await append(draft(chatId, senderId, text));
      if (result.kind !== 'created') throw new Error(`not created: ${result.kind}`);
      return result.message;
    };
    const errorOf = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => e,
      );
    const pendingOf = async (chatId: string): Promise<EventEnvelope[]> =>
      (await outbox.pendingEvents(10_000)).map((e) => e.envelope).filter((e) => e.key === chatId);

    it('stores a chat and finds a direct chat by its pair, one per pair', async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      const chat = await add(direct(a, b));
      await expect(store.getChat(chat.id)).resolves.toEqual(chat);
      await expect(store.findDirectChat(directKeyOf(b, a))).resolves.toEqual(chat);
      await expect(store.getChat(randomUUID())).resolves.toBeUndefined();
      await expect(store.findDirectChat(directKeyOf(a, randomUUID()))).resolves.toBeUndefined();
      expect(isStoreError(await errorOf(store.createChat(direct(b, a), [])), 'duplicate')).toBe(true);
      // Groups have no pair key: any number of them with the same members.
      await add(group(a, b));
      await add(group(a, b));
    });

    it('lets exactly one of two concurrent direct chats of a pair in', async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      const [x, y] = [direct(a, b), direct(b, a)];
      const results = await Promise.allSettled([store.createChat(x, created(x)), store.createChat(y, created(y))]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(isStoreError(results.find((r) => r.status === 'rejected')?.reason, 'duplicate')).toBe(true);
      const events = [...(await pendingOf(x.id)), ...(await pendingOf(y.id))];
      expect(events.map((e) => e.type)).toEqual(['chat.chat.created']);
    });

    it('updates a chat only at the expected version, leaving its messages and activity alone', async () => {
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      const chat = await add(group(a, b, c));
      const stale = withoutMember(chat, c);
      await post(chat.id, b);
      const posted = await store.getChat(chat.id);
      await store.updateChat(stale, [
        {
          kind: 'members_changed',
          before: chat,
          after: stale,
          added: [],
          removed: [c],
          actorId: a,
          time: tick(),
          requestId: 'r',
        },
      ]);
      const after = await store.getChat(chat.id);
      expect(after?.members.map((m) => m.userId)).toEqual([a, b]);
      expect(after?.version).toBe(2);
      expect(after?.lastSequence).toBe(1);
      expect(after?.lastActivityTime).toEqual(posted?.lastActivityTime);
      expect(isStoreError(await errorOf(store.updateChat(stale, [])), 'conflict')).toBe(true);
      expect(isStoreError(await errorOf(store.updateChat({ ...stale, id: randomUUID() }, [])), 'conflict')).toBe(true);
      // A removed member's list no longer has the chat; the others' still do.
      await expect(store.listChatsOf(c, undefined, 10)).resolves.toEqual([]);
      await expect(store.chatIdsOf(c, undefined, 10)).resolves.toEqual([]);
      expect((await store.listChatsOf(b, undefined, 10)).map((x) => x.id)).toEqual([chat.id]);
      const changed = (await pendingOf(chat.id)).find((e) => e.type === 'chat.chat.members_changed');
      expect(ChatMembersChanged.decode(changed?.payload?.value ?? new Uint8Array()).removedUserIds).toEqual([c]);
    });

    it('numbers messages 1, 2, 3 per chat and posts only for members', async () => {
      const [a, b, outsider] = [randomUUID(), randomUUID(), randomUUID()];
      const one = await add(group(a, b));
      const two = await add(group(b));
      const m1 = await post(one.id, a, 'first');
      const m2 = await post(one.id, b, 'second');
      const n1 = await post(two.id, b);
      expect([m1.sequence, m2.sequence, n1.sequence]).toEqual([1, 2, 1]);
      expect(m1).toMatchObject({ chatId: one.id, senderId: a, text: 'first', deleted: false, version: 1 });
      expect(m1.editTime).toBeUndefined();
      await expect(append(draft(one.id, outsider))).resolves.toEqual({ kind: 'not_member' });
      await expect(append(draft(randomUUID(), a))).resolves.toEqual({ kind: 'not_member' });
      const chat = await store.getChat(one.id);
      expect(chat?.lastSequence).toBe(2);
      expect(chat?.lastActivityTime).toEqual(m2.createTime);
      await expect(store.getMessage(one.id, m2.id)).resolves.toEqual(m2);
      await expect(store.getMessage(two.id, m2.id)).resolves.toBeUndefined();
    });

    it('returns the stored message for a repeated client message id and stores nothing new', async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      const chat = await add(group(a, b));
      const first = draft(chat.id, a, 'once');
      const stored = await append(first);
      if (stored.kind !== 'created') throw new Error('not created');
      const again = await append({ ...first, id: randomUUID(), text: 'other text', createTime: tick() });
      expect(again).toEqual({ kind: 'existing', message: stored.message });
      // The same id from another sender is another message.
      const other = await append({ ...first, id: randomUUID(), senderId: b });
      expect(other.kind).toBe('created');
      expect((await store.getChat(chat.id))?.lastSequence).toBe(2);
      const created = (await pendingOf(chat.id)).filter((e) => e.type === 'chat.message.created');
      expect(created).toHaveLength(2);
    });

    it('gives 100 concurrent posts 100 distinct sequences without gaps, their events in sequence order', async () => {
      const members = Array.from({ length: 5 }, () => randomUUID());
      const chat = await add(group(members[0] as string, ...members.slice(1)));
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => append(draft(chat.id, members[i % 5] as string, `m${i}`))),
      );
      const sequences = results.map((r) => (r.kind === 'created' ? r.message.sequence : -1)).sort((x, y) => x - y);
      expect(sequences).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect((await store.getChat(chat.id))?.lastSequence).toBe(100);
      const events = (await pendingOf(chat.id)).filter((e) => e.type === 'chat.message.created');
      const order = events.map((e) =>
        Number(MessageCreated.decode(e.payload?.value ?? new Uint8Array()).message?.sequence),
      );
      expect(order).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      const payload = MessageCreated.decode(events[0]?.payload?.value ?? new Uint8Array());
      expect(payload.memberIds).toEqual(members);
    }, 60_000);

    it('pages history newest first by sequence, one range at a time', async () => {
      const a = randomUUID();
      const chat = await add(group(a));
      const other = await add(group(a));
      for (let i = 1; i <= 7; i++) await post(chat.id, a, `m${i}`);
      await post(other.id, a);
      const seqs = (ms: Message[]) => ms.map((m) => m.sequence);
      expect(seqs(await store.listMessages(chat.id, undefined, 3))).toEqual([7, 6, 5]);
      expect(seqs(await store.listMessages(chat.id, 5, 3))).toEqual([4, 3, 2]);
      expect(seqs(await store.listMessages(chat.id, 2, 3))).toEqual([1]);
      expect(seqs(await store.listMessages(chat.id, 1, 3))).toEqual([]);
      expect(seqs(await store.listMessages(randomUUID(), undefined, 3))).toEqual([]);
      const newest = await store.messagesAt([
        { chatId: chat.id, sequence: 7 },
        { chatId: other.id, sequence: 1 },
        { chatId: other.id, sequence: 9 },
      ]);
      expect(newest.map((m) => [m.chatId, m.sequence]).sort()).toEqual(
        [
          [chat.id, 7],
          [other.id, 1],
        ].sort(),
      );
    });

    it("posts a reply with its quote and moves the parent's reply count and time in the same step", async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      const chat = await add(group(a, b));
      const parent = await post(chat.id, a, 'the question');
      const quote = { messageId: parent.id, senderId: a, text: 'the question' };
      const first = await append({ ...draft(chat.id, b, 'one answer'), replyTo: quote });
      const second = await append({ ...draft(chat.id, a, 'another'), replyTo: quote });
      if (first.kind !== 'created' || second.kind !== 'created') throw new Error('not created');
      expect(first.message).toMatchObject({ replyTo: quote, replyCount: 0, sequence: 2 });
      await expect(store.getMessage(chat.id, first.message.id)).resolves.toEqual(first.message);
      const after = await store.getMessage(chat.id, parent.id);
      expect(after).toMatchObject({ replyCount: 2, lastReplyTime: second.message.createTime, version: 1 });
      expect(after?.replyTo).toBeUndefined();
      // A retry of a reply posts nothing and counts nothing.
      await append({ ...draft(chat.id, b, 'one answer', first.message.clientMessageId), replyTo: quote });
      expect((await store.getMessage(chat.id, parent.id))?.replyCount).toBe(2);
      // Editing the parent keeps its replies' count; the replies keep their quote.
      const edited: Message = { ...parent, text: 'edited', editTime: tick(), version: 2 };
      await store.updateMessage(edited, []);
      expect(await store.getMessage(chat.id, parent.id)).toMatchObject({ text: 'edited', replyCount: 2 });
      expect((await store.listMessages(chat.id, undefined, 1))[0]?.replyTo).toEqual(quote);
    });

    it("pages a message's replies oldest first, one range at a time", async () => {
      const a = randomUUID();
      const chat = await add(group(a));
      const parent = await post(chat.id, a, 'root');
      const other = await post(chat.id, a, 'other root');
      const quoteOf = (m: Message) => ({ messageId: m.id, senderId: a, text: m.text });
      for (let i = 1; i <= 5; i++) {
        await append({ ...draft(chat.id, a, `r${i}`), replyTo: quoteOf(parent) });
        await append({ ...draft(chat.id, a, `o${i}`), replyTo: quoteOf(other) });
      }
      const texts = (ms: Message[]) => ms.map((m) => m.text);
      const page1 = await store.listReplies(chat.id, parent.id, undefined, 2);
      expect(texts(page1)).toEqual(['r1', 'r2']);
      const page2 = await store.listReplies(chat.id, parent.id, page1[1]?.sequence, 2);
      expect(texts(page2)).toEqual(['r3', 'r4']);
      expect(texts(await store.listReplies(chat.id, parent.id, page2[1]?.sequence, 2))).toEqual(['r5']);
      expect(await store.listReplies(chat.id, randomUUID(), undefined, 2)).toEqual([]);
      expect(await store.listReplies(randomUUID(), parent.id, undefined, 2)).toEqual([]);
    });

    it('replaces a message only at the expected version', async () => {
      const a = randomUUID();
      const chat = await add(group(a));
      const m = await post(chat.id, a);
      const edited: Message = { ...m, text: 'edited', editTime: tick(), version: 2 };
      await store.updateMessage(edited, [
        { kind: 'message_edited', before: m, after: edited, memberIds: [a], time: tick(), requestId: 'r' },
      ]);
      await expect(store.getMessage(chat.id, m.id)).resolves.toEqual(edited);
      expect(isStoreError(await errorOf(store.updateMessage({ ...m, version: 2, text: 'x' }, [])), 'conflict')).toBe(
        true,
      );
      expect(
        isStoreError(await errorOf(store.updateMessage({ ...edited, id: randomUUID(), version: 3 }, [])), 'conflict'),
      ).toBe(true);
      const types = (await pendingOf(chat.id)).map((e) => e.type);
      expect(types).toEqual(['chat.chat.created', 'chat.message.created', 'chat.message.edited']);
    });

    it("lists a user's chats by latest activity, page by page, and walks them by id", async () => {
      const me = randomUUID();
      const [c1, c2, c3] = [
        await add(group(me)),
        await add(group(randomUUID(), me)),
        await add(direct(me, randomUUID())),
      ];
      await add(group(randomUUID()));
      await post(c1.id, me); // c1 is now the most recently active
      const ids = (cs: Chat[]) => cs.map((c) => c.id);
      expect(ids(await store.listChatsOf(me, undefined, 10))).toEqual([c1.id, c3.id, c2.id]);
      const first = await store.listChatsOf(me, undefined, 2);
      expect(ids(first)).toEqual([c1.id, c3.id]);
      const last = first[1] as Chat;
      const cursor = { lastActivityTime: last.lastActivityTime, chatId: last.id };
      expect(ids(await store.listChatsOf(me, cursor, 2))).toEqual([c2.id]);
      // Equal activity times are ordered by chat id, descending.
      const t = tick();
      const [x, y] = [
        { ...group(me), lastActivityTime: t },
        { ...group(me), lastActivityTime: t },
      ];
      await add(x);
      await add(y);
      const tied = (await store.listChatsOf(me, undefined, 2)).map((c) => c.id);
      expect(tied).toEqual([x.id, y.id].sort().reverse());
      const after = await store.listChatsOf(me, { lastActivityTime: t, chatId: tied[0] as string }, 1);
      expect(ids(after)).toEqual([tied[1]]);

      const all = [c1.id, c2.id, c3.id, x.id, y.id].sort();
      expect(await store.chatIdsOf(me, undefined, 3)).toEqual(all.slice(0, 3));
      expect(await store.chatIdsOf(me, all[2], 3)).toEqual(all.slice(3));
    });

    it('keeps read positions per member, only moving forward, and counts unread from others', async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      const chat = await add(group(a, b));
      await post(chat.id, a); // 1
      const m2 = await post(chat.id, b); // 2
      await post(chat.id, b); // 3
      await post(chat.id, a); // 4
      await post(chat.id, b); // 5
      await store.updateMessage({ ...m2, text: '', deleted: true, version: 2 }, []);
      await expect(store.readPositions(a, [chat.id])).resolves.toEqual(new Map([[chat.id, 0]]));
      const unread = (userId: string, afterSequence: number, cap: number) =>
        store.countUnread(userId, [{ chatId: chat.id, afterSequence }], cap);
      await expect(unread(a, 0, 100)).resolves.toEqual(new Map([[chat.id, 2]])); // 3 and 5; 2 is deleted
      await expect(unread(a, 0, 1)).resolves.toEqual(new Map([[chat.id, 1]]));
      await expect(unread(b, 0, 100)).resolves.toEqual(new Map([[chat.id, 2]])); // 1 and 4
      await expect(store.markRead(chat.id, a, 3)).resolves.toBe(3);
      await expect(store.markRead(chat.id, a, 2)).resolves.toBe(3);
      await expect(store.readPositions(a, [chat.id])).resolves.toEqual(new Map([[chat.id, 3]]));
      await expect(store.readPositions(b, [chat.id])).resolves.toEqual(new Map([[chat.id, 0]]));
      await expect(unread(a, 3, 100)).resolves.toEqual(new Map([[chat.id, 1]]));
    });

    it('forgets the read position of a member who leaves, so on rejoining they start from nothing read', async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      const chat = await add(group(a, b));
      await post(chat.id, a);
      await post(chat.id, a);
      await expect(store.markRead(chat.id, b, 2)).resolves.toBe(2);
      const without = { ...chat, members: chat.members.filter((m) => m.userId !== b), version: chat.version + 1 };
      await store.updateChat(without, []);
      await expect(store.readPositions(b, [chat.id])).resolves.toEqual(new Map([[chat.id, 0]]));
      await expect(store.readPositionsOf([{ chatId: chat.id, userId: b }])).resolves.toEqual([0]);
      await store.updateChat({ ...without, members: chat.members, version: without.version + 1 }, []);
      await expect(store.readPositions(b, [chat.id])).resolves.toEqual(new Map([[chat.id, 0]]));
      await expect(store.readPositions(a, [chat.id])).resolves.toEqual(new Map([[chat.id, 0]]));
      await expect(store.markRead(chat.id, a, 1)).resolves.toBe(1);
      await expect(store.countUnread(b, [{ chatId: chat.id, afterSequence: 0 }], 100)).resolves.toEqual(
        new Map([[chat.id, 2]]),
      );
    });

    it("counts a page of chats' unread messages in one call, each chat from its own position and capped on its own", async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      const busy = await add(group(a, b));
      const quiet = await add(group(a, b));
      const read = await add(group(a, b));
      for (let i = 0; i < 4; i++) await post(busy.id, b);
      await post(quiet.id, b);
      await post(quiet.id, a);
      await post(read.id, b);
      const positions = [
        { chatId: busy.id, afterSequence: 1 },
        { chatId: quiet.id, afterSequence: 0 },
        { chatId: read.id, afterSequence: 1 },
      ];
      await expect(store.countUnread(a, positions, 2)).resolves.toEqual(
        new Map([
          [busy.id, 2],
          [quiet.id, 1],
          [read.id, 0],
        ]),
      );
      await expect(store.countUnread(a, [], 2)).resolves.toEqual(new Map());
    });

    it("leaves each chat's events in the order they were written, and only once published", async () => {
      const a = randomUUID();
      const [one, two] = [await add(group(a)), await add(group(a))];
      await post(one.id, a);
      await post(two.id, a);
      await post(one.id, a);
      expect((await pendingOf(one.id)).map((e) => e.type)).toEqual([
        'chat.chat.created',
        'chat.message.created',
        'chat.message.created',
      ]);
      const all = await outbox.pendingEvents(10_000);
      expect(all.every((e) => e.topic === 'chat.events')).toBe(true);
      const firstOfOne = all.find((e) => e.envelope.key === one.id);
      await outbox.markPublished([firstOfOne?.envelope.id ?? '']);
      expect((await pendingOf(one.id)).map((e) => e.type)).toEqual(['chat.message.created', 'chat.message.created']);
      // A batch smaller than what is pending still holds each chat's oldest events first.
      const batch = await outbox.pendingEvents(2);
      for (const chatId of [one.id, two.id]) {
        const inBatch = batch.filter((e) => e.envelope.key === chatId).map((e) => e.envelope.id);
        const pending = (await pendingOf(chatId)).map((e) => e.id);
        expect(pending.slice(0, inBatch.length)).toEqual(inBatch);
      }
    });

    it('wakes its listeners once a write with events commits, and not for one that fails or has none', async () => {
      let wakes = 0;
      const stop = outbox.onCommit(() => {
        wakes++;
      });
      const [a, b] = [randomUUID(), randomUUID()];
      const chat = await add(direct(a, b));
      const first = draft(chat.id, a);
      await append(first);
      expect(wakes).toBe(2);
      // Nothing new committed: a repeated post, a lost race, a taken pair, no events, no member, a read position.
      await append({ ...first, id: randomUUID() });
      await errorOf(store.updateChat({ ...chat, version: 5 }, []));
      const taken = direct(b, a);
      await errorOf(store.createChat(taken, created(taken)));
      await store.updateChat({ ...chat, version: 2 }, []);
      await append(draft(chat.id, randomUUID()));
      await store.markRead(chat.id, a, 1);
      expect(wakes).toBe(2);
      stop();
      await post(chat.id, b);
      expect(wakes).toBe(2);
      expect((await pendingOf(chat.id)).map((e) => e.type)).toEqual([
        'chat.chat.created',
        'chat.message.created',
        'chat.message.created',
      ]);
    });

    describe('invitations', () => {
      const DAY = 24 * 60 * 60 * 1000;
      const invitation = (chat: Chat, inviteeId: string, createTime = tick()): Invitation => ({
        chatId: chat.id,
        inviteeId,
        inviterId: chat.ownerId,
        title: chat.title,
        createTime,
        expireTime: new Date(createTime.getTime() + 7 * DAY),
      });
      const invited = (i: Invitation): ChatEvent[] => [
        { kind: 'invitation_created', invitation: i, time: i.createTime, requestId: 'r' },
      ];
      const invite = (i: Invitation, max = 100) => store.putInvitation(i, invited(i), max);

      it('stores an invitation with its event once, and lists and counts the invitee’s pending ones newest first', async () => {
        const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
        const one = await add(group(a));
        const two = await add(group(c));
        const first = invitation(one, b);
        const second = invitation(two, b);
        await expect(invite(first)).resolves.toBe('created');
        await expect(invite(second)).resolves.toBe('created');
        // A repeat while pending stores nothing and publishes nothing.
        await expect(invite({ ...first, createTime: tick() })).resolves.toBe('existing');
        await expect(store.getInvitation(one.id, b)).resolves.toEqual(first);
        await expect(store.getInvitation(one.id, c)).resolves.toBeUndefined();
        await expect(store.listInvitations(b, new Date(clock), undefined, 10)).resolves.toEqual([second, first]);
        // Paged by cursor.
        await expect(store.listInvitations(b, new Date(clock), undefined, 1)).resolves.toEqual([second]);
        await expect(
          store.listInvitations(b, new Date(clock), { createTime: second.createTime, chatId: second.chatId }, 10),
        ).resolves.toEqual([first]);
        await expect(store.countPendingInvitations(b, new Date(clock))).resolves.toBe(2);
        await expect(store.listInvitations(a, new Date(clock), undefined, 10)).resolves.toEqual([]);
        const events = await pendingOf(one.id);
        expect(events.map((e) => e.type)).toEqual(['chat.chat.created', 'chat.invitation.created']);
        const payload = InvitationCreated.decode(events[1]?.payload?.value ?? new Uint8Array());
        expect(payload.inviteeId).toBe(b);
        expect(payload.invitation?.chatId).toBe(one.id);
      });

      it('neither lists nor counts a lapsed invitation, and replaces it when invited again', async () => {
        const [a, b] = [randomUUID(), randomUUID()];
        const chat = await add(group(a));
        const old = invitation(chat, b);
        await invite(old);
        const later = new Date(old.expireTime.getTime() + 1);
        await expect(store.listInvitations(b, later, undefined, 10)).resolves.toEqual([]);
        await expect(store.countPendingInvitations(b, later)).resolves.toBe(0);
        const renewed = invitation(chat, b, later);
        await expect(invite(renewed)).resolves.toBe('created');
        await expect(store.getInvitation(chat.id, b)).resolves.toEqual(renewed);
        expect((await pendingOf(chat.id)).filter((e) => e.type === 'chat.invitation.created')).toHaveLength(2);
      });

      it('refuses an invitation beyond the invitee’s pending limit, counting only pending ones', async () => {
        const [a, b] = [randomUUID(), randomUUID()];
        const [one, two, three] = [await add(group(a)), await add(group(a)), await add(group(a))];
        await expect(invite(invitation(one, b), 2)).resolves.toBe('created');
        await expect(invite(invitation(two, b), 2)).resolves.toBe('created');
        await expect(invite(invitation(three, b), 2)).resolves.toBe('limit');
        await expect(store.getInvitation(three.id, b)).resolves.toBeUndefined();
        expect((await pendingOf(three.id)).map((e) => e.type)).toEqual(['chat.chat.created']);
        await store.deleteInvitation(one.id, b);
        await expect(invite(invitation(three, b), 2)).resolves.toBe('created');
      });

      it('deletes an invitation without an event, and accepts one with the chat change in one step', async () => {
        const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
        const chat = await add(group(a));
        await invite(invitation(chat, b));
        await invite(invitation(chat, c));
        await expect(store.deleteInvitation(chat.id, c)).resolves.toBe(true);
        await expect(store.deleteInvitation(chat.id, c)).resolves.toBe(false);
        await expect(store.getInvitation(chat.id, c)).resolves.toBeUndefined();

        const joined: Chat = { ...chat, members: [...chat.members, member(b)], version: 2 };
        const change: ChatEvent[] = [
          {
            kind: 'members_changed',
            before: chat,
            after: joined,
            added: [b],
            removed: [],
            actorId: b,
            time: tick(),
            requestId: 'r',
          },
        ];
        // At a stale version nothing changes and the invitation stays.
        expect(
          isStoreError(await errorOf(store.acceptInvitation({ ...joined, version: 3 }, b, change)), 'conflict'),
        ).toBe(true);
        await expect(store.getInvitation(chat.id, b)).resolves.toBeDefined();
        await store.acceptInvitation(joined, b, change);
        await expect(store.getInvitation(chat.id, b)).resolves.toBeUndefined();
        expect((await store.getChat(chat.id))?.members.map((m) => m.userId)).toEqual([a, b]);
        expect((await store.listChatsOf(b, undefined, 10)).map((x) => x.id)).toEqual([chat.id]);
        // Without an invitation there is nothing to accept.
        const again: Chat = { ...joined, members: [...joined.members, member(c)], version: 3 };
        expect(isStoreError(await errorOf(store.acceptInvitation(again, c, [])), 'conflict')).toBe(true);
        expect((await store.getChat(chat.id))?.version).toBe(2);
        expect((await pendingOf(chat.id)).map((e) => e.type)).toEqual([
          'chat.chat.created',
          'chat.invitation.created',
          'chat.invitation.created',
          'chat.chat.members_changed',
        ]);
      });
    });

    describe('message search', () => {
      const terms = (query: string) => searchTermsOf(query);
      const found = async (chatIds: string[], query: string, limit = 100, after?: SearchCursor) =>
        (await store.searchMessages(chatIds, terms(query), after, limit)).map((h) => [h.message.text, h.matchedTerms]);

      it('ranks by distinct terms matched, then newest, ignoring case and diacritics, within the chats asked', async () => {
        const [a, b] = [randomUUID(), randomUUID()];
        const chat = await add(group(a, b));
        const other = await add(group(a));
        await post(chat.id, a, 'Coffee at the CAFÉ?');
        await post(chat.id, b, 'tea only');
        await post(chat.id, b, 'the cafe is closed');
        await post(other.id, a, 'cafe in another chat');
        await post(chat.id, a, 'coffee, coffee, coffee');
        expect(await found([chat.id], 'cafe COFFEE')).toEqual([
          ['Coffee at the CAFÉ?', 2],
          ['coffee, coffee, coffee', 1],
          ['the cafe is closed', 1],
        ]);
        expect(await found([chat.id, other.id], 'café')).toEqual([
          ['cafe in another chat', 1],
          ['the cafe is closed', 1],
          ['Coffee at the CAFÉ?', 1],
        ]);
        expect(await found([chat.id], 'milk')).toEqual([]);
        expect(await found([], 'cafe')).toEqual([]);
      });

      it('finds an edited message by its new text only and a deleted one never', async () => {
        const a = randomUUID();
        const chat = await add(group(a));
        const edited = await post(chat.id, a, 'meet at noon');
        const deleted = await post(chat.id, a, 'noon is fine');
        await store.updateMessage({ ...edited, text: 'meet at dawn', editTime: tick(), version: 2 }, []);
        await store.updateMessage(tombstoneOf(deleted, a), []);
        expect(await found([chat.id], 'noon')).toEqual([]);
        expect(await found([chat.id], 'dawn')).toEqual([['meet at dawn', 1]]);
        expect(await found([chat.id], 'meet fine')).toEqual([['meet at dawn', 1]]);
      });

      it('pages after a cursor without repeating or skipping a message', async () => {
        const a = randomUUID();
        const chat = await add(group(a));
        for (const text of ['red', 'red blue', 'blue', 'red blue green', 'green', 'red']) await post(chat.id, a, text);
        const all = await store.searchMessages([chat.id], terms('red blue green'), undefined, 100);
        const paged: string[] = [];
        let after: SearchCursor | undefined;
        for (;;) {
          const page = await store.searchMessages([chat.id], terms('red blue green'), after, 2);
          paged.push(...page.map((h) => h.message.id));
          const last = page.at(-1);
          if (page.length < 2 || !last) break;
          after = { matchedTerms: last.matchedTerms, createTime: last.message.createTime, messageId: last.message.id };
        }
        expect(all.map((h) => h.message.text)).toEqual(['red blue green', 'red blue', 'red', 'green', 'blue', 'red']);
        expect(paged).toEqual(all.map((h) => h.message.id));
      });
    });

    describe('message versions', () => {
      const edit = async (message: Message, text: string) => {
        const after = { ...message, text, editTime: tick(), version: message.version + 1 };
        await store.updateMessage(after, []);
        return after;
      };

      it('keeps each replaced text with its times, lists them newest first by page, and drops the oldest beyond the cap', async () => {
        const a = randomUUID();
        const chat = await add(group(a));
        const posted = await post(chat.id, a, 'v1');
        const other = await post(chat.id, a, 'other');
        let current = posted;
        for (let v = 2; v <= MAX_KEPT_VERSIONS + 2; v++) current = await edit(current, `v${v}`);
        await edit(other, 'other, edited');

        const newest = await store.listMessageVersions(chat.id, posted.id, undefined, 2);
        const second = await edit(posted, 'x').catch(() => undefined);
        expect(second).toBeUndefined(); // a stale version changes nothing, history included
        expect(newest.map((v) => v.text)).toEqual([`v${MAX_KEPT_VERSIONS + 1}`, `v${MAX_KEPT_VERSIONS}`]);
        expect(newest[0]).toEqual({
          version: MAX_KEPT_VERSIONS + 1,
          text: `v${MAX_KEPT_VERSIONS + 1}`,
          time: expect.any(Date),
          replaceTime: current.editTime,
        });
        const all = await store.listMessageVersions(chat.id, posted.id, undefined, 100);
        expect(all).toHaveLength(MAX_KEPT_VERSIONS);
        expect(all.map((v) => v.version)).toEqual(
          Array.from({ length: MAX_KEPT_VERSIONS }, (_, i) => MAX_KEPT_VERSIONS + 1 - i),
        );
        // Each version's time is when it was written: the replace time of the one before.
        expect(all[0]?.time).toEqual(all[1]?.replaceTime);
        expect((await store.listMessageVersions(chat.id, posted.id, 3, 100)).map((v) => v.text)).toEqual(['v2']);
        expect((await store.listMessageVersions(chat.id, other.id, undefined, 100)).map((v) => v.text)).toEqual([
          'other',
        ]);
        const first = await edit(await post(chat.id, a, 'fresh'), 'fresh, edited');
        expect(await store.listMessageVersions(chat.id, first.id, undefined, 10)).toEqual([
          { version: 1, text: 'fresh', time: expect.any(Date), replaceTime: first.editTime },
        ]);
      });

      it('removes a message’s versions when it is deleted', async () => {
        const a = randomUUID();
        const chat = await add(group(a));
        const edited = await edit(await post(chat.id, a, 'draft'), 'final');
        await store.updateMessage(tombstoneOf(edited, a), []);
        await expect(store.listMessageVersions(chat.id, edited.id, undefined, 10)).resolves.toEqual([]);
      });
    });

    describe('group management', () => {
      it('keeps admins and a transferred owner across a read', async () => {
        const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
        const chat = await add(group(a, b, c));
        const promoted = withRole(chat, b, 'admin');
        await store.updateChat(promoted, []);
        const handed = withOwner(promoted, c);
        await store.updateChat(handed, []);
        const read = await store.getChat(chat.id);
        expect([read?.ownerId, read?.members.map((m) => [m.userId, m.role])]).toEqual([
          c,
          [
            [a, 'admin'],
            [b, 'admin'],
            [c, 'owner'],
          ],
        ]);
      });

      it('keeps who deleted a tombstone', async () => {
        const [a, b] = [randomUUID(), randomUUID()];
        const chat = await add(group(a, b));
        const posted = await post(chat.id, b, 'off topic');
        await store.updateMessage(tombstoneOf(posted, a), []);
        const [listed] = await store.listMessages(chat.id, undefined, 1);
        expect([listed?.deleted, listed?.deletedBy]).toEqual([true, a]);
        expect((await store.getMessage(chat.id, posted.id))?.deletedBy).toBe(a);
        expect((await post(chat.id, b, 'on topic')).deletedBy).toBe('');
      });

      it('posts a notice with a chat change atomically: the next sequence, its event after the change, to the members after', async () => {
        const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
        const chat = await add(group(a, b, c));
        await post(chat.id, b, 'before');
        const after = withoutMember(chat, c);
        const system = { ...systemEvent('member_removed', a, [c]) };
        const notice = { draft: { ...draft(chat.id, a, ''), system }, eventOf };
        const change: ChatEvent = {
          kind: 'members_changed',
          before: chat,
          after,
          added: [],
          removed: [c],
          actorId: a,
          time: tick(),
          requestId: 'r',
        };
        await store.updateChat(after, [change], notice);
        const [latest] = await store.listMessages(chat.id, undefined, 1);
        expect(latest).toMatchObject({ sequence: 2, senderId: a, text: '', system });
        expect((await store.getChat(chat.id))?.lastSequence).toBe(2);
        const events = await pendingOf(chat.id);
        expect(events.map((e) => e.type).slice(-2)).toEqual(['chat.chat.members_changed', 'chat.message.created']);
        const created = MessageCreated.decode(events.at(-1)?.payload?.value ?? new Uint8Array());
        expect(created.memberIds).toEqual([a, b]);
        expect(created.message?.system?.targetUserIds).toEqual([c]);

        // A stale change posts nothing.
        const stale = await errorOf(
          store.updateChat(after, [], { ...notice, draft: { ...notice.draft, id: randomUUID() } }),
        );
        expect(isStoreError(stale, 'conflict')).toBe(true);
        expect((await store.listMessages(chat.id, undefined, 10)).map((m) => m.sequence)).toEqual([2, 1]);
      });

      it("keeps a group's description and picture with its other fields", async () => {
        const a = randomUUID();
        const chat = await add({ ...group(a), description: 'at first', avatarUrl: 'https://img.example/1.png' });
        expect(await store.getChat(chat.id)).toMatchObject({ description: 'at first' });
        const after = { ...chat, title: 'renamed', description: 'later', avatarUrl: '', version: chat.version + 1 };
        await store.updateChat(after, []);
        expect(await store.getChat(chat.id)).toMatchObject({ title: 'renamed', description: 'later', avatarUrl: '' });
        expect((await store.listChatsOf(a, undefined, 10))[0]).toMatchObject({ description: 'later', avatarUrl: '' });
      });
    });

    it("reads several readers' positions at once, in the order asked, 0 for none", async () => {
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      const [ab, ac] = [await add(direct(a, b)), await add(direct(a, c))];
      for (const chat of [ab, ac]) for (let i = 0; i < 3; i++) await post(chat.id, a);
      await store.markRead(ab.id, b, 2);
      await store.markRead(ac.id, c, 3);
      await expect(
        store.readPositionsOf([
          { chatId: ac.id, userId: c },
          { chatId: ab.id, userId: b },
          { chatId: ab.id, userId: a },
          { chatId: ac.id, userId: b },
        ]),
      ).resolves.toEqual([3, 2, 0, 0]);
      await expect(store.readPositionsOf([])).resolves.toEqual([]);
    });

    it('keeps one presence privacy setting per user; a user who set none is absent', async () => {
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      await store.setPresencePrivacy(a, 'nobody');
      await store.setPresencePrivacy(b, 'everyone');
      await store.setPresencePrivacy(a, 'friends');
      const found = await store.presencePrivacies([a, b, c]);
      expect([...found].sort()).toEqual(
        [
          [a, 'friends'],
          [b, 'everyone'],
        ].sort(),
      );
      await expect(store.presencePrivacies([])).resolves.toEqual(new Map());
    });

    it("forgets a deleted user's presence privacy setting, and forgetting it twice is harmless", async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      await store.setPresencePrivacy(a, 'nobody');
      await store.setPresencePrivacy(b, 'everyone');
      await store.forgetPresencePrivacy(a);
      await store.forgetPresencePrivacy(a);
      await expect(store.presencePrivacies([a, b])).resolves.toEqual(new Map([[b, 'everyone']]));
    });
  });
}
