// Read receipts through the gateway of the embedded system: when a member
// marks read (POST /v1/chats/{id}/read or the WebSocket `read` frame), the
// other members see the new position live on SSE, NDJSON and the WebSocket;
// a direct chat's GetChat and ListChats give the other member's position
// for a client that reconnects; in a group, quick moves are coalesced.
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import WebSocket from 'ws';
import { type Account, Gateway } from './support/http.ts';
import { openUpdateStream, type Update } from './support/stream.ts';
import { SYSTEM_ENV } from './support/system.ts';
import { waitFor } from './support/wait.ts';

type Frame = Record<string, unknown> & { type: string };
type Receipt = { chatId: string; userId: string; readSequence?: string };

describe('read receipts', () => {
  let system: RunningSystem;
  let gw: Gateway;
  const closers: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    system = await startSystem(
      loadEmbeddedConfig({
        ...SYSTEM_ENV,
        CHAT_STREAM_HEARTBEAT_MS: '50',
        // Long enough that three quick MarkRead calls surely fall within one group interval.
        CHAT_READ_RECEIPT_GROUP_INTERVAL_MS: '5000',
      }),
    );
    gw = new Gateway(system.gatewayUrl);
  }, 60_000);
  afterAll(async () => {
    for (const close of closers) await close();
    await system?.stop();
  }, 30_000);

  const befriend = async (a: Account, b: Account) => {
    await gw.ok('POST', `/v1/friends/${b.userId}`, a.accessToken, {});
    await gw.ok('POST', `/v1/friends/${a.userId}/confirm`, b.accessToken, {});
  };
  const directChat = async (a: Account, b: Account) => {
    await befriend(a, b);
    const body = await gw.ok('POST', '/v1/chats', a.accessToken, { type: 'CHAT_TYPE_DIRECT', memberIds: [b.userId] });
    return (body.chat as { chatId: string }).chatId;
  };
  const post = async (from: Account, chatId: string, text: string) =>
    gw.ok('POST', `/v1/chats/${chatId}/messages`, from.accessToken, { clientMessageId: crypto.randomUUID(), text });
  const sse = async (account: Account) => {
    const s = await openUpdateStream(system.gatewayUrl, account.accessToken);
    closers.push(() => s.close());
    return s;
  };
  /** GET /v1/updates as newline-delimited JSON; open once its first heartbeat line arrives. */
  const ndjson = async (account: Account) => {
    const abort = new AbortController();
    const res = await fetch(`${system.gatewayUrl}/v1/updates`, {
      headers: { authorization: `Bearer ${account.accessToken}`, accept: 'application/x-ndjson' },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    const lines: Record<string, unknown>[] = [];
    const reading = (async () => {
      let buffered = '';
      for await (const chunk of (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream())) {
        buffered += chunk;
        let end = buffered.indexOf('\n');
        while (end >= 0) {
          lines.push(JSON.parse(buffered.slice(0, end)) as Record<string, unknown>);
          buffered = buffered.slice(end + 1);
          end = buffered.indexOf('\n');
        }
      }
    })().catch(() => {});
    closers.push(async () => {
      abort.abort();
      await reading;
    });
    await waitFor('the first NDJSON line', () => lines.length > 0);
    // Each line is `{"result": {"update": …}}`, as grpc-gateway streams.
    const updates = () =>
      lines.map((l) => (l.result as { update?: Update } | undefined)?.update).filter((u) => u !== undefined);
    return { updates };
  };
  const socket = async (account: Account) => {
    const ws = new WebSocket(`${system.gatewayUrl.replace(/^http/, 'ws')}/v1/ws`, [
      'messenger.v1',
      `bearer.${account.accessToken}`,
    ]);
    closers.push(() => ws.terminate());
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
  const receiptOf = (u: Update | undefined) => u?.readReceipt as Receipt | undefined;
  const receiptsIn = (updates: readonly Update[]) =>
    updates.map(receiptOf).filter((r): r is Receipt => r !== undefined);

  it('tells the other member of a direct chat on SSE, NDJSON and WebSocket, and not the reader', async () => {
    const [ann, bob] = [await gw.register('ann'), await gw.register('bob')];
    const chatId = await directChat(ann, bob);
    await post(bob, chatId, 'one');
    await post(bob, chatId, 'two');
    await post(bob, chatId, 'three');
    const bobSse = await sse(bob);
    const bobNdjson = await ndjson(bob);
    const bobWs = await socket(bob);
    const annWs = await socket(ann);

    await gw.ok('POST', `/v1/chats/${chatId}/read`, ann.accessToken, { upToSequence: '2' });
    const expected = { chatId, userId: ann.userId, readSequence: '2' };
    const onSse = await bobSse.next('the receipt on SSE', (u) => receiptOf(u) !== undefined);
    expect(receiptOf(onSse)).toEqual(expected);
    expect(onSse.updateId ?? '').toBe('');
    await waitFor('the receipt on NDJSON', () => receiptsIn(bobNdjson.updates()).length > 0);
    expect(receiptsIn(bobNdjson.updates())).toEqual([expected]);
    const onWs = await bobWs.next('the receipt on the socket', (f) => receiptOf(f.update as Update) !== undefined);
    expect(receiptOf(onWs.update as Update)).toEqual(expected);

    // The WebSocket's `read` frame moves the position the same way.
    annWs.ws.send(JSON.stringify({ type: 'read', ref: 'r1', chatId, upToSequence: '3' }));
    expect(await annWs.next('the read answer', (f) => f.ref === 'r1')).toMatchObject({ type: 'read' });
    await bobSse.next('the second receipt', (u) => receiptOf(u)?.readSequence === '3');
    // The reader is not told about themselves.
    expect(annWs.frames.some((f) => receiptOf(f.update as Update) !== undefined)).toBe(false);
  }, 30_000);

  it('sends nothing when the position does not move', async () => {
    const [ann, bob] = [await gw.register('ann'), await gw.register('bob')];
    const chatId = await directChat(ann, bob);
    for (const text of ['one', 'two', 'three']) await post(bob, chatId, text);
    const bobSse = await sse(bob);

    await gw.ok('POST', `/v1/chats/${chatId}/read`, ann.accessToken, { upToSequence: '2' });
    await gw.ok('POST', `/v1/chats/${chatId}/read`, ann.accessToken, { upToSequence: '2' });
    await gw.ok('POST', `/v1/chats/${chatId}/read`, ann.accessToken, { upToSequence: '1' });
    await gw.ok('POST', `/v1/chats/${chatId}/read`, ann.accessToken, { upToSequence: '3' });
    // Receipts of one chat keep their order, so once "3" is in, any receipt for the no-op calls would be too.
    await bobSse.next('the last receipt', (u) => receiptOf(u)?.readSequence === '3');
    expect(receiptsIn(bobSse.updates).map((r) => r.readSequence)).toEqual(['2', '3']);
  }, 30_000);

  it("gives a direct chat's other member's read position in GetChat and ListChats", async () => {
    const [ann, bob] = [await gw.register('ann'), await gw.register('bob')];
    const chatId = await directChat(ann, bob);
    for (const text of ['one', 'two']) await post(bob, chatId, text);
    await gw.ok('POST', `/v1/chats/${chatId}/read`, ann.accessToken, { upToSequence: '2' });

    const got = await gw.ok('GET', `/v1/chats/${chatId}`, bob.accessToken);
    expect(got.peerReadSequence).toBe('2');
    const listed = (await gw.ok('GET', '/v1/chats', bob.accessToken)) as {
      chats: { chat: { chatId: string }; peerReadSequence?: string }[];
    };
    expect(listed.chats.find((c) => c.chat.chatId === chatId)?.peerReadSequence).toBe('2');
    // Bob has read nothing: Ann sees 0.
    const annView = await gw.ok('GET', `/v1/chats/${chatId}`, ann.accessToken);
    expect(annView.peerReadSequence ?? '0').toBe('0');
  }, 30_000);

  it('coalesces quick moves in a group: the first at once, then only the latest', async () => {
    const [ann, bob, cid] = [await gw.register('ann'), await gw.register('bob'), await gw.register('cid')];
    await befriend(ann, bob);
    await befriend(ann, cid);
    const created = await gw.ok('POST', '/v1/chats', ann.accessToken, {
      type: 'CHAT_TYPE_GROUP',
      memberIds: [bob.userId, cid.userId],
      title: 'trio',
    });
    const chatId = (created.chat as { chatId: string }).chatId;
    for (const text of ['one', 'two', 'three']) await post(ann, chatId, text);
    const [annSse, cidSse] = [await sse(ann), await sse(cid)];

    for (const upTo of ['1', '2', '3']) {
      await gw.ok('POST', `/v1/chats/${chatId}/read`, bob.accessToken, { upToSequence: upTo });
    }
    for (const s of [annSse, cidSse]) {
      await s.next('the latest position', (u) => receiptOf(u)?.readSequence === '3');
      expect(receiptsIn(s.updates)).toEqual([
        { chatId, userId: bob.userId, readSequence: '1' },
        { chatId, userId: bob.userId, readSequence: '3' },
      ]);
    }
    // GetChat gives a group no single "other member".
    expect((await gw.ok('GET', `/v1/chats/${chatId}`, ann.accessToken)).peerReadSequence ?? '0').toBe('0');
  }, 30_000);
});
