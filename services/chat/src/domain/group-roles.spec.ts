import { randomUUID } from 'node:crypto';
import { DomainError } from '@messenger/platform/domain';
import { chatEventEntry } from '../events/chat-events.ts';
import { withEventEncoding } from '../store/chat-store.ts';
import { MemoryChatStore } from '../store/memory/memory-chat-store.ts';
import { GROUP_PERMISSIONS, type GroupAction, type MemberRole, may, mayRemove } from './chat.ts';
import { createChatUseCases } from './chat-use-cases.ts';

describe('the group permission table', () => {
  const roles: MemberRole[] = ['owner', 'admin', 'member'];
  const allowed = (action: GroupAction) => roles.filter((role) => may(role, action));

  it('gives admins the day-to-day moderation and keeps the admins and the group itself to the owner', () => {
    expect(Object.fromEntries(Object.keys(GROUP_PERMISSIONS).map((a) => [a, allowed(a as GroupAction)]))).toEqual({
      add_members: ['owner', 'admin'],
      remove_members: ['owner', 'admin'],
      change_profile: ['owner', 'admin'],
      pin: ['owner', 'admin'],
      delete_messages: ['owner', 'admin'],
      manage_admins: ['owner'],
      transfer_ownership: ['owner'],
      manage_invites: ['owner', 'admin'],
    });
    expect(may(undefined, 'add_members')).toBe(false);
  });

  it('lets a role remove only the roles below it', () => {
    const removable = (role: MemberRole) => roles.filter((target) => mayRemove(role, target));
    expect(roles.map(removable)).toEqual([['admin', 'member'], ['member'], []]);
  });
});

describe('group roles in the use cases', () => {
  const setup = () => {
    const chats = createChatUseCases({
      store: withEventEncoding(new MemoryChatStore(), chatEventEntry),
      users: {
        getProfiles: async (ids) =>
          new Map(
            ids.map((id) => [id, { userId: id, nickname: id.slice(0, 4), avatarUrl: '', updateTime: undefined }]),
          ),
      },
      friends: { relation: async () => ({ friends: true, blocked: false }), friendIds: async () => [] },
    });
    const as = (userId: string) => ({ actor: { kind: 'user' as const, userId }, requestId: 'r' });
    return { chats, as };
  };
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => 'allowed',
      (error: unknown) => (error instanceof DomainError ? `${error.kind} ${error.reason}` : error),
    );
  const roleMap = (chat: { members: readonly { userId: string; role: string }[] }) =>
    Object.fromEntries(chat.members.map((m) => [m.userId, m.role]));

  it('lets an admin add and remove members but not remove another admin or the owner, nor make admins', async () => {
    const { chats, as } = setup();
    const [owner, admin, other, member, newcomer] = [
      randomUUID(),
      randomUUID(),
      randomUUID(),
      randomUUID(),
      randomUUID(),
    ];
    const { chat } = await chats.createChat(as(owner), {
      type: 'group',
      memberIds: [admin, other, member],
      title: 't',
    });
    await chats.setMemberRole(as(owner), chat.id, admin, 'admin');
    await chats.setMemberRole(as(owner), chat.id, other, 'admin');

    expect(await refusal(chats.addMembers(as(member), chat.id, [newcomer]))).toBe('permission_denied NOT_PERMITTED');
    expect(await refusal(chats.addMembers(as(admin), chat.id, [newcomer]))).toBe('allowed');
    expect(await refusal(chats.removeMember(as(admin), chat.id, other))).toBe('permission_denied NOT_PERMITTED');
    expect(await refusal(chats.removeMember(as(admin), chat.id, owner))).toBe('permission_denied NOT_PERMITTED');
    expect(await refusal(chats.setMemberRole(as(admin), chat.id, member, 'admin'))).toBe(
      'permission_denied NOT_PERMITTED',
    );
    expect(await refusal(chats.removeMember(as(admin), chat.id, newcomer))).toBe('allowed');
    expect(await refusal(chats.removeMember(as(owner), chat.id, other))).toBe('allowed');
    expect(roleMap((await chats.getChat(as(owner), chat.id)).chat)).toEqual({
      [owner]: 'owner',
      [admin]: 'admin',
      [member]: 'member',
    });
  });

  it("refuses to change the owner's role except by a transfer, which makes the old owner an admin", async () => {
    const { chats, as } = setup();
    const [owner, heir, member] = [randomUUID(), randomUUID(), randomUUID()];
    const { chat } = await chats.createChat(as(owner), { type: 'group', memberIds: [heir, member], title: 't' });
    expect(await refusal(chats.setMemberRole(as(owner), chat.id, owner, 'member'))).toBe(
      'failed_precondition OWNER_ROLE',
    );
    expect(await refusal(chats.transferOwnership(as(heir), chat.id, heir))).toBe('permission_denied NOT_PERMITTED');

    const after = await chats.transferOwnership(as(owner), chat.id, heir);
    expect([after.ownerId, roleMap(after)]).toEqual([heir, { [owner]: 'admin', [heir]: 'owner', [member]: 'member' }]);
    // A retry by the old owner is refused: they no longer own it; the new owner's own retry changes nothing.
    expect(await refusal(chats.transferOwnership(as(owner), chat.id, heir))).toBe('permission_denied NOT_PERMITTED');
    expect((await chats.transferOwnership(as(heir), chat.id, heir)).version).toBe(after.version);
    const { chat: direct } = await chats.createChat(as(owner), { type: 'direct', memberIds: [member], title: '' });
    expect(await refusal(chats.transferOwnership(as(owner), direct.id, member))).toBe(
      'failed_precondition DIRECT_CHAT',
    );
  });

  it("lets an admin delete others' messages, recording who deleted, and a member only their own", async () => {
    const { chats, as } = setup();
    const [owner, admin, member] = [randomUUID(), randomUUID(), randomUUID()];
    const { chat } = await chats.createChat(as(owner), { type: 'group', memberIds: [admin, member], title: 't' });
    await chats.setMemberRole(as(owner), chat.id, admin, 'admin');
    const post = (who: string) =>
      chats.sendMessage(as(who), { chatId: chat.id, clientMessageId: randomUUID(), text: 'x' });
    const byOwner = await post(owner);
    const byMember = await post(member);

    expect(await refusal(chats.deleteMessage(as(member), chat.id, byOwner.id))).toBe('permission_denied NOT_SENDER');
    const tombstone = await chats.deleteMessage(as(admin), chat.id, byMember.id);
    expect([tombstone.deleted, tombstone.deletedBy]).toEqual([true, admin]);
    expect((await chats.getMessage(as(member), chat.id, byMember.id)).deletedBy).toBe(admin);
    expect((await chats.deleteMessage(as(owner), chat.id, byOwner.id)).deletedBy).toBe(owner);
  });
});

