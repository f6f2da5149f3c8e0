// Message search, end to end: the whole embedded system (SQLite storage)
// driven over HTTP through the gateway. Results are ranked by how many
// words of the query a message has, then newest; they carry highlights and
// page with an opaque token; edits, deletions and membership changes show
// in the next search.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import { type Account, Gateway } from './support/http.ts';
import { SYSTEM_ENV } from './support/system.ts';

interface ResultJson {
  message: { messageId: string; chatId: string; text: string };
  matchedTerms: number;
  highlights?: { start?: number; end?: number }[];
}

describe('message search, whole system over HTTP', () => {
  let system: RunningSystem;
  let gw: Gateway;
  const dataDir = mkdtempSync(join(tmpdir(), 'message-search-'));

  beforeAll(async () => {
    system = await startSystem(
      loadEmbeddedConfig({
        ...SYSTEM_ENV,
        EMBEDDED_STORAGE: 'sqlite',
        DATA_DIR: dataDir,
      }),
    );
    gw = new Gateway(system.gatewayUrl);
  }, 60_000);

  afterAll(async () => {
    await system?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const befriend = async (a: Account, b: Account) => {
    await gw.ok('POST', `/v1/friends/${b.userId}`, a.accessToken, {});
    await gw.ok('POST', `/v1/friends/${a.userId}/confirm`, b.accessToken, {});
  };
  const sent = async (who: Account, chatId: string, text: string) =>
    (
      (await gw.ok('POST', `/v1/chats/${chatId}/messages`, who.accessToken, { clientMessageId: randomUUID(), text }))
        .message as { messageId: string }
    ).messageId;
  const search = (who: Account, params: Record<string, string>) =>
    gw.request('GET', `/v1/messages:search?${new URLSearchParams(params)}`, who.accessToken);
  const texts = async (who: Account, params: Record<string, string>) => {
    const res = await search(who, params);
    expect(res.status).toBe(200);
    return ((res.body.results ?? []) as ResultJson[]).map((r) => r.message.text);
  };

  it('ranks, highlights and pages matches over the caller’s chats, and follows edits, deletions and leaving', async () => {
    const [ann, bob, cat] = [await gw.register('ann'), await gw.register('bob'), await gw.register('cat')];
    await befriend(ann, bob);
    const group = (
      (await gw.ok('POST', '/v1/chats', ann.accessToken, {
        type: 'CHAT_TYPE_GROUP',
        title: 'plans',
        memberIds: [bob.userId],
      })) as { chat: { chatId: string } }
    ).chat.chatId;
    const direct = (
      (await gw.ok('POST', '/v1/chats', ann.accessToken, { type: 'CHAT_TYPE_DIRECT', memberIds: [bob.userId] })) as {
        chat: { chatId: string };
      }
    ).chat.chatId;

    await sent(ann, group, 'Lunch at the Café?');
    await sent(bob, direct, 'the cafe lunch was great');
    const older = await sent(bob, group, 'lunch tomorrow');
    const edited = await sent(ann, group, 'see you at noon');
    const deleted = await sent(bob, group, 'cafe closed');

    // Both words beat one; among equals the newest first; case and accents do not matter.
    const first = await search(bob, { query: 'CAFE lunch', pageSize: '2' });
    expect(first.status).toBe(200);
    const page1 = first.body.results as ResultJson[];
    expect(page1.map((r) => [r.message.text, r.matchedTerms])).toEqual([
      ['the cafe lunch was great', 2],
      ['Lunch at the Café?', 2],
    ]);
    // Highlights are code point ranges of the matching words: "Lunch" and "Café".
    expect(page1[1]?.highlights).toEqual([
      { start: 0, end: 5 },
      { start: 13, end: 17 },
    ]);
    const page2 = await search(bob, {
      query: 'CAFE lunch',
      pageSize: '2',
      pageToken: first.body.nextPageToken as string,
    });
    expect((page2.body.results as ResultJson[]).map((r) => r.message.text)).toEqual(['cafe closed', 'lunch tomorrow']);
    expect(page2.body.nextPageToken ?? '').toBe('');
    expect((page2.body.results as ResultJson[])[1]?.message.messageId).toBe(older);

    // One chat only.
    expect(await texts(bob, { query: 'cafe', chatId: direct })).toEqual(['the cafe lunch was great']);

    // An edited message matches its new text only; a deleted one never.
    await gw.ok('PATCH', `/v1/chats/${group}/messages/${edited}`, ann.accessToken, { text: 'see you at dusk' });
    await gw.ok('DELETE', `/v1/chats/${group}/messages/${deleted}`, bob.accessToken);
    expect(await texts(bob, { query: 'noon', chatId: group })).toEqual([]);
    expect(await texts(bob, { query: 'dusk', chatId: group })).toEqual(['see you at dusk']);
    expect(await texts(bob, { query: 'closed' })).toEqual([]);

    // Someone who is not a member finds nothing and cannot name the chat.
    expect(await texts(cat, { query: 'lunch' })).toEqual([]);
    const outsider = await search(cat, { query: 'lunch', chatId: group });
    expect([outsider.status, outsider.body.code]).toEqual([404, 5]);

    // Having left the group, Bob no longer finds its messages.
    await gw.ok('DELETE', `/v1/chats/${group}/members/${bob.userId}`, bob.accessToken);
    expect(await texts(bob, { query: 'lunch' })).toEqual(['the cafe lunch was great']);
    const left = await search(bob, { query: 'lunch', chatId: group });
    expect([left.status, left.body.code]).toEqual([404, 5]);
  }, 60_000);

  it('refuses a bad query, chat id or page token with INVALID_ARGUMENT naming the field', async () => {
    const ann = await gw.register('ann');
    const fieldsOf = async (params: Record<string, string>) => {
      const res = await search(ann, params);
      expect([res.status, res.body.code]).toEqual([400, 3]);
      const details = res.body.details as { fieldViolations?: { field: string }[] }[];
      return details.flatMap((d) => d.fieldViolations ?? []).map((v) => v.field);
    };
    expect(await fieldsOf({})).toEqual(['query']);
    expect(await fieldsOf({ query: ' ?! ' })).toEqual(['query']);
    expect(await fieldsOf({ query: 'x'.repeat(257) })).toEqual(['query']);
    expect(await fieldsOf({ query: 'a b c d e f g h i' })).toEqual(['query']);
    expect(await fieldsOf({ query: 'hello', chatId: 'not-a-uuid' })).toEqual(['chat_id']);
    expect(await fieldsOf({ query: 'hello', pageSize: '-1' })).toEqual(['page_size']);
    const other = Buffer.from(JSON.stringify(['search', '', ['other'], 1, 0, randomUUID()])).toString('base64url');
    expect(await fieldsOf({ query: 'hello', pageToken: other })).toEqual(['page_token']);
  }, 30_000);
});
