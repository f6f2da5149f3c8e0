// Replies and threads, end to end: the whole embedded system driven over
// HTTP through the gateway. A reply quotes its parent as it was when sent,
// the parent counts its replies, the thread lists them oldest first page by
// page, and another member sees the reply arrive live with its quote.
import { randomUUID } from 'node:crypto';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import { type Account, Gateway } from './support/http.ts';
import { openUpdateStream, type UpdateStream } from './support/stream.ts';
import { SYSTEM_ENV } from './support/system.ts';

interface MessageJson {
  messageId: string;
  text: string;
  senderId: string;
  replyTo?: { messageId: string; senderId: string; text: string };
  replyCount?: number;
  lastReplyTime?: string;
  createTime: string;
}

describe('replies and threads, whole system over HTTP', () => {
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

  const send = (who: Account, chatId: string, text: string, replyToMessageId?: string) =>
    gw.request('POST', `/v1/chats/${chatId}/messages`, who.accessToken, {
      clientMessageId: randomUUID(),
      text,
      ...(replyToMessageId === undefined ? {} : { replyToMessageId }),
    });
  const sent = async (who: Account, chatId: string, text: string, replyToMessageId?: string) => {
    const result = await send(who, chatId, text, replyToMessageId);
    expect(result.status).toBe(200);
    return result.body.message as MessageJson;
  };

  it('quotes the parent, counts its replies and lists the thread oldest first, page by page', async () => {
    const [ann, bob, cat] = [await gw.register('ann'), await gw.register('bob'), await gw.register('cat')];
    await gw.ok('POST', `/v1/friends/${bob.userId}`, ann.accessToken, {});
    await gw.ok('POST', `/v1/friends/${ann.userId}/confirm`, bob.accessToken, {});
    const created = await gw.ok('POST', '/v1/chats', ann.accessToken, {
      type: 'CHAT_TYPE_DIRECT',
      memberIds: [bob.userId],
    });
    const chatId = (created.chat as { chatId: string }).chatId;
    const bobStream = await openUpdateStream(system.gatewayUrl, bob.accessToken);
    streams.push(bobStream);

    const long = `${'q'.repeat(99)}é and more`;
    const parent = await sent(ann, chatId, long);
    const r1 = await sent(bob, chatId, 'first answer', parent.messageId);
    const quote = { messageId: parent.messageId, senderId: ann.userId, text: `${'q'.repeat(99)}é` };
    expect(r1.replyTo).toEqual(quote);
    const r2 = await sent(ann, chatId, 'second answer', parent.messageId);
    const r3 = await sent(bob, chatId, 'third answer', parent.messageId);

    // Bob sees Ann's reply arrive live, quote included.
    const live = await bobStream.next(
      'messageCreated',
      (u) => (u.messageCreated as MessageJson | undefined)?.messageId === r2.messageId,
    );
    expect((live.messageCreated as MessageJson).replyTo).toEqual(quote);

    // The quote is a snapshot: editing the parent leaves it alone.
    await gw.ok('PATCH', `/v1/chats/${chatId}/messages/${parent.messageId}`, ann.accessToken, { text: 'edited' });
    const history = (await gw.ok('GET', `/v1/chats/${chatId}/messages`, bob.accessToken)).messages as MessageJson[];
    expect(history.map((m) => m.text)).toEqual(['third answer', 'second answer', 'first answer', 'edited']);
    expect(history[0]?.replyTo).toEqual(quote);
    expect(history[3]).toMatchObject({ replyCount: 3, lastReplyTime: r3.createTime });
    expect(history[3]?.replyTo).toBeUndefined();

    const thread = `/v1/chats/${chatId}/messages/${parent.messageId}/replies`;
    const page1 = await gw.ok('GET', `${thread}?pageSize=2`, bob.accessToken);
    expect((page1.messages as MessageJson[]).map((m) => m.messageId)).toEqual([r1.messageId, r2.messageId]);
    const page2 = await gw.ok(
      'GET',
      `${thread}?pageSize=2&pageToken=${encodeURIComponent(page1.nextPageToken as string)}`,
      bob.accessToken,
    );
    expect((page2.messages as MessageJson[]).map((m) => m.messageId)).toEqual([r3.messageId]);
    expect(page2.nextPageToken ?? '').toBe('');

    // Bad input gets a typed error; a non-member sees no thread.
    const malformed = await send(ann, chatId, 'x', 'not-a-uuid');
    expect([malformed.status, malformed.body.code]).toEqual([400, 3]);
    const unknown = await send(ann, chatId, 'x', randomUUID());
    expect([unknown.status, unknown.body.code]).toEqual([404, 5]);
    const foreignToken = await gw.request(
      'GET',
      `/v1/chats/${chatId}/messages/${r1.messageId}/replies?pageToken=${encodeURIComponent(page1.nextPageToken as string)}`,
      ann.accessToken,
    );
    expect([foreignToken.status, foreignToken.body.code]).toEqual([400, 3]);
    const outsider = await gw.request('GET', thread, cat.accessToken);
    expect([outsider.status, outsider.body.code]).toEqual([404, 5]);

    // A deleted message takes no new replies.
    await gw.ok('DELETE', `/v1/chats/${chatId}/messages/${r1.messageId}`, bob.accessToken);
    const toTombstone = await send(ann, chatId, 'late', r1.messageId);
    expect([toTombstone.status, toTombstone.body.code]).toEqual([400, 9]);
  }, 30_000);
});