describe('the group profile', () => {
  const setup = () => {
    const chats = createChatUseCases({
      store: withEventEncoding(new MemoryChatStore(), chatEventEntry),
      users: {
        getProfiles: async (ids) =>
          new Map(
            ids.map((id) => [id, { userId: id, nickname: id.slice(0, 4), avatarUrl: '', updateTime: undefined }]),
          ),
      },
      friends: { relation: async () => ({ friends: true, blocked: false }), friendIds: async () => [] },
    });
    const as = (userId: string) => ({ actor: { kind: 'user' as const, userId }, requestId: 'r' });
    return { chats, as };
  };
  const values = { title: 'new title', description: 'about us', avatarUrl: 'https://img.example/g.png' };
  const fieldsOf = (error: unknown) =>
    error instanceof DomainError ? error.violations.map((v) => `${v.field}: ${v.description}`) : error;

  it('lets an admin change the fields the mask names and refuses an ordinary member', async () => {
    const { chats, as } = setup();
    const [owner, admin, member] = [randomUUID(), randomUUID(), randomUUID()];
    const { chat } = await chats.createChat(as(owner), { type: 'group', memberIds: [admin, member], title: 'old' });
    await chats.setMemberRole(as(owner), chat.id, admin, 'admin');

    const described = await chats.updateChat(as(admin), chat.id, { paths: ['description', 'avatar_url'], values });
    expect([described.title, described.description, described.avatarUrl]).toEqual([
      'old',
      'about us',
      'https://img.example/g.png',
    ]);
    const again = await chats.updateChat(as(owner), chat.id, { paths: ['description'], values });
    expect(again.version).toBe(described.version);
    const cleared = await chats.updateChat(as(owner), chat.id, {
      paths: ['title', 'avatar_url'],
      values: { ...values, avatarUrl: '' },
    });
    expect([cleared.title, cleared.description, cleared.avatarUrl]).toEqual(['new title', 'about us', '']);
    await expect(chats.updateChat(as(member), chat.id, { paths: ['title'], values })).rejects.toMatchObject({
      reason: 'NOT_PERMITTED',
    });
    const { chat: direct } = await chats.createChat(as(owner), { type: 'direct', memberIds: [member], title: '' });
    await expect(chats.updateChat(as(owner), direct.id, { paths: ['description'], values })).rejects.toMatchObject({
      reason: 'DIRECT_CHAT',
    });
  });

  it('refuses an empty or unknown mask, a cleared title, a long description and a non-https picture', async () => {
    const { chats, as } = setup();
    const owner = randomUUID();
    const { chat } = await chats.createChat(as(owner), { type: 'group', memberIds: [randomUUID()], title: 't' });
    const refusal = (paths: string[], v = values) =>
      chats.updateChat(as(owner), chat.id, { paths, values: v }).catch(fieldsOf);
    expect(await refusal([])).toEqual(['update_mask: must name at least one of title, description, avatar_url']);
    expect(await refusal(['owner_id'])).toEqual([
      'update_mask: names unknown fields (owner_id); allowed: title, description, avatar_url',
    ]);
    expect(
      await refusal(['title', 'description', 'avatar_url'], {
        title: ' ',
        description: 'x'.repeat(501),
        avatarUrl: 'http://img.example/g.png',
      }),
    ).toEqual([
      'chat.title: must not be blank',
      'chat.description: must be at most 500 characters',
      'chat.avatar_url: must be an absolute https:// URL',
    ]);
    expect(await refusal(['avatar_url'], { ...values, avatarUrl: `https://img.example/${'a'.repeat(2048)}` })).toEqual([
      'chat.avatar_url: must be at most 2048 characters',
    ]);
  });
});

