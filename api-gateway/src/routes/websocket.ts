import type { Registry } from '@bufbuild/protobuf';
import websocket from '@fastify/websocket';
import type { Logger } from '@messenger/platform/logger';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { logFailure, render } from '../errors/error-handler.ts';
import { Code, GatewayError, type StatusBody } from '../errors/status.ts';
import type { Route } from '../routing/route-table.ts';
import type { PendingStream, Upstream } from '../upstream/upstream.ts';
import { LastFrame } from './last-frame.ts';
import { createRpcEndpoint, type RpcEndpoint } from './rpc-endpoint.ts';
import type { EndReason, OpenStream, StreamRegistry } from './stream-registry.ts';
import { RECONNECT_MAX_MS, RECONNECT_MIN_MS } from './streaming.ts';

/** The path of the socket, and the RPCs it speaks for. */
export const WS_PATH = '/v1/ws';
const UPDATES_RPC = 'messenger.chat.v1.ChatService/StreamUpdates';
const MARK_READ_RPC = 'messenger.chat.v1.ChatService/MarkRead';
const SET_TYPING_RPC = 'messenger.chat.v1.ChatService/SetTyping';
/** The subprotocol a client offers first; the server selects it. */
export const WS_PROTOCOL = 'messenger.v1';
const BEARER_PROTOCOL = 'bearer.';

/** Largest inbound frame; a bigger one closes the socket with 1009. */
export const WS_MAX_FRAME_BYTES = 16 * 1024;
/** Inbound frames per connection per second; more closes the socket with 1008. */
export const WS_FRAMES_PER_SECOND = 20;
/** Outbound bytes a client may leave unread before it is cut off with 4013. */
export const WS_MAX_BUFFERED_BYTES = 1024 * 1024;

/** Close codes (RFC 6455 where one fits; 4xxx are the application's own). */
export const CLOSE = {
  /** The gateway is shutting down; reconnect (the reason carries the delay). */
  goingAway: 1001,
  /** Too many inbound frames. */
  policy: 1008,
  /** An inbound frame over WS_MAX_FRAME_BYTES (sent by the ws library). */
  tooBig: 1009,
  /** The upstream failed. */
  internal: 1011,
  /** The session ended (logout, revocation) or the token expired: sign in again. */
  unauthenticated: 4401,
  /** The client read too slowly (here or at chat): reconnect and resume. */
  slowConsumer: 4013,
} as const;

const END_CLOSE: Record<EndReason, [number, string]> = {
  revoked: [CLOSE.unauthenticated, 'the session of this bearer token has ended'],
  expired: [CLOSE.unauthenticated, 'the bearer token has expired'],
  shutdown: [CLOSE.goingAway, 'the gateway is restarting; reconnect'],
};

export interface WebSocketRoutesOptions {
  readonly routes: readonly Route[];
  readonly registry: Registry;
  readonly upstream: Upstream;
  readonly streams: StreamRegistry;
  readonly log: Logger;
}

/**
 * `GET /v1/ws`: chat's live updates (StreamUpdates) over one two-way
 * socket, plus client frames for `read` (MarkRead with the caller's token)
 * and `ack`. The bearer token travels as the subprotocol `bearer.<token>`
 * (browsers cannot set headers on a WebSocket, and a URL ends up in logs);
 * it is checked by the same auth hook as every RPC route, before the
 * upgrade, so a missing or bad token gets an HTTP 401. The socket is one of
 * the registry's streams: logout, token expiry and shutdown close it.
 * Registered only when the catalog routes chat's StreamUpdates.
 */
