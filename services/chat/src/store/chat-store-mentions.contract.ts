// What every ChatStore adapter must show for mentions: entities kept with a
// message and replaced by its edits, and unread-mention counts. Run next to
// chat-store.contract.ts by each adapter's spec.
import { randomUUID } from 'node:crypto';
import { MessageCreated, MessageEdited } from '@messenger/gen/messenger/chat/v1/events';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { type Chat, type Member, type Message, messageCreated, tombstoneOf } from '../domain/chat.ts';
import type { ChatStorage } from '../domain/chat-storage.ts';
import { mentionsIn } from '../domain/mentions.ts';
import { chatEventEntry } from '../events/chat-events.ts';
import { type ChatStore, withEventEncoding } from './chat-store.ts';

export interface MentionsFixture {
  readonly store: ChatStore;
  close(): Promise<void>;
}

export function chatStoreMentionsContract(name: string, make: () => Promise<MentionsFixture>): void {
  describe(`ChatStore mentions contract: ${name}`, () => {
    let fixture: MentionsFixture;
    let store: ChatStorage;

    beforeEach(async () => {
      fixture = await make();
      store = withEventEncoding(fixture.store, chatEventEntry);
    });
    afterEach(async () => {
      await fixture.close();
    });

    let clock = Date.parse('2025-03-01T00:00:00.000Z');
    const tick = () => {
      clock += 1000;
      return new Date(clock);
    };
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    const member = (userId: string, nickname: string): Member => ({
      userId,
      role: userId === a ? 'owner' : 'member',
      nickname,
      avatarUrl: '',
      joinTime: new Date(clock),
      profileTime: undefined,
    });
    const newGroup = async (): Promise<Chat> => {
      const time = tick();
      const chat: Chat = {
        id: randomUUID(),
        type: 'group',
        title: 'g',
        description: '',
        avatarUrl: '',
        ownerId: a,
        directKey: '',
        members: [member(a, 'alice'), member(b, 'bob'), member(c, 'carol')],
        createTime: time,
        lastActivityTime: time,
        lastSequence: 0,
        version: 1,
      };
      await store.createChat(chat, [{ kind: 'chat_created', chat, time, requestId: 'r' }]);
      return chat;
    };
    const post = async (chat: Chat, senderId: string, text: string): Promise<Message> => {
      const result = await store.appendMessage(
        {
          id: randomUUID(),
          chatId: chat.id,
          senderId,
          clientMessageId: randomUUID(),
          text,
          createTime: tick(),
          entities: mentionsIn(text, chat),
        },
        (message, memberIds) => messageCreated(message, memberIds, 'r'),
      );
      if (result.kind !== 'created') throw new Error(`not posted: ${result.kind}`);
      return result.message;
    };
    const edit = async (chat: Chat, message: Message, text: string): Promise<Message> => {
      const after = {
        ...message,
        text,
        editTime: tick(),
        version: message.version + 1,
        entities: mentionsIn(text, chat),
      };
      await store.updateMessage(after, [
        { kind: 'message_edited', before: message, after, memberIds: [a, b, c], time: tick(), requestId: 'r' },
      ]);
      return after;
    };
    const counts = (userId: string, positions: [Chat, number][], cap = 1000) =>
      store
        .countUnreadMentions(
          userId,
          positions.map(([chat, afterSequence]) => ({ chatId: chat.id, afterSequence })),
          cap,
        )
        .then((map) => positions.map(([chat]) => map.get(chat.id)));
    const published = async (chatId: string): Promise<EventEnvelope[]> =>
      (await fixture.store.outbox.pendingEvents(10_000)).map((e) => e.envelope).filter((e) => e.key === chatId);

    it('keeps a message’s entities on every read, and an edit’s replace them', async () => {
      const chat = await newGroup();
      const sent = await post(chat, a, '😀 @bob and @all');
      const expected = [
        { kind: 'mention', offset: 2, length: 4, userId: b },
        { kind: 'mention_all', offset: 11, length: 4, userId: '' },
      ];
      expect(sent.entities).toEqual(expected);
      expect((await store.getMessage(chat.id, sent.id))?.entities).toEqual(expected);
      expect((await store.listMessages(chat.id, undefined, 10))[0]?.entities).toEqual(expected);
      expect((await store.messagesAt([{ chatId: chat.id, sequence: 1 }]))[0]?.entities).toEqual(expected);

      const edited = await edit(chat, sent, 'now @carol');
      expect((await store.getMessage(chat.id, sent.id))?.entities).toEqual([
        { kind: 'mention', offset: 4, length: 6, userId: c },
      ]);
      await store.updateMessage(tombstoneOf(edited, edited.senderId), []);
      expect((await store.getMessage(chat.id, sent.id))?.entities).toEqual([]);
    });

    it('counts unread mentions of the user per chat above the read position, capped, in one call', async () => {
      const [one, two, quiet] = [await newGroup(), await newGroup(), await newGroup()];
      await post(one, a, '@bob first'); // 1
      await post(one, a, 'no mention'); // 2
      await post(one, c, '@all and @bob'); // 3: one message, counted once
      await post(one, b, '@bob @all from bob himself'); // 4: own message
      await post(one, a, '@carol only'); // 5
      await post(two, c, '@BOB'); // 1
      await post(quiet, a, 'hello'); // 1

      expect(
        await counts(b, [
          [one, 0],
          [two, 0],
          [quiet, 0],
        ]),
      ).toEqual([2, 1, 0]);
      expect(
        await counts(b, [
          [one, 1],
          [two, 1],
        ]),
      ).toEqual([1, 0]);
      expect(await counts(c, [[one, 0]])).toEqual([2]);
      expect(await counts(b, [[one, 0]], 1)).toEqual([1]);
      await expect(store.countUnreadMentions(b, [], 10)).resolves.toEqual(new Map());
    });

    it('follows edits and deletions: a mention edited away or deleted no longer counts', async () => {
      const chat = await newGroup();
      const first = await post(chat, a, '@bob look');
      const second = await post(chat, a, 'plain');
      expect(await counts(b, [[chat, 0]])).toEqual([1]);
      await edit(chat, second, 'plain, @bob');
      expect(await counts(b, [[chat, 0]])).toEqual([2]);
      const edited = await edit(chat, first, 'not you');
      expect(await counts(b, [[chat, 0]])).toEqual([1]);
      await edit(chat, edited, '@all again');
      expect(await counts(b, [[chat, 0]])).toEqual([2]);
      const current = await store.getMessage(chat.id, second.id);
      if (!current) throw new Error('gone');
      await store.updateMessage(tombstoneOf(current, current.senderId), []);
      expect(await counts(b, [[chat, 0]])).toEqual([1]);
    });

    it('publishes the mentioned members with a post, and those an edit newly mentions', async () => {
      const chat = await newGroup();
      const sent = await post(chat, a, '@bob @alice @bob');
      await edit(chat, sent, '@bob @all');
      const [created, edited] = (await published(chat.id)).filter((e) => e.type.startsWith('chat.message.'));
      expect(MessageCreated.decode(created?.payload?.value ?? new Uint8Array()).mentionedUserIds).toEqual([b]);
      expect(MessageEdited.decode(edited?.payload?.value ?? new Uint8Array()).mentionedUserIds).toEqual([c]);
    });
  });
}