describe('system messages', () => {
  it('records each group change in the history, sent by its actor, and refuses to edit one', async () => {
    const chats = createChatUseCases({
      store: withEventEncoding(new MemoryChatStore(), chatEventEntry),
      users: {
        getProfiles: async (ids) =>
          new Map(
            ids.map((id) => [id, { userId: id, nickname: id.slice(0, 4), avatarUrl: '', updateTime: undefined }]),
          ),
      },
      friends: { relation: async () => ({ friends: true, blocked: false }), friendIds: async () => [] },
    });
    const as = (userId: string) => ({ actor: { kind: 'user' as const, userId }, requestId: 'r' });
    const [owner, a, b] = [randomUUID(), randomUUID(), randomUUID()];
    const { chat } = await chats.createChat(as(owner), { type: 'group', memberIds: [a], title: 't' });
    await chats.addMembers(as(owner), chat.id, [b]);
    await chats.setMemberRole(as(owner), chat.id, a, 'admin');
    await chats.updateChat(as(a), chat.id, {
      paths: ['title', 'description'],
      values: { title: 'u', description: '', avatarUrl: '' },
    });
    await chats.removeMember(as(a), chat.id, b);
    await chats.transferOwnership(as(owner), chat.id, a);
    await chats.removeMember(as(owner), chat.id, owner);

    const history = (await chats.listMessages(as(a), chat.id, { pageSize: 10, pageToken: '' })).items.toReversed();
    expect(history.map((m) => [m.sequence, m.senderId, m.text, m.system])).toEqual([
      [1, owner, '', { kind: 'members_added', actorId: owner, targetIds: [b], role: undefined, profile: undefined }],
      [2, owner, '', { kind: 'role_changed', actorId: owner, targetIds: [a], role: 'admin', profile: undefined }],
      // The description was empty already: only the title changed.
      [3, a, '', { kind: 'profile_changed', actorId: a, targetIds: [], role: undefined, profile: { title: 'u' } }],
      [4, a, '', { kind: 'member_removed', actorId: a, targetIds: [b], role: undefined, profile: undefined }],
      [
        5,
        owner,
        '',
        { kind: 'ownership_transferred', actorId: owner, targetIds: [a], role: undefined, profile: undefined },
      ],
      [6, owner, '', { kind: 'member_left', actorId: owner, targetIds: [], role: undefined, profile: undefined }],
    ]);
    // Back in the group, the owner who made the role change still may not rewrite its record.
    await chats.addMembers(as(a), chat.id, [owner]);
    await expect(chats.editMessage(as(owner), chat.id, history[1]?.id ?? '', 'rewritten')).rejects.toThrow(
      expect.objectContaining({ reason: 'SYSTEM_MESSAGE' }),
    );
  });
});
