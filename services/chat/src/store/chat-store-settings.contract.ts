// What every ChatStore adapter must show for a member's own chat settings
// (mute, archive): kept per member, published with the change, and the
// archive filter of a user's chat list. Run next to chat-store.contract.ts
// by each adapter's spec.
import { randomUUID } from 'node:crypto';
import { MemberSettingsChanged } from '@messenger/gen/messenger/chat/v1/events';
import { type Chat, type MemberSettings, MUTE_FOREVER } from '../domain/chat.ts';
import type { ChatStorage } from '../domain/chat-storage.ts';
import { chatEventEntry } from '../events/chat-events.ts';
import { type ChatStore, withEventEncoding } from './chat-store.ts';

export interface SettingsFixture {
  readonly store: ChatStore;
  close(): Promise<void>;
}

export function chatStoreSettingsContract(name: string, make: () => Promise<SettingsFixture>): void {
  describe(`ChatStore member settings contract: ${name}`, () => {
    let fixture: SettingsFixture;
    let store: ChatStorage;

    beforeEach(async () => {
      fixture = await make();
      store = withEventEncoding(fixture.store, chatEventEntry);
    });
    afterEach(async () => {
      await fixture.close();
    });

    let clock = Date.parse('2025-04-01T00:00:00.000Z');
    const tick = () => {
      clock += 1000;
      return new Date(clock);
    };
    const [a, b] = [randomUUID(), randomUUID()];
    const newGroup = async (): Promise<Chat> => {
      const time = tick();
      const member = (userId: string) => ({
        userId,
        role: userId === a ? ('owner' as const) : ('member' as const),
        nickname: `n_${userId.slice(0, 8)}`,
        avatarUrl: '',
        joinTime: time,
        profileTime: undefined,
      });
      const chat: Chat = {
        id: randomUUID(),
        type: 'group',
        title: 'g',
        description: '',
        avatarUrl: '',
        ownerId: a,
        directKey: '',
        members: [member(a), member(b)],
        createTime: time,
        lastActivityTime: time,
        lastSequence: 0,
        version: 1,
      };
      await store.createChat(chat, [{ kind: 'chat_created', chat, time, requestId: 'r' }]);
      return chat;
    };
    const put = (chat: Chat, userId: string, settings: MemberSettings) =>
      store.putMemberSettings(chat.id, userId, settings, [
        { kind: 'member_settings_changed', chatId: chat.id, userId, settings, time: tick(), requestId: 'r' },
      ]);
    const ids = (chats: Chat[]) => chats.map((c) => c.id);

    it('keeps each member’s settings of each chat apart, and only those ever changed', async () => {
      const [one, two] = [await newGroup(), await newGroup()];
      const until = new Date('2030-01-01T00:00:00.000Z');
      await put(one, a, { muteUntil: until, archived: false });
      await put(two, a, { muteUntil: MUTE_FOREVER, archived: true });
      const mine = await store.memberSettings(a, [one.id, two.id]);
      expect(mine.get(one.id)).toEqual({ muteUntil: until, archived: false });
      expect(mine.get(two.id)).toEqual({ muteUntil: MUTE_FOREVER, archived: true });
      await expect(store.memberSettings(b, [one.id, two.id])).resolves.toEqual(new Map());
      await put(one, a, { muteUntil: undefined, archived: true });
      expect((await store.memberSettings(a, [one.id])).get(one.id)).toEqual({ muteUntil: undefined, archived: true });
      await expect(store.memberSettings(a, [])).resolves.toEqual(new Map());
    });

    it('lists a user’s chats by activity without their archived ones, or only those, page by page', async () => {
      const [one, two, three] = [await newGroup(), await newGroup(), await newGroup()];
      await put(two, a, { muteUntil: undefined, archived: true });
      expect(ids(await store.listChatsByArchive(a, false, undefined, 10))).toEqual([three.id, one.id]);
      expect(ids(await store.listChatsByArchive(a, true, undefined, 10))).toEqual([two.id]);
      // Another member's archive is theirs alone.
      expect(ids(await store.listChatsByArchive(b, false, undefined, 10))).toEqual([three.id, two.id, one.id]);
      const first = await store.listChatsByArchive(a, false, undefined, 1);
      const cursor = { lastActivityTime: three.lastActivityTime, chatId: three.id };
      expect(ids(first)).toEqual([three.id]);
      expect(ids(await store.listChatsByArchive(a, false, cursor, 1))).toEqual([one.id]);
      await put(two, a, { muteUntil: undefined, archived: false });
      expect(ids(await store.listChatsByArchive(a, true, undefined, 10))).toEqual([]);
    });

    it('publishes the change with its mute for the member', async () => {
      const chat = await newGroup();
      const until = new Date(clock + 3_600_000);
      await put(chat, b, { muteUntil: until, archived: true });
      const [event] = (await fixture.store.outbox.pendingEvents(10_000))
        .map((e) => e.envelope)
        .filter((e) => e.key === chat.id && e.type === 'chat.member.settings_changed');
      expect(MemberSettingsChanged.decode(event?.payload?.value ?? new Uint8Array())).toEqual({
        chatId: chat.id,
        userId: b,
        settings: { muted: true, muteUntil: until, archived: true },
      });
    });
  });
}
