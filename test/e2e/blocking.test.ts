// Blocking a user, end to end: the whole embedded system driven over HTTP
// through the gateway as a client would. A blocked user can no longer send
// the blocker a friend request, start a direct chat with them or put them in
// a group, and no answer tells them they are blocked.
import { randomUUID } from 'node:crypto';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import { type Account, Gateway } from './support/http.ts';
import { SYSTEM_ENV } from './support/system.ts';

describe('blocking a user, whole system over HTTP', () => {
  let system: RunningSystem;
  let gw: Gateway;

  beforeAll(async () => {
    system = await startSystem(loadEmbeddedConfig(SYSTEM_ENV));
    gw = new Gateway(system.gatewayUrl);
  }, 60_000);

  afterAll(async () => {
    await system?.stop();
  });

  const friendsOf = async (who: Account) =>
    ((await gw.ok('GET', '/v1/friends', who.accessToken)).friendships ?? []) as { userId: string; status: string }[];
  const befriend = async (a: Account, b: Account) => {
    await gw.ok('POST', `/v1/friends/${b.userId}`, a.accessToken, {});
    await gw.ok('POST', `/v1/friends/${a.userId}/confirm`, b.accessToken, {});
  };

  it('a blocked user cannot friend-request, direct-message or add the blocker to a group, and is not told', async () => {
    const [ann, bob] = [await gw.register('ann'), await gw.register('bob')];
    await befriend(ann, bob);
    const direct = await gw.ok('POST', '/v1/chats', bob.accessToken, {
      type: 'CHAT_TYPE_DIRECT',
      memberIds: [ann.userId],
    });
    const directId = (direct.chat as { chatId: string }).chatId;
    const send = (text: string) =>
      gw.request('POST', `/v1/chats/${directId}/messages`, bob.accessToken, { clientMessageId: randomUUID(), text });
    expect((await send('hi')).status).toBe(200);

    const blocked = await gw.ok('POST', `/v1/blocks/${bob.userId}`, ann.accessToken, {});
    expect(blocked.blockedUser).toMatchObject({ userId: bob.userId });
    const list = await gw.ok('GET', '/v1/blocks', ann.accessToken);
    expect((list.blockedUsers as { userId: string }[]).map((b) => b.userId)).toEqual([bob.userId]);
    // The friendship ended as an ordinary unfriend would end it.
    expect(await friendsOf(bob)).toEqual([]);

    // A friend request is answered as sent, yet never reaches ann.
    const asked = await gw.ok('POST', `/v1/friends/${ann.userId}`, bob.accessToken, {});
    expect(asked.friendship).toMatchObject({ userId: ann.userId, status: 'FRIENDSHIP_STATUS_OUTGOING' });
    expect(await friendsOf(ann)).toEqual([]);

    // The direct chat they had takes no more messages, with the refusal a non-friend gets.
    const refused = await send('still there?');
    expect([refused.status, refused.body.code]).toEqual([400, 9]); // FAILED_PRECONDITION
    expect(JSON.stringify(refused.body)).toContain('NOT_FRIENDS');
    const messages = await gw.ok('GET', `/v1/chats/${directId}/messages`, ann.accessToken);
    expect((messages.messages as { text: string }[]).map((m) => m.text)).toEqual(['hi']);

    // A group bob creates with ann, or adds her to later, never has her as a member.
    const cat = await gw.register('cat');
    await befriend(bob, cat);
    const group = await gw.ok('POST', '/v1/chats', bob.accessToken, {
      type: 'CHAT_TYPE_GROUP',
      title: 'party',
      memberIds: [ann.userId, cat.userId],
    });
    const chat = group.chat as { chatId: string; members: { userId: string }[] };
    expect(chat.members.map((m) => m.userId).sort()).toEqual([bob.userId, cat.userId].sort());
    // Nor is she invited: a blocked pair gets no invitation either.
    expect(group.invitedUserIds ?? []).toEqual([]);
    const added = await gw.ok('POST', `/v1/chats/${chat.chatId}/members`, bob.accessToken, { memberIds: [ann.userId] });
    expect(added.invitedUserIds ?? []).toEqual([]);
    expect((await gw.ok('GET', '/v1/chat-invitations', ann.accessToken)).invitations ?? []).toEqual([]);
    expect((added.chat as { members: { userId: string }[] }).members.map((m) => m.userId)).not.toContain(ann.userId);
    const annChats = await gw.ok('GET', '/v1/chats', ann.accessToken);
    const annChatIds = (annChats.chats as { chat: { chatId: string } }[]).map((c) => c.chat.chatId);
    expect(annChatIds).toEqual([directId]);

    // Unblocking lets them be friends again, from a fresh request.
    await gw.ok('DELETE', `/v1/blocks/${bob.userId}`, ann.accessToken);
    await befriend(bob, ann);
    expect((await friendsOf(ann)).map((f) => f.status)).toEqual(['FRIENDSHIP_STATUS_CONFIRMED']);
  });

  it('refuses a malformed id with 400 and a google.rpc.Status body', async () => {
    const ann = await gw.register('ann');
    const res = await gw.request('POST', '/v1/blocks/not-a-uuid', ann.accessToken, {});
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 3 });
  });
});
