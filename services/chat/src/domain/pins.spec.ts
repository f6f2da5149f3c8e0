// Who may pin, through the use cases over the memory store: either member of
// a direct chat, only the owner of a group; outsiders do not see the chat.
import { randomUUID } from 'node:crypto';
import { DomainError } from '@messenger/platform/domain';
import { chatEventEntry } from '../events/chat-events.ts';
import { withEventEncoding } from '../store/chat-store.ts';
import { MemoryChatStore } from '../store/memory/memory-chat-store.ts';
import type { Chat, Member, Profile } from './chat.ts';
import { mayPin } from './chat.ts';
import { createChatUseCases } from './chat-use-cases.ts';

describe('pin permissions', () => {
  const chats = createChatUseCases({
    store: withEventEncoding(new MemoryChatStore(), chatEventEntry),
    users: {
      getProfiles: async (ids) =>
        new Map(
          ids.map((id): [string, Profile] => [id, { userId: id, nickname: 'n', avatarUrl: '', updateTime: undefined }]),
        ),
    },
    friends: { relation: async () => ({ friends: true, blocked: false }), friendIds: async () => [] },
  });
  const as = (userId: string) => ({ actor: { kind: 'user' as const, userId }, requestId: 'r' });
  const reasonOf = (promise: Promise<unknown>) =>
    promise.then(
      () => 'allowed',
      (error: unknown) => (error instanceof DomainError ? error.reason : error),
    );
  const post = async (userId: string, chatId: string) =>
    (await chats.sendMessage(as(userId), { chatId, clientMessageId: randomUUID(), text: 'pin me' })).id;

  it('lets either member of a direct chat pin and unpin', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const { chat } = await chats.createChat(as(a), { type: 'direct', memberIds: [b], title: '' });
    const message = await post(a, chat.id);
    await expect(reasonOf(chats.pinMessage(as(b), chat.id, message))).resolves.toBe('allowed');
    await expect(reasonOf(chats.unpinMessage(as(a), chat.id, message))).resolves.toBe('allowed');
  });

  it("lets only a group's owner pin or unpin; a non-member does not find the chat", async () => {
    const [owner, member, outsider] = [randomUUID(), randomUUID(), randomUUID()];
    const { chat } = await chats.createChat(as(owner), { type: 'group', memberIds: [member], title: 'g' });
    const message = await post(member, chat.id);
    await expect(reasonOf(chats.pinMessage(as(member), chat.id, message))).resolves.toBe('PIN_NOT_ALLOWED');
    await expect(reasonOf(chats.pinMessage(as(owner), chat.id, message))).resolves.toBe('allowed');
    await expect(reasonOf(chats.unpinMessage(as(member), chat.id, message))).resolves.toBe('PIN_NOT_ALLOWED');
    await expect(reasonOf(chats.pinMessage(as(outsider), chat.id, message))).resolves.toBe('CHAT_NOT_FOUND');
    await expect(
      reasonOf(chats.listPinnedMessages(as(outsider), chat.id, { pageSize: 0, pageToken: '' })),
    ).resolves.toBe('CHAT_NOT_FOUND');
    const listed = await chats.listPinnedMessages(as(member), chat.id, { pageSize: 0, pageToken: '' });
    expect(listed.items.map((m) => m.id)).toEqual([message]);
  });

  it('decides by chat type and role in one rule', () => {
    const member = (role: Member['role']): Member => ({
      userId: 'u',
      role,
      nickname: '',
      avatarUrl: '',
      joinTime: new Date(0),
      profileTime: undefined,
    });
    const chat = (type: Chat['type']) => ({ type }) as Chat;
    expect(mayPin(chat('direct'), member('member'))).toBe(true);
    expect(mayPin(chat('group'), member('owner'))).toBe(true);
    expect(mayPin(chat('group'), member('admin'))).toBe(true);
    expect(mayPin(chat('group'), member('member'))).toBe(false);
  });
});