export async function websocketRoutes(app: FastifyInstance, opts: WebSocketRoutesOptions): Promise<void> {
  const updates = opts.routes.find((r) => `${r.method.service}/${r.method.name}` === UPDATES_RPC);
  const markRead = opts.routes.find((r) => `${r.method.service}/${r.method.name}` === MARK_READ_RPC);
  const setTyping = opts.routes.find((r) => `${r.method.service}/${r.method.name}` === SET_TYPING_RPC);
  if (updates === undefined) return;
  await app.register(websocket, {
    options: {
      maxPayload: WS_MAX_FRAME_BYTES,
      handleProtocols: (protocols) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
    },
  });
  const stream = createRpcEndpoint(updates, opts.registry, opts.upstream, app.bearerRealm);
  // Shared by every socket: a fanned-out update is rendered and encoded once.
  // The message's fields go beside `type`, spliced into its JSON text (an object's: `{…}`).
  const updateFrames = new LastFrame((bytes) => {
    const json = stream.responseMarshaller.toJsonText(bytes);
    return Buffer.from(json === '{}' ? '{"type":"update"}' : `{"type":"update",${json.slice(1)}`);
  });
  const read = markRead && createRpcEndpoint(markRead, opts.registry, opts.upstream, app.bearerRealm);
  const typing = setTyping && createRpcEndpoint(setTyping, opts.registry, opts.upstream, app.bearerRealm);
  // Hooks of this (encapsulated) context run before the route's own, where
  // the auth hook is: the token is where that hook looks before it runs.
  app.addHook('onRequest', async (req) => {
    const token = bearerProtocolOf(req.headers['sec-websocket-protocol']);
    if (token !== undefined) req.headers.authorization = `Bearer ${token}`;
  });
  app.get(WS_PATH, { websocket: true, config: { template: WS_PATH, rpc: updates } }, (socket, req) =>
    serveSocket(socket, req, stream, updateFrames, { read, typing }, opts),
  );
}

function bearerProtocolOf(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const offered = header.split(',').map((p) => p.trim());
  return offered.find((p) => p.startsWith(BEARER_PROTOCOL))?.slice(BEARER_PROTOCOL.length) || undefined;
}

