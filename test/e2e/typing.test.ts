// Typing indicators through the gateway of the embedded system: a member
// says they are typing (WebSocket frame or POST /v1/chats/{id}/typing) and
// the other member sees it live on SSE and on the WebSocket, with the time
// it lapses; repeats within the rate interval are not passed on.
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import WebSocket from 'ws';
import { type Account, Gateway } from './support/http.ts';
import { openUpdateStream, type Update, type UpdateStream } from './support/stream.ts';
import { SYSTEM_ENV } from './support/system.ts';
import { waitFor } from './support/wait.ts';

type Frame = Record<string, unknown> & { type: string };
type Typing = { chatId: string; userId: string; typing?: boolean; expireTime?: string };

describe('typing indicators', () => {
  let system: RunningSystem;
  let gw: Gateway;
  const streams: UpdateStream[] = [];
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    system = await startSystem(
      loadEmbeddedConfig({
        ...SYSTEM_ENV,
        CHAT_STREAM_HEARTBEAT_MS: '50',
      }),
    );
    gw = new Gateway(system.gatewayUrl);
  }, 60_000);
  afterAll(async () => {
    for (const ws of sockets) ws.terminate();
    for (const s of streams) await s.close();
    await system?.stop();
  }, 30_000);

  const directChat = async (a: Account, b: Account) => {
    await gw.ok('POST', `/v1/friends/${b.userId}`, a.accessToken, {});
    await gw.ok('POST', `/v1/friends/${a.userId}/confirm`, b.accessToken, {});
    const body = await gw.ok('POST', '/v1/chats', a.accessToken, { type: 'CHAT_TYPE_DIRECT', memberIds: [b.userId] });
    return (body.chat as { chatId: string }).chatId;
  };
  const sse = async (account: Account) => {
    const s = await openUpdateStream(system.gatewayUrl, account.accessToken);
    streams.push(s);
    return s;
  };
  const socket = async (account: Account) => {
    const ws = new WebSocket(`${system.gatewayUrl.replace(/^http/, 'ws')}/v1/ws`, [
      'messenger.v1',
      `bearer.${account.accessToken}`,
    ]);
    sockets.push(ws);
    const frames: Frame[] = [];
    ws.on('message', (data) => frames.push(JSON.parse(data.toString()) as Frame));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const next = async (what: string, match: (f: Frame) => boolean) => {
      await waitFor(what, () => frames.some(match));
      return frames.find(match) as Frame;
    };
    // The stream is open at chat once its first heartbeat arrives.
    await next('the first heartbeat', (f) => f.type === 'update');
    return { ws, frames, next };
  };
  const typingOf = (u: Update | undefined) => u?.typingChanged as Typing | undefined;

  it("shows a member's typing to the other member on SSE and WebSocket, with when it lapses", async () => {
    const [ann, bob] = [await gw.register('ann'), await gw.register('bob')];
    const chatId = await directChat(ann, bob);
    const bobSse = await sse(bob);
    const bobWs = await socket(bob);
    const annWs = await socket(ann);

    annWs.ws.send(JSON.stringify({ type: 'typing', ref: 't1', chatId, typing: true }));
    expect(await annWs.next('the typing answer', (f) => f.ref === 't1')).toMatchObject({ type: 'typing', result: {} });

    const onSse = await bobSse.next('typing on SSE', (u) => typingOf(u)?.typing === true);
    expect(onSse.updateId ?? '').toBe('');
    const started = typingOf(onSse) as Typing;
    expect(started).toMatchObject({ chatId, userId: ann.userId, typing: true });
    // It lapses by itself 6 s after it was sent, unless renewed.
    expect(Date.parse(started.expireTime ?? '') - Date.parse(onSse.time as string)).toBe(6_000);
    const onWs = await bobWs.next('typing on the socket', (f) => typingOf(f.update as Update)?.typing === true);
    expect(typingOf(onWs.update as Update)).toEqual(started);
    // The typist is not told about themselves.
    expect(annWs.frames.some((f) => typingOf(f.update as Update) !== undefined)).toBe(false);
  }, 30_000);

  it('passes on one "started" per rate interval and every "stopped", over HTTP', async () => {
    const [ann, bob] = [await gw.register('ann'), await gw.register('bob')];
    const chatId = await directChat(ann, bob);
    const bobSse = await sse(bob);

    await gw.ok('POST', `/v1/chats/${chatId}/typing`, ann.accessToken, { typing: true });
    await gw.ok('POST', `/v1/chats/${chatId}/typing`, ann.accessToken, { typing: true });
    await gw.ok('POST', `/v1/chats/${chatId}/typing`, ann.accessToken, {});
    await bobSse.next('the stop', (u) => typingOf(u) !== undefined && typingOf(u)?.typing !== true);
    const seen = bobSse.updates.map(typingOf).filter((t) => t !== undefined);
    expect(seen.map((t) => t.typing ?? false)).toEqual([true, false]);
    expect(seen[1]?.expireTime).toBeUndefined();
  }, 30_000);

  it('answers 404 to a non-member and 400 to a malformed chat id, with a status body', async () => {
    const [ann, bob, eve] = [await gw.register('ann'), await gw.register('bob'), await gw.register('eve')];
    const chatId = await directChat(ann, bob);
    const outsider = await gw.request('POST', `/v1/chats/${chatId}/typing`, eve.accessToken, { typing: true });
    expect(outsider.status).toBe(404);
    expect(outsider.body).toMatchObject({ code: 5 });
    const bad = await gw.request('POST', '/v1/chats/not-a-uuid/typing', ann.accessToken, { typing: true });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 3 });
  }, 30_000);
});
