// Reactions as every ChatStore adapter must keep them; run next to the main
// contract by the memory and SQLite specs always, and by the MongoDB spec
// when MONGODB_URL is set.
import { randomUUID } from 'node:crypto';
import { ReactionChanged } from '@messenger/gen/messenger/chat/v1/events';
import { type Chat, type ChatEvent, type Message, messageCreated, tombstoneOf } from '../domain/chat.ts';
import type { ChatStorage, ReactionDraft } from '../domain/chat-storage.ts';
import { chatEventEntry } from '../events/chat-events.ts';
import type { ChatStoreFixture } from './chat-store.contract.ts';
import { withEventEncoding } from './chat-store.ts';

export function reactionStoreContract(name: string, make: () => Promise<ChatStoreFixture>): void {
  describe(`ChatStore reactions contract: ${name}`, () => {
    let fixture: ChatStoreFixture;
    let store: ChatStorage;
    const [ann, bob] = [randomUUID(), randomUUID()];
    let chat: Chat;
    let message: Message;

    beforeEach(async () => {
      fixture = await make();
      store = withEventEncoding(fixture.store, chatEventEntry);
      const t = new Date('2025-01-01T00:00:00.000Z');
      const member = (userId: string, role: 'owner' | 'member') => ({
        userId,
        role,
        nickname: 'n',
        avatarUrl: '',
        joinTime: t,
        profileTime: undefined,
      });
      chat = {
        id: randomUUID(),
        type: 'group',
        title: 'g',
        description: '',
        avatarUrl: '',
        ownerId: ann,
        directKey: '',
        members: [member(ann, 'owner'), member(bob, 'member')],
        createTime: t,
        lastActivityTime: t,
        lastSequence: 0,
        version: 1,
      };
      await store.createChat(chat, [{ kind: 'chat_created', chat, time: t, requestId: 'r' }]);
      const posted = await store.appendMessage(
        { id: randomUUID(), chatId: chat.id, senderId: ann, clientMessageId: randomUUID(), text: 'hi', createTime: t },
        (m, ids) => messageCreated(m, ids, 'r'),
      );
      if (posted.kind !== 'created') throw new Error('not posted');
      message = posted.message;
      // Only what the reactions write is left to look at.
      const pending = await fixture.store.outbox.pendingEvents(100);
      await fixture.store.outbox.markPublished(pending.map((e) => e.envelope.id));
    });
    afterEach(async () => {
      await fixture.close();
    });

    const event = (m: Message, userId: string, emoji: string, added: boolean): ChatEvent => ({
      kind: 'reaction_changed',
      message: m,
      userId,
      emoji,
      added,
      memberIds: [ann, bob],
      time: new Date(),
      requestId: 'r',
    });
    const react = (userId: string, emoji: string, add = true, max = 20, messageId = message.id) => {
      const draft: ReactionDraft = { chatId: chat.id, messageId, userId, emoji, add };
      return store.setReaction(draft, max, (m) => event(m, userId, emoji, add));
    };
    const countsOf = async () => (await store.getMessage(chat.id, message.id))?.reactions;
    const published = async () =>
      (await fixture.store.outbox.pendingEvents(100)).map((e) => {
        const change = ReactionChanged.decode(e.envelope.payload?.value ?? new Uint8Array()).change;
        return [e.envelope.type, change?.userId, change?.emoji, change?.added];
      });

    it('counts one reaction per member and emoji, in first reaction order, and writes an event per change', async () => {
      await expect(react(ann, '👍')).resolves.toMatchObject({
        kind: 'changed',
        message: { reactions: [{ emoji: '👍', count: 1 }] },
      });
      await react(bob, '🎉');
      await react(bob, '👍');
      // Adding again changes nothing and writes nothing.
      await expect(react(bob, '👍')).resolves.toMatchObject({ kind: 'unchanged' });
      expect(await countsOf()).toEqual([
        { emoji: '👍', count: 2 },
        { emoji: '🎉', count: 1 },
      ]);
      // History reads carry the counts; the message's own version does not move.
      const [listed] = await store.listMessages(chat.id, undefined, 10);
      expect(listed).toMatchObject({
        version: 1,
        reactions: [
          { emoji: '👍', count: 2 },
          { emoji: '🎉', count: 1 },
        ],
      });
      expect(await published()).toEqual([
        ['chat.message.reaction_changed', ann, '👍', true],
        ['chat.message.reaction_changed', bob, '🎉', true],
        ['chat.message.reaction_changed', bob, '👍', true],
      ]);
    });

    it('removes a reaction, drops an emoji no one has any more, and ignores removing a missing one', async () => {
      await react(ann, '👍');
      await react(ann, '🎉');
      await react(bob, '🎉');
      await expect(react(ann, '👍', false)).resolves.toMatchObject({
        kind: 'changed',
        message: { reactions: [{ emoji: '🎉', count: 2 }] },
      });
      await expect(react(ann, '👍', false)).resolves.toMatchObject({ kind: 'unchanged' });
      await react(bob, '🎉', false);
      // Added again, an emoji that had left goes last.
      await react(bob, '👍');
      expect(await countsOf()).toEqual([
        { emoji: '🎉', count: 1 },
        { emoji: '👍', count: 1 },
      ]);
    });

    it("finds a member's reactions on a page of messages", async () => {
      const other = await store.appendMessage(
        {
          id: randomUUID(),
          chatId: chat.id,
          senderId: bob,
          clientMessageId: randomUUID(),
          text: 'yo',
          createTime: new Date(),
        },
        (m, ids) => messageCreated(m, ids, 'r'),
      );
      if (other.kind !== 'created') throw new Error('not posted');
      await react(ann, '👍');
      await react(ann, '❤️');
      await react(bob, '🎉');
      await react(ann, '🔥', true, 20, other.message.id);
      const mine = await store.reactionsBy(ann, [message.id, other.message.id, randomUUID()]);
      expect([...mine.keys()].sort()).toEqual([message.id, other.message.id].sort());
      expect(mine.get(message.id)?.sort()).toEqual(['❤️', '👍'].sort());
      expect(mine.get(other.message.id)).toEqual(['🔥']);
      await expect(store.reactionsBy(bob, [other.message.id])).resolves.toEqual(new Map());
    });

    it('refuses a new emoji beyond the limit but takes more of one already there', async () => {
      await react(ann, '👍', true, 2);
      await react(ann, '🎉', true, 2);
      await expect(react(bob, '🔥', true, 2)).resolves.toEqual({ kind: 'limit' });
      await expect(react(bob, '👍', true, 2)).resolves.toMatchObject({ kind: 'changed' });
      expect((await countsOf())?.map((r) => r.emoji)).toEqual(['👍', '🎉']);
    });

    it('says not_found for a message not in the chat and deleted for a tombstone, whose deletion dropped its reactions', async () => {
      await expect(react(ann, '👍', true, 20, randomUUID())).resolves.toEqual({ kind: 'not_found' });
      await react(bob, '👍');
      const current = await store.getMessage(chat.id, message.id);
      if (!current) throw new Error('gone');
      await store.updateMessage(tombstoneOf(current, current.senderId), []);
      expect(await countsOf()).toEqual([]);
      await expect(store.reactionsBy(bob, [message.id])).resolves.toEqual(new Map());
      await expect(react(bob, '🎉')).resolves.toEqual({ kind: 'deleted' });
      await expect(react(bob, '👍', false)).resolves.toEqual({ kind: 'deleted' });
    });

    it('keeps the counts through an edit that raced a reaction', async () => {
      await react(bob, '👍');
      // The edit was decided on a copy read before the reaction.
      await store.updateMessage({ ...message, text: 'hi!', editTime: new Date(), version: 2 }, []);
      expect(await store.getMessage(chat.id, message.id)).toMatchObject({
        text: 'hi!',
        reactions: [{ emoji: '👍', count: 1 }],
      });
    });
  });
}
