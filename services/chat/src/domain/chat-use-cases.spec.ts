import { randomUUID } from 'node:crypto';
import { DomainError, ErrorKind } from '@messenger/platform/domain';
import { chatEventEntry } from '../events/chat-events.ts';
import { withEventEncoding } from '../store/chat-store.ts';
import { MemoryChatStore } from '../store/memory/memory-chat-store.ts';
import type { Profile } from './chat.ts';
import { createChatUseCases } from './chat-use-cases.ts';

describe('chat use cases', () => {
  const setup = (
    friends: boolean | ((a: string, b: string) => boolean) = true,
    blocks: readonly (readonly [string, string])[] = [],
    now: () => Date = () => new Date(),
  ) => {
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
        relation: async (a, b) => ({
          friends: typeof friends === 'boolean' ? friends : friends(a, b),
          blocked: blocks.some(([x, y]) => (x === a && y === b) || (x === b && y === a)),
        }),
        friendIds: async () => [],
      },
      limits: { memberCap: 4 },
      now,
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
    expect(made[0].chat.id).toBe(made[1].chat.id);
  });

  it('leaves users in a block with the caller out of a group silently; everyone else is unaffected', async () => {
    const [owner, blocker, other] = [randomUUID(), randomUUID(), randomUUID()];
    const { chats, as } = setup(true, [[blocker, owner]]);
    const { chat: group } = await chats.createChat(as(owner), {
      type: 'group',
      memberIds: [blocker, other],
      title: 't',
    });
    expect(group.members.map((m) => m.userId)).toEqual([owner, other]);
    const added = await chats.addMembers(as(owner), group.id, [blocker]);
    expect(added.invited).toEqual([]);
    expect(added.chat.members.map((m) => m.userId)).toEqual([owner, other]);

    const { chat: direct } = await chats.createChat(as(owner), { type: 'direct', memberIds: [other], title: '' });
    const send = (from: string, chatId: string) =>
      chats.sendMessage(as(from), { chatId, clientMessageId: randomUUID(), text: 'hi' });
    await expect(send(owner, direct.id)).resolves.toMatchObject({ sequence: 1 });
    await expect(send(owner, group.id)).resolves.toMatchObject({ sequence: 1 });
  });

  it('refuses a direct message across a block as it refuses a non-friend', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const before = setup(true);
    const { chat } = await before.chats.createChat(before.as(a), { type: 'direct', memberIds: [b], title: '' });
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
      groups.push((await chats.createChat(as(owner), { type: 'group', memberIds: [b], title: 't' })).chat);
    const newer = { userId: b, nickname: 'renamed', avatarUrl: 'a.png', updateTime: new Date(1000) };
    await expect(chats.refreshProfile(newer, 'r')).resolves.toBe(3);
    await expect(chats.refreshProfile(newer, 'r')).resolves.toBe(0);
    await expect(chats.refreshProfile({ ...newer, nickname: 'stale', updateTime: new Date(500) }, 'r')).resolves.toBe(
      0,
    );
    const { chat } = await chats.getChat(as(owner), groups[0]?.id ?? '');
    expect(chat.members[1]).toMatchObject({ nickname: 'renamed', avatarUrl: 'a.png' });

    await store.setPresencePrivacy(owner, 'nobody');
    await expect(chats.removeUser(owner.toUpperCase(), 'r')).resolves.toBe(3);
    await expect(store.presencePrivacies([owner])).resolves.toEqual(new Map());
    await expect(chats.removeUser(owner, 'r')).resolves.toBe(0);
    const { chat: after } = await chats.getChat(as(b), groups[2]?.id ?? '');
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

  describe('group consent', () => {
    const DAY = 24 * 60 * 60 * 1000;
    const people = () => {
      const [owner, friend, stranger, blocker] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      const pair = (a: string, b: string, x: string, y: string) => (a === x && b === y) || (a === y && b === x);
      return { owner, friend, stranger, blocker, areFriends: (a: string, b: string) => pair(a, b, owner, friend) };
    };
    const errorOf = (p: Promise<unknown>) => p.then(() => undefined, kindOf);

    it('adds friends, invites anyone else and leaves blocked users out, at creation and later', async () => {
      const { owner, friend, stranger, blocker, areFriends } = people();
      const { chats, as } = setup(areFriends, [[blocker, owner]]);
      const made = await chats.createChat(as(owner), {
        type: 'group',
        memberIds: [friend, stranger, blocker],
        title: 'trip',
      });
      expect(made.chat.members.map((m) => m.userId)).toEqual([owner, friend]);
      expect(made.invited).toEqual([stranger]);
      const listed = await chats.listInvitations(as(stranger), { pageSize: 0, pageToken: '' });
      expect(listed.items).toMatchObject([{ chatId: made.chat.id, inviterId: owner, title: 'trip' }]);
      await expect(chats.listInvitations(as(blocker), { pageSize: 0, pageToken: '' })).resolves.toEqual({
        items: [],
        nextPageToken: '',
      });
      // The invitee is not a member: the chat does not exist for them and they cannot post.
      expect(await errorOf(chats.getChat(as(stranger), made.chat.id))).toEqual([ErrorKind.NotFound, 'CHAT_NOT_FOUND']);
      // A repeat is idempotent: still one invitation.
      const again = await chats.addMembers(as(owner), made.chat.id, [stranger, blocker]);
      expect(again.invited).toEqual([stranger]);
      expect(again.chat.members).toHaveLength(2);
      expect((await chats.listInvitations(as(stranger), { pageSize: 0, pageToken: '' })).items).toHaveLength(1);

      const joined = await chats.acceptInvitation(as(stranger), made.chat.id.toUpperCase());
      expect(joined.members.map((m) => m.userId)).toEqual([owner, friend, stranger]);
      await expect(chats.getChat(as(stranger), made.chat.id)).resolves.toMatchObject({ chat: { version: 2 } });
      expect(await errorOf(chats.acceptInvitation(as(stranger), made.chat.id))).toEqual([
        ErrorKind.NotFound,
        'INVITATION_NOT_FOUND',
      ]);
    });

    it('refuses an invitation once a block stands between the invitee and the inviter', async () => {
      const { owner, stranger, areFriends } = people();
      const blocks: [string, string][] = [];
      const { chats, as } = setup(areFriends, blocks);
      const made = await chats.createChat(as(owner), { type: 'group', memberIds: [stranger], title: 'a' });
      blocks.push([owner, stranger]);
      expect(await errorOf(chats.acceptInvitation(as(stranger), made.chat.id))).toEqual([
        ErrorKind.NotFound,
        'INVITATION_NOT_FOUND',
      ]);
      expect((await chats.getChat(as(owner), made.chat.id)).chat.members).toHaveLength(1);
    });

    it('forgets a declined invitation, and refuses a lapsed one', async () => {
      const { owner, stranger, areFriends } = people();
      let clock = Date.parse('2026-01-01T00:00:00Z');
      const { chats, as } = setup(areFriends, [], () => new Date(clock));
      const one = await chats.createChat(as(owner), { type: 'group', memberIds: [stranger], title: 'a' });
      const two = await chats.createChat(as(owner), { type: 'group', memberIds: [stranger], title: 'b' });
      await chats.declineInvitation(as(stranger), one.chat.id);
      expect(await errorOf(chats.acceptInvitation(as(stranger), one.chat.id))).toEqual([
        ErrorKind.NotFound,
        'INVITATION_NOT_FOUND',
      ]);
      expect(await errorOf(chats.declineInvitation(as(stranger), one.chat.id))).toEqual([
        ErrorKind.NotFound,
        'INVITATION_NOT_FOUND',
      ]);
      clock += 7 * DAY;
      await expect(chats.listInvitations(as(stranger), { pageSize: 0, pageToken: '' })).resolves.toEqual({
        items: [],
        nextPageToken: '',
      });
      expect(await errorOf(chats.acceptInvitation(as(stranger), two.chat.id))).toEqual([
        ErrorKind.NotFound,
        'INVITATION_NOT_FOUND',
      ]);
      // The owner may invite again once it lapsed.
      await expect(chats.addMembers(as(owner), two.chat.id, [stranger])).resolves.toMatchObject({
        invited: [stranger],
      });
      await expect(chats.acceptInvitation(as(stranger), two.chat.id)).resolves.toMatchObject({ title: 'b' });
    });

    it('refuses an invitation beyond the invitee’s pending limit before writing anything', async () => {
      const { owner, stranger, areFriends } = people();
      const { chats, as, store } = setup(areFriends);
      for (let i = 0; i < 100; i++) {
        await chats.createChat(as(owner), { type: 'group', memberIds: [stranger], title: `g${i}` });
      }
      const error = await errorOf(
        chats.createChat(as(owner), { type: 'group', memberIds: [stranger], title: 'one more' }),
      );
      expect(error).toEqual([ErrorKind.ResourceExhausted, 'TOO_MANY_INVITATIONS']);
      await expect(store.listChatsOf(owner, undefined, 200)).resolves.toHaveLength(100);
      const page = await chats.listInvitations(as(stranger), { pageSize: 60, pageToken: '' });
      const rest = await chats.listInvitations(as(stranger), { pageSize: 60, pageToken: page.nextPageToken });
      expect([page.items.length, rest.items.length, rest.nextPageToken]).toEqual([60, 40, '']);
    });
  });
});
