// Edit history, end to end: the whole embedded system driven over HTTP
// through the gateway. Each edit keeps the text it replaced; members list
// them newest first page by page; deleting the message removes them.
import { randomUUID } from 'node:crypto';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import { Gateway } from './support/http.ts';
import { SYSTEM_ENV } from './support/system.ts';

interface VersionJson {
  version: number;
  text: string;
  time: string;
  replaceTime: string;
}

describe('message edit history, whole system over HTTP', () => {
  let system: RunningSystem;
  let gw: Gateway;

  beforeAll(async () => {
    system = await startSystem(loadEmbeddedConfig(SYSTEM_ENV));
    gw = new Gateway(system.gatewayUrl);
  }, 60_000);

  afterAll(async () => {
    await system?.stop();
  });

  it('lists the texts edits replaced, newest first by page, to members only, and forgets them on deletion', async () => {
    const [ann, bob, cat] = [await gw.register('ann'), await gw.register('bob'), await gw.register('cat')];
    await gw.ok('POST', `/v1/friends/${bob.userId}`, ann.accessToken, {});
    await gw.ok('POST', `/v1/friends/${ann.userId}/confirm`, bob.accessToken, {});
    const chatId = (
      (await gw.ok('POST', '/v1/chats', ann.accessToken, { type: 'CHAT_TYPE_DIRECT', memberIds: [bob.userId] })) as {
        chat: { chatId: string };
      }
    ).chat.chatId;
    const sent = (
      await gw.ok('POST', `/v1/chats/${chatId}/messages`, ann.accessToken, {
        clientMessageId: randomUUID(),
        text: 'one',
      })
    ).message as { messageId: string; createTime: string };
    const message = `/v1/chats/${chatId}/messages/${sent.messageId}`;
    const edits: string[] = [];
    for (const text of ['two', 'three', 'four']) {
      const edited = (await gw.ok('PATCH', message, ann.accessToken, { text })).message as { editTime: string };
      edits.push(edited.editTime);
    }

    const page1 = await gw.ok('GET', `${message}/versions?pageSize=2`, bob.accessToken);
    expect(page1.versions as VersionJson[]).toEqual([
      { version: 3, text: 'three', time: edits[1], replaceTime: edits[2] },
      { version: 2, text: 'two', time: edits[0], replaceTime: edits[1] },
    ]);
    const page2 = await gw.ok(
      'GET',
      `${message}/versions?pageSize=2&pageToken=${encodeURIComponent(page1.nextPageToken as string)}`,
      bob.accessToken,
    );
    expect(page2.versions as VersionJson[]).toEqual([
      { version: 1, text: 'one', time: sent.createTime, replaceTime: edits[0] },
    ]);
    expect(page2.nextPageToken ?? '').toBe('');

    // Not a member: as if the message did not exist. A token of another list: refused.
    const outsider = await gw.request('GET', `${message}/versions`, cat.accessToken);
    expect([outsider.status, outsider.body.code]).toEqual([404, 5]);
    const historyToken = Buffer.from(JSON.stringify(['messages', chatId, 5])).toString('base64url');
    const foreign = await gw.request('GET', `${message}/versions?pageToken=${historyToken}`, bob.accessToken);
    expect([foreign.status, foreign.body.code]).toEqual([400, 3]);

    await gw.ok('DELETE', message, ann.accessToken);
    expect((await gw.ok('GET', `${message}/versions`, bob.accessToken)).versions ?? []).toEqual([]);
  }, 60_000);
});