function serveSocket(
  socket: WebSocket,
  req: FastifyRequest,
  endpoint: RpcEndpoint,
  updateFrames: LastFrame<Buffer>,
  unary: { readonly read: RpcEndpoint | undefined; readonly typing: RpcEndpoint | undefined },
  opts: WebSocketRoutesOptions,
): void {
  const { log, streams } = opts;
  let finished = false;
  let call: PendingStream | undefined;
  let expiry: NodeJS.Timeout | undefined;
  let alive = true;
  let windowStart = Date.now();
  let framesInWindow = 0;

  const sendText = (text: string | Buffer) => {
    if (finished) return;
    socket.send(text, { binary: false });
    if (socket.bufferedAmount > WS_MAX_BUFFERED_BYTES) close(CLOSE.slowConsumer, 'reading too slowly; resume');
  };
  const send = (frame: unknown) => sendText(JSON.stringify(frame));
  const sendError = (body: StatusBody, ref?: unknown) =>
    send(ref === undefined ? { type: 'error', error: body } : { type: 'error', ref, error: body });
  const close = (code: number, reason: string) => {
    if (finished) return;
    finished = true;
    clearTimeout(expiry);
    streams.remove(open);
    call?.cancel();
    socket.close(code, reason);
  };
  const open: OpenStream = {
    sessionId: req.caller?.sessionId,
    // The registry's heartbeat (one timer per process) pings; a peer that has
    // not ponged since the previous ping is gone.
    heartbeat() {
      if (!alive) return close(CLOSE.goingAway, 'no pong');
      alive = false;
      socket.ping();
    },
    end(reason) {
      const [code, text] = END_CLOSE[reason];
      // The reconnect hint rides in the reason, drawn per socket as SSE's `retry:`.
      close(code, reason === 'shutdown' ? `${text} retry=${reconnectDelayMs()}` : text);
    },
  };

  socket.on('pong', () => {
    alive = true;
  });
  socket.on('close', () => close(CLOSE.goingAway, ''));
  socket.on('error', () => close(CLOSE.internal, ''));

  if (!streams.add(open)) {
    finished = true;
    socket.close(...END_CLOSE.shutdown);
    return;
  }

  socket.on('message', (data, isBinary) => {
    if (finished) return;
    const now = Date.now();
    if (now - windowStart >= 1000) {
      windowStart = now;
      framesInWindow = 0;
    }
    if (++framesInWindow > WS_FRAMES_PER_SECOND) return close(CLOSE.policy, 'too many frames');
    let frame: unknown;
    try {
      frame = isBinary ? undefined : JSON.parse(data.toString());
    } catch {
      frame = undefined;
    }
    if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) {
      return sendError(invalid('a frame is a JSON object with a "type"'));
    }
    const f = frame as Record<string, unknown>;
    switch (f.type) {
      case 'ack':
        // Resume is driven by the client (`resumeAfter` on reconnect, the last
        // update it processed); the server keeps no per-client position.
        return;
      case 'read':
        return void callChat('read', unary.read, f, { upToSequence: f.upToSequence });
      case 'typing':
        return void callChat('typing', unary.typing, f, { typing: f.typing });
      default:
        return sendError(invalid('unknown frame type'), f.ref);
    }
  });

  /** A client frame as a unary chat RPC on the chat `f.chatId`, with the caller's token; answered with a frame of `type`. */
  const callChat = async (type: string, read: RpcEndpoint | undefined, f: Record<string, unknown>, body: object) => {
    if (read === undefined) {
      return sendError({ code: Code.UNIMPLEMENTED, message: `${type} is not routed`, details: [] }, f.ref);
    }
    try {
      // The route's path variable (the chat id) filled as the router would.
      const chatId = typeof f.chatId === 'string' ? f.chatId : '';
      const params = Object.fromEntries(read.route.pathBindings.flatMap((b) => b.params.map((p) => [p, chatId])));
      const request = read.requestMarshaller.encode(params, {}, body);
      const res = await read.upstream.unary({
        service: read.route.method.service,
        path: read.route.method.path,
        request,
        metadata: read.metadataOf(req),
        deadline: Date.now() + 10_000,
      }).result;
      if (res.status.code !== Code.OK) return sendError(render(read.errorOf(res.status)).body, f.ref);
      send({ type, ref: f.ref, result: read.responseMarshaller.toJsonValue(res.body ?? new Uint8Array()) });
    } catch (error) {
      const r = render(error);
      if (r.httpStatus >= 500) logFailure(log, req, error, r);
      sendError(r.body, f.ref);
    }
  };

  let request: Uint8Array;
  try {
    request = endpoint.requestMarshaller.encode({}, req.query as Record<string, string>, undefined);
  } catch (error) {
    sendError(render(error).body);
    close(CLOSE.policy, 'invalid request');
    return;
  }
  call = endpoint.upstream.serverStream(
    {
      service: endpoint.route.method.service,
      path: endpoint.route.method.path,
      request,
      metadata: endpoint.metadataOf(req),
      deadline: Number.POSITIVE_INFINITY,
    },
    {
      onHeaders() {},
      onMessage(bytes) {
        if (finished) return;
        let frame: Buffer;
        try {
          frame = updateFrames.of(bytes);
        } catch (error) {
          const r = render(new GatewayError(Code.INTERNAL, 'undecodable stream message', { cause: error }));
          logFailure(log, req, error, r);
          return close(CLOSE.internal, 'upstream failure');
        }
        sendText(frame);
      },
      onEnd(status) {
        if (finished) return;
        if (status.code === Code.OK) return close(CLOSE.goingAway, 'stream ended; reconnect');
        const error = endpoint.errorOf(status);
        const r = render(error);
        if (r.httpStatus >= 500) logFailure(log, req, error, r);
        sendError(r.body);
        if (status.code === Code.UNAUTHENTICATED) return close(CLOSE.unauthenticated, 'sign in again');
        if (status.code === Code.ABORTED) return close(CLOSE.slowConsumer, 'reading too slowly; resume');
        if (status.code === Code.INVALID_ARGUMENT) return close(CLOSE.policy, 'invalid request');
        close(CLOSE.internal, 'upstream failure');
      },
    },
  );

  if (req.tokenExpiresAt > 0) {
    const left = req.tokenExpiresAt - Date.now();
    expiry = setTimeout(() => open.end('expired'), Math.max(0, Math.min(left, 2 ** 31 - 1)));
  }
}

function invalid(message: string): StatusBody {
  return { code: Code.INVALID_ARGUMENT, message, details: [] };
}

function reconnectDelayMs(): number {
  return RECONNECT_MIN_MS + Math.floor(Math.random() * (RECONNECT_MAX_MS - RECONNECT_MIN_MS + 1));
}
