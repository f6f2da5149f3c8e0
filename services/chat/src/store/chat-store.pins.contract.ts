// Pinned messages as every ChatStore adapter must keep them; run next to the
// main contract by the memory and SQLite specs always, and by the MongoDB
// spec when MONGODB_URL is set.
import { randomUUID } from 'node:crypto';
import { PinChanged } from '@messenger/gen/messenger/chat/v1/events';
import { type Chat, type Message, messageCreated, tombstoneOf } from '../domain/chat.ts';
import type { ChatStorage, PinCursor } from '../domain/chat-storage.ts';
import { chatEventEntry } from '../events/chat-events.ts';
import type { ChatStoreFixture } from './chat-store.contract.ts';
import { withEventEncoding } from './chat-store.ts';

export function pinStoreContract(name: string, make: () => Promise<ChatStoreFixture>): void {
  describe(`ChatStore pins contract: ${name}`, () => {
    let fixture: ChatStoreFixture;
    let store: ChatStorage;
    const owner = randomUUID();
    let chat: Chat;
    let clock = Date.parse('2025-01-01T00:00:00.000Z');
    const tick = () => {
      clock += 1000;
      return new Date(clock);
    };

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
        members: [{ userId: owner, role: 'owner', nickname: 'n', avatarUrl: '', joinTime: t, profileTime: undefined }],
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

    const post = async (text: string): Promise<Message> => {
      const posted = await store.appendMessage(
        { id: randomUUID(), chatId: chat.id, senderId: owner, clientMessageId: randomUUID(), text, createTime: tick() },
        (m, ids) => messageCreated(m, ids, 'r'),
      );
      if (posted.kind !== 'created') throw new Error('not posted');
      return posted.message;
    };
    const setPin = (message: Message, pin: boolean, maxPins = 50, time = tick()) =>
      store.setPin({ chatId: chat.id, messageId: message.id, userId: owner, pin, time }, maxPins, (m) => ({
        kind: 'pin_changed',
        message: m,
        userId: owner,
        pinned: pin,
        memberIds: [owner],
        time,
        requestId: 'r',
      }));
    const pinnedTexts = async (after?: PinCursor, limit = 10) =>
      (await store.listPins(chat.id, after, limit)).map((m) => m.text);
    const pinEvents = async () =>
      (await fixture.store.outbox.pendingEvents(100))
        .filter((e) => e.envelope.type === 'chat.message.pin_changed')
        .map((e) => PinChanged.decode(e.envelope.payload?.value ?? new Uint8Array()).change?.pinned);

    it('pins and unpins once each, lists the most recently pinned first page by page, and writes an event per change', async () => {
      const [a, b, c] = [await post('a'), await post('b'), await post('c')];
      const time = tick();
      await expect(setPin(b, true, 50, time)).resolves.toMatchObject({
        kind: 'changed',
        message: { id: b.id, version: 1, pin: { userId: owner, time } },
      });
      await setPin(a, true);
      await setPin(c, true);
      await expect(setPin(c, true)).resolves.toMatchObject({ kind: 'unchanged', message: { id: c.id } });
      expect(await pinnedTexts()).toEqual(['c', 'a', 'b']);
      const [first] = await store.listPins(chat.id, undefined, 1);
      const cursor = { pinTime: first?.pin?.time ?? new Date(0), messageId: first?.id ?? '' };
      expect(await pinnedTexts(cursor, 1)).toEqual(['a']);
      expect(await pinnedTexts(cursor, 10)).toEqual(['a', 'b']);
      // History shows the pin on the message itself.
      expect((await store.listMessages(chat.id, undefined, 10)).map((m) => m.pin !== undefined)).toEqual([
        true,
        true,
        true,
      ]);

      await expect(setPin(a, false)).resolves.toMatchObject({ kind: 'changed', message: { pin: undefined } });
      await expect(setPin(a, false)).resolves.toMatchObject({ kind: 'unchanged' });
      expect(await pinnedTexts()).toEqual(['c', 'b']);
      expect(await pinEvents()).toEqual([true, true, true, false]);
    });

    it('refuses a pin beyond the limit until one is unpinned', async () => {
      const [a, b, c] = [await post('a'), await post('b'), await post('c')];
      await setPin(a, true, 2);
      await setPin(b, true, 2);
      await expect(setPin(c, true, 2)).resolves.toEqual({ kind: 'limit' });
      await setPin(a, false, 2);
      await expect(setPin(c, true, 2)).resolves.toMatchObject({ kind: 'changed' });
      expect(await pinnedTexts()).toEqual(['c', 'b']);
    });

    it('says not_found for a message not in the chat, refuses to pin a tombstone, and unpins a message when it is deleted', async () => {
      const a = await post('a');
      await expect(
        store.setPin({ chatId: chat.id, messageId: randomUUID(), userId: owner, pin: true, time: tick() }, 50, () => {
          throw new Error('no event for nothing');
        }),
      ).resolves.toEqual({ kind: 'not_found' });
      await setPin(a, true);
      const current = await store.getMessage(chat.id, a.id);
      if (!current) throw new Error('gone');
      await store.updateMessage(tombstoneOf(current, current.senderId), []);
      expect(await pinnedTexts()).toEqual([]);
      expect((await store.getMessage(chat.id, a.id))?.pin).toBeUndefined();
      await expect(setPin(a, true)).resolves.toEqual({ kind: 'deleted' });
      await expect(setPin(a, false)).resolves.toMatchObject({ kind: 'unchanged', message: { deleted: true } });
    });

    it('keeps the pin through an edit that raced it', async () => {
      const a = await post('a');
      await setPin(a, true);
      await store.updateMessage({ ...a, text: 'a!', editTime: tick(), version: 2 }, []);
      expect(await pinnedTexts()).toEqual(['a!']);
    });
  });
}
