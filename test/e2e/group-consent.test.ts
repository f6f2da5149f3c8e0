// Group consent, end to end: the whole embedded system driven over HTTP
// through the gateway as a client would. A group owner's friends join at
// once; anyone else is invited, sees the invitation live and in their list,
// and gets the group's messages only after accepting.
import { randomUUID } from 'node:crypto';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import { type Account, Gateway } from './support/http.ts';
import { openUpdateStream, type Update, type UpdateStream } from './support/stream.ts';
import { SYSTEM_ENV } from './support/system.ts';

interface ChatJson {
  chatId: string;
  members: { userId: string }[];
}

describe('group consent, whole system over HTTP', () => {
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
  const streamOf = async (who: Account) => {
    const stream = await openUpdateStream(system.gatewayUrl, who.accessToken);
    streams.push(stream);
    return stream;
  };
  const send = (who: Account, chatId: string, text: string) =>
    gw.request('POST', `/v1/chats/${chatId}/messages`, who.accessToken, { clientMessageId: randomUUID(), text });
  const history = async (who: Account, chatId: string) =>
    (
      (await gw.ok('GET', `/v1/chats/${chatId}/messages`, who.accessToken)).messages as {
        text: string;
        system?: unknown;
      }[]
    )
      .filter((m) => m.system === undefined)
      .map((m) => m.text);
  const invitationsOf = async (who: Account) =>
    ((await gw.ok('GET', '/v1/chat-invitations', who.accessToken)).invitations ?? []) as {
      chatId: string;
      inviterId: string;
      title: string;
    }[];
  const messageTexts = (stream: UpdateStream) =>
    stream.updates.flatMap((u: Update) => {
      const m = u.messageCreated as { text: string; system?: unknown } | undefined;
      return m && m.system === undefined ? [m.text] : [];
    });

  it('adds a friend directly and invites a non-friend, who gets messages only after accepting', async () => {
    const [ann, bob, cat] = [await gw.register('ann'), await gw.register('bob'), await gw.register('cat')];
    await befriend(ann, bob);
    const catStream = await streamOf(cat);

    const created = await gw.ok('POST', '/v1/chats', ann.accessToken, {
      type: 'CHAT_TYPE_GROUP',
      title: 'picnic',
      memberIds: [bob.userId, cat.userId],
    });
    const chat = created.chat as ChatJson;
    expect(chat.members.map((m) => m.userId)).toEqual([ann.userId, bob.userId]);
    expect(created.invitedUserIds).toEqual([cat.userId]);

    // Cat is told live, and finds it in the list; the group is not hers yet.
    const invited = await catStream.next('invitationReceived', (u) => u.invitationReceived !== undefined);
    expect(invited.invitationReceived).toMatchObject({ chatId: chat.chatId, inviterId: ann.userId, title: 'picnic' });
    expect(await invitationsOf(cat)).toMatchObject([{ chatId: chat.chatId, inviterId: ann.userId }]);
    expect((await send(ann, chat.chatId, 'before')).status).toBe(200);
    const outside = await gw.request('GET', `/v1/chats/${chat.chatId}/messages`, cat.accessToken);
    expect([outside.status, outside.body.code]).toEqual([404, 5]);
    expect((await send(cat, chat.chatId, 'may I?')).status).toBe(404);

    const accepted = await gw.ok('POST', `/v1/chat-invitations/${chat.chatId}/accept`, cat.accessToken, {});
    expect((accepted.chat as ChatJson).members.map((m) => m.userId)).toEqual([ann.userId, bob.userId, cat.userId]);
    expect(await invitationsOf(cat)).toEqual([]);
    await catStream.next('memberAdded', (u) => u.memberAdded !== undefined);
    expect((await send(ann, chat.chatId, 'after')).status).toBe(200);
    await catStream.next(
      'messageCreated',
      (u) => (u.messageCreated as { text?: string } | undefined)?.text === 'after',
    );
    expect(messageTexts(catStream)).toEqual(['after']);
    expect((await send(cat, chat.chatId, 'thanks')).status).toBe(200);
    expect(await history(bob, chat.chatId)).toEqual(['thanks', 'after', 'before']);

    // Accepting twice finds nothing to accept.
    const again = await gw.request('POST', `/v1/chat-invitations/${chat.chatId}/accept`, cat.accessToken, {});
    expect([again.status, again.body.code]).toEqual([404, 5]);
  }, 30_000);

  it('leaves a user who declines out of the group, and the owner is told nothing', async () => {
    const [dan, eve] = [await gw.register('dan'), await gw.register('eve')];
    const group = await gw.ok('POST', '/v1/chats', dan.accessToken, {
      type: 'CHAT_TYPE_GROUP',
      title: 'book club',
      memberIds: [eve.userId],
    });
    const chatId = (group.chat as ChatJson).chatId;
    const added = await gw.ok('POST', `/v1/chats/${chatId}/members`, dan.accessToken, { memberIds: [eve.userId] });
    // A repeat is idempotent: still one pending invitation.
    expect(added.invitedUserIds).toEqual([eve.userId]);
    expect(await invitationsOf(eve)).toHaveLength(1);

    await gw.ok('POST', `/v1/chat-invitations/${chatId}/decline`, eve.accessToken, {});
    expect(await invitationsOf(eve)).toEqual([]);
    const accept = await gw.request('POST', `/v1/chat-invitations/${chatId}/accept`, eve.accessToken, {});
    expect([accept.status, accept.body.code]).toEqual([404, 5]);
    const members = (await gw.ok('GET', `/v1/chats/${chatId}`, dan.accessToken)).chat as ChatJson;
    expect(members.members.map((m) => m.userId)).toEqual([dan.userId]);
    expect((await gw.ok('GET', '/v1/chats', eve.accessToken)).chats ?? []).toEqual([]);

    const malformed = await gw.request('POST', '/v1/chat-invitations/not-a-uuid/accept', eve.accessToken, {});
    expect([malformed.status, malformed.body.code]).toEqual([400, 3]);
  }, 30_000);
});
