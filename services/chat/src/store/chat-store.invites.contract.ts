// Invite links as every ChatStore adapter must keep them; run next to the
// main contract by the memory and SQLite specs always, and by the MongoDB
// spec when MONGODB_URL is set.
import { randomUUID } from 'node:crypto';
import { type Chat, type ChatInvite, memberFrom, systemEvent } from '../domain/chat.ts';
import { type ChatStorage, isStoreError, systemNotice } from '../domain/chat-storage.ts';
import { chatEventEntry } from '../events/chat-events.ts';
import type { ChatStoreFixture } from './chat-store.contract.ts';
import { withEventEncoding } from './chat-store.ts';

export function inviteStoreContract(name: string, make: () => Promise<ChatStoreFixture>): void {
  describe(`ChatStore invite links contract: ${name}`, () => {
    let fixture: ChatStoreFixture;
    let store: ChatStorage;
    const owner = randomUUID();
    let chat: Chat;
    let clock = Date.parse('2025-01-01T00:00:00.000Z');
    const tick = () => {
      clock += 1000;
      return new Date(clock);
    };
    const DAY = 24 * 60 * 60 * 1000;

    beforeEach(async () => {
      fixture = await make();
      store = withEventEncoding(fixture.store, chatEventEntry);
      const t = tick();
      chat = {
        id: randomUUID(),
        type: 'group',
        title: 'g',
        description: '',
        avatarUrl: '',
        ownerId: owner,
        directKey: '',
        members: [memberFrom(owner, undefined, 'owner', t)],
        createTime: t,
        lastActivityTime: t,
        lastSequence: 0,
        version: 1,
      };
      await store.createChat(chat, [{ kind: 'chat_created', chat, time: t, requestId: 'r' }]);
    });
    afterEach(async () => {
      await fixture.close();
    });

    const link = (fields: Partial<ChatInvite> = {}): ChatInvite => {
      const createTime = fields.createTime ?? tick();
      return {
        id: randomUUID(),
        chatId: chat.id,
        tokenHash: randomUUID(),
        creatorId: owner,
        createTime,
        expireTime: new Date(createTime.getTime() + DAY),
        useLimit: 0,
        useCount: 0,
        ...fields,
      };
    };
    /** `userId` joins `current` with the link, as JoinChatByInvite writes it. */
    const join = (current: Chat, inviteId: string, userId: string) => {
      const time = tick();
      const after: Chat = {
        ...current,
        members: [...current.members, memberFrom(userId, undefined, 'member', time)],
        version: current.version + 1,
      };
      return {
        after,
        done: store.useChatInvite(
          after,
          inviteId,
          [
            {
              kind: 'members_changed',
              before: current,
              after,
              added: [userId],
              removed: [],
              actorId: userId,
              time,
              requestId: 'r',
            },
          ],
          systemNotice(chat.id, systemEvent('joined_by_link', userId, [owner]), time, 'r'),
        ),
      };
    };
    /** Whether the write failed with `conflict`. */
    const conflictOf = (write: Promise<void>) =>
      write.then(
        () => false,
        (error: unknown) => isStoreError(error, 'conflict'),
      );
    const stored = async () => {
      const current = await store.getChat(chat.id);
      if (!current) throw new Error('the chat is gone');
      return current;
    };

    it('keeps a link findable by its token hash only, and lists a group newest first, page by page', async () => {
      const [a, b, c] = [link(), link(), link()];
      for (const l of [a, b, c]) await expect(store.putChatInvite(l, 100)).resolves.toBe('created');
      await expect(store.findChatInvite(b.tokenHash)).resolves.toEqual(b);
      await expect(store.findChatInvite(randomUUID())).resolves.toBeUndefined();
      expect((await store.listChatInvites(chat.id, undefined, 10)).map((l) => l.id)).toEqual([c.id, b.id, a.id]);
      const cursor = { createTime: c.createTime, inviteId: c.id };
      expect((await store.listChatInvites(chat.id, cursor, 1)).map((l) => l.id)).toEqual([b.id]);
      expect(await store.listChatInvites(randomUUID(), undefined, 10)).toEqual([]);
    });

    it('orders links made in the same millisecond by id, so a page boundary between them loses none', async () => {
      const time = tick();
      const same = [link({ createTime: time }), link({ createTime: time }), link({ createTime: time })];
      for (const l of same) await store.putChatInvite(l, 100);
      const first = await store.listChatInvites(chat.id, undefined, 1);
      const last = first[0] as ChatInvite;
      const rest = await store.listChatInvites(chat.id, { createTime: last.createTime, inviteId: last.id }, 10);
      expect([...first, ...rest].map((l) => l.id)).toEqual(
        same
          .map((l) => l.id)
          .sort()
          .reverse(),
      );
    });

    it('refuses a link beyond the limit, making room by dropping expired and used-up ones first', async () => {
      const t0 = tick();
      const expiring = link({ createTime: t0, expireTime: new Date(t0.getTime() + 10_000) });
      const usedUp = link({ createTime: t0, useLimit: 1, useCount: 1 });
      const live = link({ createTime: t0, useLimit: 2, useCount: 1 });
      for (const l of [expiring, usedUp, live]) await store.putChatInvite(l, 3);
      // A second on, only the used-up link is spent: its slot frees, and then there is none.
      const fourth = link({ createTime: new Date(t0.getTime() + 1000) });
      await expect(store.putChatInvite(fourth, 3)).resolves.toBe('created');
      await expect(store.findChatInvite(usedUp.tokenHash)).resolves.toBeUndefined();
      await expect(store.putChatInvite(link({ createTime: fourth.createTime }), 3)).resolves.toBe('limit');
      // At its expiry time, the expiring link is spent too: its slot frees.
      const later = link({ createTime: expiring.expireTime });
      await expect(store.putChatInvite(later, 3)).resolves.toBe('created');
      await expect(store.findChatInvite(expiring.tokenHash)).resolves.toBeUndefined();
      expect((await store.listChatInvites(chat.id, undefined, 10)).map((l) => l.id).sort()).toEqual(
        [live.id, fourth.id, later.id].sort(),
      );
    });

    it('deletes a link once: its token then finds nothing', async () => {
      const l = link();
      await store.putChatInvite(l, 100);
      await expect(store.deleteChatInvite(randomUUID(), l.id)).resolves.toBe(false);
      await expect(store.deleteChatInvite(chat.id, l.id)).resolves.toBe(true);
      await expect(store.deleteChatInvite(chat.id, l.id)).resolves.toBe(false);
      await expect(store.findChatInvite(l.tokenHash)).resolves.toBeUndefined();
    });

    it('counts a join on the link with the new member, the system message and their events in one step', async () => {
      const l = link({ useLimit: 2 });
      await store.putChatInvite(l, 100);
      const joiner = randomUUID();
      const { after, done } = join(await stored(), l.id, joiner);
      await done;
      expect((await stored()).members.map((m) => m.userId)).toEqual([owner, joiner]);
      expect((await stored()).version).toBe(after.version);
      await expect(store.findChatInvite(l.tokenHash)).resolves.toMatchObject({ useCount: 1 });
      const [notice] = await store.listMessages(chat.id, undefined, 10);
      expect(notice?.system).toMatchObject({ kind: 'joined_by_link', actorId: joiner, targetIds: [owner] });
      const types = (await fixture.store.outbox.pendingEvents(100)).map((e) => e.envelope.type);
      expect(types.slice(-2)).toEqual(['chat.chat.members_changed', 'chat.message.created']);
    });

    it('refuses a join on a used-up or deleted link and changes nothing', async () => {
      const l = link({ useLimit: 1 });
      const gone = link();
      await store.putChatInvite(l, 100);
      await store.putChatInvite(gone, 100);
      await store.deleteChatInvite(chat.id, gone.id);
      await join(await stored(), l.id, randomUUID()).done;
      const before = await stored();
      const events = (await fixture.store.outbox.pendingEvents(100)).length;
      expect(await conflictOf(join(before, l.id, randomUUID()).done)).toBe(true);
      expect(await conflictOf(join(before, gone.id, randomUUID()).done)).toBe(true);
      expect(await stored()).toEqual(before);
      await expect(store.findChatInvite(l.tokenHash)).resolves.toMatchObject({ useCount: 1 });
      expect(await fixture.store.outbox.pendingEvents(100)).toHaveLength(events);
    });

    it('does not count a join that lost the race for the chat', async () => {
      const l = link();
      await store.putChatInvite(l, 100);
      const stale = await stored();
      await join(stale, l.id, randomUUID()).done;
      expect(await conflictOf(join(stale, l.id, randomUUID()).done)).toBe(true);
      await expect(store.findChatInvite(l.tokenHash)).resolves.toMatchObject({ useCount: 1 });
      expect((await stored()).members).toHaveLength(2);
    });

    it('lets exactly one of two joins racing for the last use commit', async () => {
      const l = link({ useLimit: 1 });
      await store.putChatInvite(l, 100);
      const current = await stored();
      const results = await Promise.allSettled([
        join(current, l.id, randomUUID()).done,
        join(current, l.id, randomUUID()).done,
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      await expect(store.findChatInvite(l.tokenHash)).resolves.toMatchObject({ useCount: 1 });
      expect((await stored()).members).toHaveLength(2);
    });
  });
}
