// The live-update socket `GET /v1/ws` against the embedded system, as a
// messaging client uses it: token as a subprotocol, updates as JSON frames,
// `read` reaching chat, resume after a dropped connection, logout closing
// the socket, bad frames answered without harming the connection.
import { randomUUID } from 'node:crypto';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import WebSocket from 'ws';
import type { Account } from './support/http.ts';
import { Gateway } from './support/http.ts';
import { SYSTEM_ENV } from './support/system.ts';
import { waitFor } from './support/wait.ts';

type Frame = Record<string, unknown> & { type: string };

interface Socket {
  ws: WebSocket;
  frames: Frame[];
  closed?: { code: number; reason: string };
  next(what: string, match: (f: Frame) => boolean): Promise<Frame>;
}

describe('GET /v1/ws', () => {
  let system: RunningSystem;
  let gw: Gateway;
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
  let stopped = false;
  afterAll(async () => {
    for (const ws of sockets) ws.terminate();
    if (!stopped) await system?.stop();
  }, 30_000);

  const url = (query = '') => `${system.gatewayUrl.replace(/^http/, 'ws')}/v1/ws${query}`;

  const connect = async (token: string, query = ''): Promise<Socket> => {
    const ws = new WebSocket(url(query), ['messenger.v1', `bearer.${token}`]);
    sockets.push(ws);
    const s: Socket = {
      ws,
      frames: [],
      async next(what, match) {
        let found: Frame | undefined;
        await waitFor(what, () => {
          found = s.frames.find(match);
          return found !== undefined || s.closed !== undefined;
        });
        if (found === undefined) throw new Error(`closed ${JSON.stringify(s.closed)} before ${what}`);
        return found;
      },
    };
    ws.on('message', (data) => s.frames.push(JSON.parse(data.toString()) as Frame));
    ws.on('close', (code, reason) => {
      s.closed = { code, reason: reason.toString() };
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    expect(ws.protocol).toBe('messenger.v1');
    // The stream is open at chat once its first heartbeat arrives.
    await s.next('the first heartbeat', (f) => f.type === 'update');
    return s;
  };

  const befriend = async (a: Account, b: Account) => {
    await gw.ok('POST', `/v1/friends/${b.userId}`, a.accessToken, {});
    await gw.ok('POST', `/v1/friends/${a.userId}/confirm`, b.accessToken, {});
  };
  const groupOf = async (owner: Account, member: Account) => {
    await befriend(owner, member);
    const body = await gw.ok('POST', '/v1/chats', owner.accessToken, {
      type: 'CHAT_TYPE_GROUP',
      title: 'ws',
      memberIds: [member.userId],
    });
    return (body.chat as { chatId: string }).chatId;
  };
  const send = async (from: Account, chatId: string, text: string) =>
    (await gw.ok('POST', `/v1/chats/${chatId}/messages`, from.accessToken, { clientMessageId: randomUUID(), text }))
      .message as { messageId: string; sequence: string };
  const created = (s: Socket) =>
    s.frames
      .map((f) => (f.update as { updateId: string; messageCreated?: { text: string } } | undefined) ?? undefined)
      .filter((u) => u?.messageCreated !== undefined)
      .map((u) => ({ id: u?.updateId, text: u?.messageCreated?.text }));

  it('refuses the upgrade with 401 without a token and with a bad one', async () => {
    for (const protocols of [['messenger.v1'], ['messenger.v1', 'bearer.not-a-token']]) {
      const ws = new WebSocket(url(), protocols);
      ws.on('error', () => {});
      const status = await new Promise<number>((resolve) => {
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('open', () => resolve(101));
      });
      expect(status).toBe(401);
    }
  });

  it("delivers another member's message, and `read` moves the reader's position at chat", async () => {
    const [ann, bob] = [await gw.register('ann'), await gw.register('bob')];
    const chatId = await groupOf(ann, bob);
    const socket = await connect(bob.accessToken);

    const sent = await send(ann, chatId, 'hello over ws');
    const frame = await socket.next('the message', (f) => created({ ...socket, frames: [f] }).length > 0);
    expect((frame.update as { messageCreated: unknown }).messageCreated).toMatchObject({
      chatId,
      senderId: ann.userId,
      text: 'hello over ws',
    });
    const summary = async () =>
      (
        (await gw.ok('GET', '/v1/chats', bob.accessToken)).chats as {
          chat: { chatId: string };
          unreadCount?: string;
          readSequence?: string;
        }[]
      ).find((c) => c.chat.chatId === chatId);
    expect(await summary()).toMatchObject({ unreadCount: '1' });

    socket.ws.send(JSON.stringify({ type: 'read', ref: 'r1', chatId, upToSequence: sent.sequence }));
    const answer = await socket.next('the read answer', (f) => f.ref === 'r1');
    expect(answer).toMatchObject({ type: 'read', result: { readSequence: sent.sequence } });
    const after = await summary();
    expect(after?.readSequence).toBe(sent.sequence);
    expect(after?.unreadCount ?? '0').toBe('0');
  }, 30_000);

  it('resumes after a dropped connection without loss or duplicates', async () => {
    const [cat, dan] = [await gw.register('cat'), await gw.register('dan')];
    const chatId = await groupOf(cat, dan);
    const first = await connect(dan.accessToken);
    await send(cat, chatId, 'one');
    await first.next('the first message', () => created(first).length === 1);
    const lastId = created(first)[0]?.id as string;
    first.ws.terminate();
    await waitFor('the socket to close', () => first.closed !== undefined);

    await send(cat, chatId, 'two');
    await send(cat, chatId, 'three');
    const second = await connect(dan.accessToken, `?resumeAfter=${encodeURIComponent(lastId)}`);
    await second.next('the missed messages', () => created(second).length >= 2);
    await send(cat, chatId, 'four');
    await second.next('the live message', () => created(second).length >= 3);
    expect(created(second).map((m) => m.text)).toEqual(['two', 'three', 'four']);
  }, 30_000);

  it('answers malformed frames and frames chat refuses with an error frame, and keeps the socket open', async () => {
    const eve = await gw.register('eve');
    const socket = await connect(eve.accessToken);
    socket.ws.send('not json');
    socket.ws.send(JSON.stringify({ type: 'typing', ref: 't', chatId: randomUUID(), typing: true }));
    socket.ws.send(JSON.stringify({ type: 'read', ref: 'bad', chatId: 'nope', upToSequence: 'x' }));
    socket.ws.send(JSON.stringify({ type: 'ack', updateId: 'whatever' }));
    await waitFor('three errors', () => socket.frames.filter((f) => f.type === 'error').length === 3);
    const errors = socket.frames.filter((f) => f.type === 'error');
    // The unparsable frame is answered at once; the others after their call to chat, in either order.
    expect(Object.fromEntries(errors.map((f) => [String(f.ref), (f.error as { code: number }).code]))).toEqual({
      undefined: 3,
      t: 5, // typing in a chat the caller is not a member of: NOT_FOUND
      bad: 3,
    });
    expect(socket.closed).toBeUndefined();
  }, 30_000);

  it('closes with 1009 on a frame over 16 KiB', async () => {
    const fay = await gw.register('fay');
    const socket = await connect(fay.accessToken);
    socket.ws.send(JSON.stringify({ type: 'ack', updateId: 'x'.repeat(17 * 1024) }));
    await waitFor('the close', () => socket.closed !== undefined);
    expect(socket.closed?.code).toBe(1009);
  }, 30_000);

  it('closes with 1008 on a burst of frames over the per-connection rate', async () => {
    const ida = await gw.register('ida');
    const socket = await connect(ida.accessToken);
    // However the burst falls across the one-second windows, one holds more than 20.
    for (let i = 0; i < 100; i++) socket.ws.send(JSON.stringify({ type: 'ack', updateId: String(i) }));
    await waitFor('the close', () => socket.closed !== undefined);
    expect(socket.closed).toEqual({ code: 1008, reason: 'too many frames' });
  }, 30_000);

  it('closes with 4401 when the session logs out; another session’s socket stays open', async () => {
    const gus = await gw.register('gus');
    const otherSession = await gw.login(gus);
    const loggedOut = await connect(gus.accessToken);
    const other = await connect(otherSession);

    await gw.ok('POST', '/v1/auth/logout', gus.accessToken, { allSessions: false });

    await waitFor('the logged-out socket to close', () => loggedOut.closed !== undefined);
    expect(loggedOut.closed).toEqual({ code: 4401, reason: 'the session of this bearer token has ended' });
    const seen = other.frames.length;
    other.ws.send(JSON.stringify({ type: 'typing', ref: 'still-open' }));
    await other.next('an answer on the other socket', (f) => f.ref === 'still-open');
    expect(other.frames.length).toBeGreaterThan(seen);
    expect(other.closed).toBeUndefined();
  }, 30_000);

  // Last: it stops the system.
  it('closes with 1001 and a reconnect delay when the gateway shuts down', async () => {
    const hal = await gw.register('hal');
    const socket = await connect(hal.accessToken);
    stopped = true;
    await system.stop();
    await waitFor('the close', () => socket.closed !== undefined);
    expect(socket.closed?.code).toBe(1001);
    const delay = Number(/retry=(\d+)$/.exec(socket.closed?.reason ?? '')?.[1]);
    expect(delay).toBeGreaterThanOrEqual(1000);
    expect(delay).toBeLessThanOrEqual(10_000);
  }, 30_000);
});
