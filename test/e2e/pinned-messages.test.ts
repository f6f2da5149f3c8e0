// Pinned messages, end to end: the whole embedded system driven over HTTP
// through the gateway. Members of a direct chat pin and unpin, the other
// member sees it live on the SSE stream, the pinned list pages newest pin
// first, deletion unpins, and the limit and the group owner rule hold.
import { randomUUID } from 'node:crypto';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import { type Account, Gateway } from './support/http.ts';
import { openUpdateStream, type UpdateStream } from './support/stream.ts';
import { SYSTEM_ENV } from './support/system.ts';

interface MessageJson {
  messageId: string;
  text: string;
  pinned: boolean;
  pinnedById: string;
  pinTime?: string;
}

describe('pinned messages, whole system over HTTP', () => {
  let system: RunningSystem;
  let gw: Gateway;
  const streams: UpdateStream[] = [];
  let ann: Account;
  let bob: Account;
  let chatId: string;

  beforeAll(async () => {
    system = await startSystem(loadEmbeddedConfig(SYSTEM_ENV));
    gw = new Gateway(system.gatewayUrl);
    [ann, bob] = [await gw.register('ann'), await gw.register('bob')];
    await gw.ok('POST', `/v1/friends/${bob.userId}`, ann.accessToken, {});
    await gw.ok('POST', `/v1/friends/${ann.userId}/confirm`, bob.accessToken, {});
    const created = await gw.ok('POST', '/v1/chats', ann.accessToken, {
      type: 'CHAT_TYPE_DIRECT',
      memberIds: [bob.userId],
    });
    chatId = (created.chat as { chatId: string }).chatId;
  }, 60_000);

  afterAll(async () => {
    for (const s of streams) await s.close();
    await system?.stop();
  });

  const post = async (who: Account, text: string, chat = chatId) =>
    (await gw.ok('POST', `/v1/chats/${chat}/messages`, who.accessToken, { clientMessageId: randomUUID(), text }))
      .message as MessageJson;
  const pin = (who: Account, messageId: string, method: 'PUT' | 'DELETE' = 'PUT', chat = chatId) =>
    gw.request(method, `/v1/chats/${chat}/messages/${messageId}/pin`, who.accessToken);
  const pinnedOk = async (who: Account, messageId: string, method: 'PUT' | 'DELETE' = 'PUT') => {
    const res = await pin(who, messageId, method);
    expect(res.status).toBe(200);
    return res.body.message as MessageJson;
  };
  const pinned = async (who: Account, query = '') =>
    await gw.ok('GET', `/v1/chats/${chatId}/pins${query}`, who.accessToken);
  const textsOf = (body: Record<string, unknown>) => ((body.messages ?? []) as MessageJson[]).map((m) => m.text);

  it('pins and unpins in a direct chat, live for the other member, listed newest pin first page by page', async () => {
    const bobStream = await openUpdateStream(system.gatewayUrl, bob.accessToken);
    streams.push(bobStream);
    const [first, second, third] = [await post(ann, 'first'), await post(bob, 'second'), await post(ann, 'third')];
    expect(first.pinned).toBe(false);

    const pinnedFirst = await pinnedOk(ann, first.messageId);
    expect(pinnedFirst).toMatchObject({ messageId: first.messageId, pinned: true, pinnedById: ann.userId });
    const live = await bobStream.next('pinChanged', (u) => 'pinChanged' in u);
    expect(live.pinChanged).toMatchObject({
      userId: ann.userId,
      pinned: true,
      message: { messageId: first.messageId, pinned: true, pinnedById: ann.userId },
    });
    // Either member of a direct chat may pin; pinning again changes nothing.
    const pinnedThird = await pinnedOk(bob, third.messageId);
    const pinnedSecond = await pinnedOk(ann, second.messageId);
    expect(await pinnedOk(ann, second.messageId)).toMatchObject({ pinned: true, pinTime: expect.any(String) });

    // Most recently pinned first; pins in the same millisecond by message id, descending.
    const expected = [pinnedFirst, pinnedThird, pinnedSecond]
      .sort(
        (x, y) =>
          Date.parse(y.pinTime ?? '') - Date.parse(x.pinTime ?? '') ||
          (y.messageId < x.messageId ? -1 : y.messageId > x.messageId ? 1 : 0),
      )
      .map((m) => m.text);
    expect(expected.slice().sort()).toEqual(['first', 'second', 'third']);
    expect(textsOf(await pinned(bob))).toEqual(expected);
    const page1 = await pinned(bob, '?pageSize=2');
    expect(textsOf(page1)).toEqual(expected.slice(0, 2));
    const page2 = await pinned(bob, `?pageSize=2&pageToken=${page1.nextPageToken as string}`);
    expect(textsOf(page2)).toEqual(expected.slice(2));
    expect(page2.nextPageToken).toBe('');
    // History shows the pin on each message.
    const history = await gw.ok('GET', `/v1/chats/${chatId}/messages`, bob.accessToken);
    expect((history.messages as MessageJson[]).slice(0, 3).map((m) => m.pinned)).toEqual([true, true, true]);

    expect(await pinnedOk(bob, third.messageId, 'DELETE')).toMatchObject({ pinned: false, pinnedById: '' });
    expect((await pinnedOk(bob, third.messageId, 'DELETE')).pinned).toBe(false);
    await bobStream.next(
      'pinChanged (unpinned)',
      (u) => (u.pinChanged as { pinned?: boolean } | undefined)?.pinned === false,
    );
    // Deleting a pinned message unpins it.
    await gw.ok('DELETE', `/v1/chats/${chatId}/messages/${second.messageId}`, bob.accessToken);
    expect(textsOf(await pinned(ann))).toEqual(['first']);
    const onDeleted = await pin(ann, second.messageId);
    expect(onDeleted.status).toBe(400);
    expect(onDeleted.body).toMatchObject({ code: 9 });
  });

  it('refuses a 51st pin, a group member who is not the owner, outsiders, unknown messages and bad page tokens', async () => {
    const cat = await gw.register('cat');
    const created = await gw.ok('POST', '/v1/chats', ann.accessToken, {
      type: 'CHAT_TYPE_GROUP',
      memberIds: [bob.userId],
      title: 'pins',
    });
    const groupId = (created.chat as { chatId: string }).chatId;
    const inGroup = await post(bob, 'group message', groupId);
    const byMember = await pin(bob, inGroup.messageId, 'PUT', groupId);
    expect(byMember.status).toBe(403);
    expect(JSON.stringify(byMember.body)).toContain('PIN_NOT_ALLOWED');
    expect((await pin(ann, inGroup.messageId, 'PUT', groupId)).status).toBe(200);
    expect((await pin(cat, inGroup.messageId, 'PUT', groupId)).status).toBe(404);
    expect((await gw.request('GET', `/v1/chats/${groupId}/pins`, cat.accessToken)).status).toBe(404);
    expect((await pin(ann, randomUUID(), 'PUT', groupId)).status).toBe(404);
    expect((await pin(ann, 'not-a-uuid', 'PUT', groupId)).status).toBe(400);
    expect((await gw.request('GET', `/v1/chats/${groupId}/pins?pageToken=nope`, ann.accessToken)).status).toBe(400);

    for (let i = 1; i < 50; i++) {
      const m = await post(ann, `m${i}`, groupId);
      expect((await pin(ann, m.messageId, 'PUT', groupId)).status).toBe(200);
    }
    const extra = await post(ann, 'one too many', groupId);
    const limited = await pin(ann, extra.messageId, 'PUT', groupId);
    expect(limited.status).toBe(400);
    expect(limited.body).toMatchObject({ code: 9 });
    expect(JSON.stringify(limited.body)).toContain('PIN_LIMIT');
  });
});
