import { randomUUID } from 'node:crypto';
import { DomainError, ErrorKind } from '@messenger/platform/domain';
import { chatEventEntry } from '../events/chat-events.ts';
import { withEventEncoding } from '../store/chat-store.ts';
import { MemoryChatStore } from '../store/memory/memory-chat-store.ts';
import type { Profile } from './chat.ts';
import { createChatUseCases } from './chat-use-cases.ts';

describe('chat use cases', () => {
  const setup = (friends = true, blocks: readonly (readonly [string, string])[] = []) => {
    const store = new MemoryChatStore();
    const asked: string[][] = [];
    const chats = createChatUseCases({
      store: withEventEncoding(store, chatEventEntry),
      users: {
        getProfiles: async (ids) => {
          asked.push([...ids]);
          return new Map(
            ids.map((id): [string, Profile] => [
              id,
              { userId: id, nickname: `n${id.slice(0, 4)}`, avatarUrl: '', updateTime: new Date(0) },
            ]),
          );
        },
      },
      friends: {
        areFriends: async () => friends,
        isBlocked: async (a, b) => blocks.some(([x, y]) => (x === a && y === b) || (x === b && y === a)),
      },
      limits: { memberCap: 4 },
    });
    const as = (userId: string) => ({ actor: { kind: 'user' as const, userId }, requestId: 'r' });
    return { store, chats, as, asked };
  };
  const kindOf = (error: unknown) => (error instanceof DomainError ? [error.kind, error.reason] : error);

  it('keeps one direct chat per pair when both create it at once', async () => {
    const { chats, as } = setup();
    const [a, b] = [randomUUID(), randomUUID()];
    const made = await Promise.all([
      chats.createChat(as(a), { type: 'direct', memberIds: [b], title: '' }),
      chats.createChat(as(b), { type: 'direct', memberIds: [a], title: '' }),
    ]);
    expect(made[0].id).toBe(made[1].id);
  });

  it('leaves users in a block with the caller out of a group silently; everyone else is unaffected', async () => {
    const [owner, blocker, other] = [randomUUID(), randomUUID(), randomUUID()];
    const { chats, as } = setup(true, [[blocker, owner]]);
    const group = await chats.createChat(as(owner), { type: 'group', memberIds: [blocker, other], title: 't' });
    expect(group.members.map((m) => m.userId)).toEqual([owner, other]);
    const added = await chats.addMembers(as(owner), group.id, [blocker]);
    expect(added.members.map((m) => m.userId)).toEqual([owner, other]);

    const direct = await chats.createChat(as(owner), { type: 'direct', memberIds: [other], title: '' });
    const send = (from: string, chatId: string) =>
      chats.sendMessage(as(from), { chatId, clientMessageId: randomUUID(), text: 'hi' });
    await expect(send(owner, direct.id)).resolves.toMatchObject({ sequence: 1 });
    await expect(send(owner, group.id)).resolves.toMatchObject({ sequence: 1 });
  });

  it('refuses a direct message across a block as it refuses a non-friend', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const before = setup(true);
    const chat = await before.chats.createChat(before.as(a), { type: 'direct', memberIds: [b], title: '' });
    const { chats, as, store } = setup(true, [[b, a]]);
    await store.createChat({ ...chat }, []);
    const error = await chats
      .sendMessage(as(a), { chatId: chat.id, clientMessageId: randomUUID(), text: 'hi' })
      .catch((e: unknown) => e);
    expect(kindOf(error)).toEqual([ErrorKind.FailedPrecondition, 'NOT_FRIENDS']);
  });

  it('refreshes profile copies only with a newer profile, and removes a deleted user everywhere', async () => {
    const { chats, as, store } = setup();
    const [owner, b] = [randomUUID(), randomUUID()];
    const groups = [];
    for (let i = 0; i < 3; i++)
      groups.push(await chats.createChat(as(owner), { type: 'group', memberIds: [b], title: 't' }));
    const newer = { userId: b, nickname: 'renamed', avatarUrl: 'a.png', updateTime: new Date(1000) };
    await expect(chats.refreshProfile(newer, 'r')).resolves.toBe(3);
    await expect(chats.refreshProfile(newer, 'r')).resolves.toBe(0);
    await expect(chats.refreshProfile({ ...newer, nickname: 'stale', updateTime: new Date(500) }, 'r')).resolves.toBe(
      0,
    );
    const chat = await chats.getChat(as(owner), groups[0]?.id ?? '');
    expect(chat.members[1]).toMatchObject({ nickname: 'renamed', avatarUrl: 'a.png' });

    await expect(chats.removeUser(owner.toUpperCase(), 'r')).resolves.toBe(3);
    await expect(chats.removeUser(owner, 'r')).resolves.toBe(0);
    const after = await chats.getChat(as(b), groups[2]?.id ?? '');
    expect([after.ownerId, after.members.map((m) => m.role)]).toEqual([b, ['owner']]);
    await expect(store.listChatsOf(owner, undefined, 10)).resolves.toEqual([]);
  });

  it('asks the user service once per create, for the creator and the members', async () => {
    const { chats, as, asked } = setup();
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    await chats.createChat(as(a), { type: 'group', memberIds: [b, c, b], title: 't' });
    expect(asked).toEqual([[a, b, c]]);
  });

  it('refuses a direct chat with a stranger and a group over the cap', async () => {
    const { chats, as } = setup(false);
    const me = randomUUID();
    const error = await chats
      .createChat(as(me), { type: 'direct', memberIds: [randomUUID()], title: '' })
      .catch((e: unknown) => e);
    expect(kindOf(error)).toEqual([ErrorKind.FailedPrecondition, 'NOT_FRIENDS']);
    const others = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const big = await chats
      .createChat(as(me), { type: 'group', memberIds: others, title: 't' })
      .catch((e: unknown) => e);
    expect(kindOf(big)).toEqual([ErrorKind.InvalidArgument, 'INVALID_ARGUMENT']);
  });
});
