// Group management, end to end: the whole embedded system driven over HTTP
// through the gateway by three users. The owner makes an admin, who then
// manages members as the role table allows; an ordinary member is refused
// with a google.rpc.Status body; ownership moves and every member sees it.
import { randomUUID } from 'node:crypto';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import { type Account, Gateway } from './support/http.ts';
import { openUpdateStream, type UpdateStream } from './support/stream.ts';
import { SYSTEM_ENV } from './support/system.ts';

interface ChatJson {
  chatId: string;
  ownerId: string;
  title: string;
  members: { userId: string; role: string }[];
}

describe('group management, whole system over HTTP', () => {
  let system: RunningSystem;
  let gw: Gateway;
  const streams: UpdateStream[] = [];

  beforeAll(async () => {
    system = await startSystem(loadEmbeddedConfig(SYSTEM_ENV));
    gw = new Gateway(system.gatewayUrl);
  }, 60_000);

  afterAll(async () => {
    for (const s of streams) await s.close();
    await system?.stop();
  });

  const befriend = async (a: Account, b: Account) => {
    await gw.ok('POST', `/v1/friends/${b.userId}`, a.accessToken, {});
    await gw.ok('POST', `/v1/friends/${a.userId}/confirm`, b.accessToken, {});
  };
  const roles = (chat: ChatJson) => Object.fromEntries(chat.members.map((m) => [m.userId, m.role]));
  const chatOf = async (who: Account, chatId: string) =>
    (await gw.ok('GET', `/v1/chats/${chatId}`, who.accessToken)).chat as ChatJson;

  it('promotes an admin, refuses a member, and hands the group over', async () => {
    const [ann, bob, cat, dan] = [
      await gw.register('ann'),
      await gw.register('bob'),
      await gw.register('cat'),
      await gw.register('dan'),
    ];
    await befriend(ann, bob);
    await befriend(ann, cat);
    await befriend(bob, dan);
    const created = await gw.ok('POST', '/v1/chats', ann.accessToken, {
      type: 'CHAT_TYPE_GROUP',
      title: 'climbing',
      memberIds: [bob.userId, cat.userId],
    });
    const chatId = (created.chat as ChatJson).chatId;
    const catStream = await openUpdateStream(system.gatewayUrl, cat.accessToken);
    streams.push(catStream);

    // A member may not make admins, nor add anyone.
    const early = await gw.request('PATCH', `/v1/chats/${chatId}/members/${bob.userId}`, bob.accessToken, {
      role: 'CHAT_MEMBER_ROLE_ADMIN',
    });
    expect([early.status, early.body.code]).toEqual([403, 7]);
    expect(early.body.details).toEqual(expect.arrayContaining([expect.objectContaining({ reason: 'NOT_PERMITTED' })]));

    const promoted = await gw.ok('PATCH', `/v1/chats/${chatId}/members/${bob.userId}`, ann.accessToken, {
      role: 'CHAT_MEMBER_ROLE_ADMIN',
    });
    expect(roles(promoted.chat as ChatJson)).toEqual({
      [ann.userId]: 'CHAT_MEMBER_ROLE_OWNER',
      [bob.userId]: 'CHAT_MEMBER_ROLE_ADMIN',
      [cat.userId]: 'CHAT_MEMBER_ROLE_MEMBER',
    });
    // Another member sees the promotion live.
    const seen = await catStream.next(
      'chatUpdated',
      (u) => (u.chatUpdated as ChatJson | undefined)?.members.some((m) => m.role === 'CHAT_MEMBER_ROLE_ADMIN') === true,
    );
    expect(roles(seen.chatUpdated as ChatJson)[bob.userId]).toBe('CHAT_MEMBER_ROLE_ADMIN');
    // ... and as a system message in the history, with who did what to whom.
    const notice = await catStream.next('messageCreated', (u) => u.messageCreated !== undefined);
    expect(notice.messageCreated).toMatchObject({
      senderId: ann.userId,
      text: '',
      system: {
        kind: 'SYSTEM_EVENT_KIND_ROLE_CHANGED',
        actorId: ann.userId,
        targetUserIds: [bob.userId],
        role: 'CHAT_MEMBER_ROLE_ADMIN',
      },
    });

    // The admin changes the group profile; a member may not, and is told why in a google.rpc.Status body.
    const renamed = await gw.ok('PATCH', `/v1/chats/${chatId}`, bob.accessToken, {
      chat: { title: 'bouldering', description: 'Thursdays 7pm', avatarUrl: 'https://img.example/wall.png' },
      updateMask: 'title,description,avatarUrl',
    });
    expect(renamed.chat).toMatchObject({
      title: 'bouldering',
      description: 'Thursdays 7pm',
      avatarUrl: 'https://img.example/wall.png',
    });
    const memberRename = await gw.request('PATCH', `/v1/chats/${chatId}`, cat.accessToken, {
      chat: { title: 'mine now' },
      updateMask: 'title',
    });
    expect(memberRename.status).toBe(403);
    expect(memberRename.body).toMatchObject({
      code: 7,
      message: expect.any(String),
      details: expect.arrayContaining([
        expect.objectContaining({ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'NOT_PERMITTED' }),
      ]),
    });
    const insecure = await gw.request('PATCH', `/v1/chats/${chatId}`, bob.accessToken, {
      chat: { avatarUrl: 'http://img.example/wall.png' },
      updateMask: 'avatarUrl',
    });
    expect([insecure.status, insecure.body.code]).toEqual([400, 3]);
    expect((await chatOf(cat, chatId)).title).toBe('bouldering');

    // The admin adds their own friend and removes an ordinary member; a member may do neither.
    const refused = await gw.request('POST', `/v1/chats/${chatId}/members`, cat.accessToken, {
      memberIds: [dan.userId],
    });
    expect([refused.status, refused.body.code]).toEqual([403, 7]);
    await gw.ok('POST', `/v1/chats/${chatId}/members`, bob.accessToken, { memberIds: [dan.userId] });
    await gw.ok('DELETE', `/v1/chats/${chatId}/members/${dan.userId}`, bob.accessToken);
    const ownerRemoval = await gw.request('DELETE', `/v1/chats/${chatId}/members/${ann.userId}`, bob.accessToken);
    expect([ownerRemoval.status, ownerRemoval.body.code]).toEqual([403, 7]);

    // The admin deletes the owner's message; the tombstone names them.
    const sent = await gw.ok('POST', `/v1/chats/${chatId}/messages`, ann.accessToken, {
      clientMessageId: randomUUID(),
      text: 'wrong chat, sorry',
    });
    const messageId = (sent.message as { messageId: string }).messageId;
    const tombstone = await gw.ok('DELETE', `/v1/chats/${chatId}/messages/${messageId}`, bob.accessToken);
    expect(tombstone.message).toMatchObject({ deleted: true, deletedById: bob.userId });

    // Ownership moves to cat; ann stays as an admin and can no longer make admins.
    const handed = await gw.ok('POST', `/v1/chats/${chatId}:transferOwnership`, ann.accessToken, {
      userId: cat.userId,
    });
    expect((handed.chat as ChatJson).ownerId).toBe(cat.userId);
    expect(roles(await chatOf(bob, chatId))).toEqual({
      [ann.userId]: 'CHAT_MEMBER_ROLE_ADMIN',
      [bob.userId]: 'CHAT_MEMBER_ROLE_ADMIN',
      [cat.userId]: 'CHAT_MEMBER_ROLE_OWNER',
    });
    const demote = await gw.request('PATCH', `/v1/chats/${chatId}/members/${bob.userId}`, ann.accessToken, {
      role: 'CHAT_MEMBER_ROLE_MEMBER',
    });
    expect([demote.status, demote.body.code]).toEqual([403, 7]);
    const badRole = await gw.request('PATCH', `/v1/chats/${chatId}/members/${bob.userId}`, cat.accessToken, {
      role: 'CHAT_MEMBER_ROLE_OWNER',
    });
    expect([badRole.status, badRole.body.code]).toEqual([400, 3]);

    // The history records every change, newest first, as structured system messages.
    await gw.ok('DELETE', `/v1/chats/${chatId}/members/${bob.userId}`, bob.accessToken);
    const history = (await gw.ok('GET', `/v1/chats/${chatId}/messages`, cat.accessToken)).messages as {
      system?: Record<string, unknown>;
    }[];
    expect(history.flatMap((m) => (m.system ? [m.system] : []))).toMatchObject([
      { kind: 'SYSTEM_EVENT_KIND_MEMBER_LEFT', actorId: bob.userId },
      { kind: 'SYSTEM_EVENT_KIND_OWNERSHIP_TRANSFERRED', actorId: ann.userId, targetUserIds: [cat.userId] },
      { kind: 'SYSTEM_EVENT_KIND_MEMBER_REMOVED', actorId: bob.userId, targetUserIds: [dan.userId] },
      { kind: 'SYSTEM_EVENT_KIND_MEMBERS_ADDED', actorId: bob.userId, targetUserIds: [dan.userId] },
      {
        kind: 'SYSTEM_EVENT_KIND_PROFILE_CHANGED',
        actorId: bob.userId,
        changedFields: ['title', 'description', 'avatar_url'],
        title: 'bouldering',
        description: 'Thursdays 7pm',
        avatarUrl: 'https://img.example/wall.png',
      },
      {
        kind: 'SYSTEM_EVENT_KIND_ROLE_CHANGED',
        actorId: ann.userId,
        targetUserIds: [bob.userId],
        role: 'CHAT_MEMBER_ROLE_ADMIN',
      },
    ]);
  }, 60_000);
});
