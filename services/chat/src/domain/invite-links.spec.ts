// Invite links through the use cases over the memory store, on a clock the
// test moves: who may manage links, what a token opens and for how long,
// and who may join with one.
import { createHash, randomUUID } from 'node:crypto';
import { DomainError } from '@messenger/platform/domain';
import { chatEventEntry } from '../events/chat-events.ts';
import { withEventEncoding } from '../store/chat-store.ts';
import { MemoryChatStore } from '../store/memory/memory-chat-store.ts';
import type { Profile } from './chat.ts';
import { createChatUseCases } from './chat-use-cases.ts';

describe('invite links', () => {
  const DAY = 24 * 60 * 60 * 1000;
  let clock: number;
  let blocked: Set<string>;
  let chats: ReturnType<typeof createChatUseCases>;
  const [owner, admin, member] = [randomUUID(), randomUUID(), randomUUID()];
  let chatId: string;

  beforeEach(async () => {
    clock = Date.parse('2026-01-01T00:00:00.000Z');
    blocked = new Set();
    chats = createChatUseCases({
      store: withEventEncoding(new MemoryChatStore(), chatEventEntry),
      users: {
        getProfiles: async (ids) =>
          new Map(
            ids.map((id): [string, Profile] => [
              id,
              { userId: id, nickname: 'n', avatarUrl: '', updateTime: undefined },
            ]),
          ),
      },
      // Everyone is the owner's friend, so the group starts with its members; a
      // joiner by link is nobody's friend.
      friends: {
        relation: async (a, b) => ({
          friends: a === owner || b === owner,
          blocked: blocked.has(`${a}:${b}`) || blocked.has(`${b}:${a}`),
        }),
        friendIds: async () => [],
      },
      limits: { memberCap: 5 },
      now: () => new Date(clock),
    });
    const { chat } = await chats.createChat(as(owner), { type: 'group', memberIds: [admin, member], title: 'g' });
    chatId = chat.id;
    await chats.setMemberRole(as(owner), chatId, admin, 'admin');
  });

  const as = (userId: string) => ({ actor: { kind: 'user' as const, userId }, requestId: 'r' });
  const outcome = (promise: Promise<unknown>) =>
    promise.then(
      () => 'ok',
      (error: unknown) =>
        error instanceof DomainError
          ? [error.reason, ...error.violations.map((v) => v.field)].join(' ')
          : Promise.reject(error),
    );
  const create = (by = owner, input: { expireTime?: Date; useLimit?: number } = {}) =>
    chats.createChatInvite(as(by), chatId, { expireTime: input.expireTime, useLimit: input.useLimit ?? 0 });
  const memberIds = async () => (await chats.getChat(as(owner), chatId)).chat.members.map((m) => m.userId);

  it('lets the owner and admins make, list and revoke links, and nobody else', async () => {
    const outsider = randomUUID();
    await expect(outcome(create(member))).resolves.toBe('NOT_PERMITTED');
    await expect(outcome(create(outsider))).resolves.toBe('CHAT_NOT_FOUND');
    const { invite } = await create(admin);
    const page = { pageSize: 0, pageToken: '' };
    await expect(outcome(chats.listChatInvites(as(member), chatId, page))).resolves.toBe('NOT_PERMITTED');
    await expect(outcome(chats.revokeChatInvite(as(member), chatId, invite.id))).resolves.toBe('NOT_PERMITTED');
    expect((await chats.listChatInvites(as(owner), chatId, page)).items.map((i) => i.id)).toEqual([invite.id]);
    await chats.revokeChatInvite(as(owner), chatId, invite.id);
    await expect(outcome(chats.revokeChatInvite(as(owner), chatId, invite.id))).resolves.toBe('INVITE_LINK_NOT_FOUND');
    const other = randomUUID();
    const { chat: direct } = await chats.createChat(as(owner), { type: 'direct', memberIds: [other], title: '' });
    await expect(
      outcome(chats.createChatInvite(as(owner), direct.id, { expireTime: undefined, useLimit: 0 })),
    ).resolves.toBe('DIRECT_CHAT');
  });

  it('keeps only the hash of a 128-bit token, and ends a link after 7 days unless told otherwise', async () => {
    const { invite, token } = await create();
    expect(token).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(invite.tokenHash).toBe(createHash('sha256').update(token).digest('base64url'));
    expect(invite.expireTime.getTime() - clock).toBe(7 * DAY);
    const second = await create();
    expect(second.token).not.toBe(token);
  });

  it('refuses an end in the past or beyond 30 days, a bad use limit, and a malformed token', async () => {
    await expect(outcome(create(owner, { expireTime: new Date(clock) }))).resolves.toBe('INVALID_ARGUMENT expire_time');
    await expect(outcome(create(owner, { expireTime: new Date(clock + 30 * DAY + 1) }))).resolves.toBe(
      'INVALID_ARGUMENT expire_time',
    );
    await expect(outcome(create(owner, { expireTime: new Date(clock + 30 * DAY) }))).resolves.toBe('ok');
    await expect(outcome(create(owner, { useLimit: -1 }))).resolves.toBe('INVALID_ARGUMENT use_limit');
    await expect(outcome(create(owner, { useLimit: 100_001 }))).resolves.toBe('INVALID_ARGUMENT use_limit');
    await expect(outcome(chats.previewChatInvite(as(member), 'not a token'))).resolves.toBe('INVALID_ARGUMENT token');
    await expect(outcome(chats.joinChatByInvite(as(member), ''))).resolves.toBe('INVALID_ARGUMENT token');
  });

  it('lets a stranger preview and join; a member joining again uses nothing', async () => {
    const stranger = randomUUID();
    const { token } = await create(owner, { useLimit: 2 });
    const preview = await chats.previewChatInvite(as(stranger), token);
    expect(preview).toMatchObject({ chat: { id: chatId, title: 'g' } });
    expect(preview.chat.members).toHaveLength(3);
    const joined = await chats.joinChatByInvite(as(stranger), token);
    expect(joined.members.map((m) => [m.userId, m.role])).toContainEqual([stranger, 'member']);
    await chats.joinChatByInvite(as(stranger), token);
    await chats.joinChatByInvite(as(member), token);
    const [listed] = (await chats.listChatInvites(as(owner), chatId, { pageSize: 0, pageToken: '' })).items;
    expect(listed?.useCount).toBe(1);
    const [notice] = (await chats.listMessages(as(stranger), chatId, { pageSize: 1, pageToken: '' })).items;
    expect(notice?.system).toMatchObject({ kind: 'joined_by_link', actorId: stranger, targetIds: [owner] });
  });

  it('answers NOT_FOUND alike for an unknown, revoked, expired or used-up link', async () => {
    const notFound = async (token: string) => [
      await outcome(chats.previewChatInvite(as(randomUUID()), token)),
      await outcome(chats.joinChatByInvite(as(randomUUID()), token)),
    ];
    const gone = ['INVITE_LINK_NOT_FOUND', 'INVITE_LINK_NOT_FOUND'];
    expect(await notFound('A'.repeat(22))).toEqual(gone);
    const revoked = await create();
    await chats.revokeChatInvite(as(owner), chatId, revoked.invite.id);
    expect(await notFound(revoked.token)).toEqual(gone);
    const once = await create(owner, { useLimit: 1 });
    await chats.joinChatByInvite(as(randomUUID()), once.token);
    expect(await notFound(once.token)).toEqual(gone);
    const expiring = await create(owner, { expireTime: new Date(clock + 1000) });
    clock += 1000;
    expect(await notFound(expiring.token)).toEqual(gone);
  });

  it('stops a link when its creator may no longer make links', async () => {
    const { token } = await create(admin);
    await chats.previewChatInvite(as(randomUUID()), token);
    await chats.setMemberRole(as(owner), chatId, admin, 'member');
    await expect(outcome(chats.joinChatByInvite(as(randomUUID()), token))).resolves.toBe('INVITE_LINK_NOT_FOUND');
    await chats.setMemberRole(as(owner), chatId, admin, 'admin');
    await expect(outcome(chats.joinChatByInvite(as(randomUUID()), token))).resolves.toBe('ok');
  });

  it('keeps out a user in a block with the creator, and anyone once the group is full', async () => {
    const { token } = await create();
    const blockedUser = randomUUID();
    blocked.add(`${owner}:${blockedUser}`);
    await expect(outcome(chats.joinChatByInvite(as(blockedUser), token))).resolves.toBe('INVITE_LINK_NOT_FOUND');
    await chats.joinChatByInvite(as(randomUUID()), token);
    await chats.joinChatByInvite(as(randomUUID()), token);
    await expect(outcome(chats.joinChatByInvite(as(randomUUID()), token))).resolves.toBe('MEMBER_CAP');
    expect(await memberIds()).toHaveLength(5);
  });

  it('lets exactly one of two racing joins take a link’s last use', async () => {
    const { token } = await create(owner, { useLimit: 1 });
    const results = await Promise.all([
      outcome(chats.joinChatByInvite(as(randomUUID()), token)),
      outcome(chats.joinChatByInvite(as(randomUUID()), token)),
    ]);
    expect(results.sort()).toEqual(['INVITE_LINK_NOT_FOUND', 'ok']);
    expect(await memberIds()).toHaveLength(4);
  });
});
