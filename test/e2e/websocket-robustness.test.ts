// How `GET /v1/ws` treats misbehaving clients, against the embedded system:
// a client that stops reading is cut off with 4013 while another client of
// the same chat keeps its socket and its updates; a client that stops
// answering pings is closed with 1001 ("no pong").
import { randomUUID } from 'node:crypto';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import WebSocket from 'ws';
import { type Account, Gateway } from './support/http.ts';
import { SYSTEM_ENV } from './support/system.ts';
import { waitFor } from './support/wait.ts';

type Frame = Record<string, unknown> & { type: string };

/**
 * The embedded system (in memory, free ports, a 50 ms chat heartbeat, plus
 * `env`) for the tests of the enclosing describe, and a WebSocket client of it.
 */
function systemWith(env: Record<string, string>) {
  let system: RunningSystem;
  const sockets: WebSocket[] = [];
  beforeAll(async () => {
    system = await startSystem(loadEmbeddedConfig({ ...SYSTEM_ENV, CHAT_STREAM_HEARTBEAT_MS: '50', ...env }));
  }, 60_000);
  afterAll(async () => {
    for (const ws of sockets) ws.terminate();
    await system?.stop();
  }, 30_000);

  const connect = async (account: Account, opts: WebSocket.ClientOptions = {}) => {
    const ws = new WebSocket(
      `${system.gatewayUrl.replace(/^http/, 'ws')}/v1/ws`,
      ['messenger.v1', `bearer.${account.accessToken}`],
      opts,
    );
    sockets.push(ws);
    const s = { ws, frames: [] as Frame[], closed: undefined as { code: number; reason: string } | undefined };
    ws.on('message', (data) => s.frames.push(JSON.parse(data.toString()) as Frame));
    ws.on('close', (code, reason) => {
      s.closed = { code, reason: reason.toString() };
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await waitFor('the first heartbeat', () => s.frames.some((f) => f.type === 'update'));
    return s;
  };
  return { gateway: () => new Gateway(system.gatewayUrl), connect };
}

describe('GET /v1/ws with a client that stops reading', () => {
  // A thousand messages from one account; the gateway pings at its default
  // pace, so the paused client (it answers no ping) is not closed for that.
  const { gateway, connect } = systemWith({ GATEWAY_RATE_LIMIT_DEFAULT_PER_MINUTE: '100000' });

  it('cuts off a client that stops reading with 4013, and another client of the chat keeps its socket', async () => {
    const gw = gateway();
    const [ann, bob, cal] = [await gw.register('ann'), await gw.register('bob'), await gw.register('cal')];
    for (const member of [bob, cal]) {
      await gw.ok('POST', `/v1/friends/${member.userId}`, ann.accessToken, {});
      await gw.ok('POST', `/v1/friends/${ann.userId}/confirm`, member.accessToken, {});
    }
    const chat = await gw.ok('POST', '/v1/chats', ann.accessToken, {
      type: 'CHAT_TYPE_GROUP',
      title: 'busy',
      memberIds: [bob.userId, cal.userId],
    });
    const chatId = (chat.chat as { chatId: string }).chatId;
    const slow = await connect(bob);
    const reader = await connect(cal);
    // Bob's client stops reading while more arrives for it than the socket
    // buffers of both ends hold plus the gateway's 1 MiB bound (messages of
    // 4096 four-byte characters, 16 KiB each).
    slow.ws.pause();
    const text = '\u{1D11E}'.repeat(4096);
    const sent = 1000;
    for (let i = 0; i < sent; i++) {
      await gw.ok('POST', `/v1/chats/${chatId}/messages`, ann.accessToken, { clientMessageId: randomUUID(), text });
    }
    // Reading again, the client gets what was sent before the cut and then the close frame.
    slow.ws.resume();
    await waitFor('the slow client closed', () => slow.closed !== undefined, 60_000);
    expect(slow.closed).toEqual({ code: 4013, reason: 'reading too slowly; resume' });
    await waitFor(
      'every message at the reading client',
      () => reader.frames.filter((f) => (f.update as { messageCreated?: unknown })?.messageCreated).length === sent,
    );
    expect(reader.closed).toBeUndefined();
  }, 180_000);
});

describe('GET /v1/ws with a client that stops answering pings', () => {
  // Pings five times a second rather than every 15 s: the mute client is found out at once.
  const { gateway, connect } = systemWith({ GATEWAY_STREAM_HEARTBEAT_MS: '200' });

  it('closes a client that stops answering pings with 1001', async () => {
    const dan = await gateway().register('dan');
    const mute = await connect(dan, { autoPong: false });
    await waitFor('the close', () => mute.closed !== undefined, 60_000);
    expect(mute.closed).toEqual({ code: 1001, reason: 'no pong' });
  }, 90_000);
});
