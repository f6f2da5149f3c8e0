import type { OutgoingHttpHeaders } from 'node:http';
import { type DescField, type DescMessage, ScalarType } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import type { Logger } from '@messenger/platform/logger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { logFailure, type Rendered, render } from '../errors/error-handler.ts';
import { Code, GatewayError, type StatusBody } from '../errors/status.ts';
import { positiveInt } from '../options.ts';
import type { Route } from '../routing/route-table.ts';
import type { PendingStream } from '../upstream/upstream.ts';
import { LastFrame } from './last-frame.ts';
import type { RpcEndpoint } from './rpc-endpoint.ts';
import type { EndReason, OpenStream, StreamRegistry } from './stream-registry.ts';

export interface StreamingOptions {
  /** An SSE comment is sent after this long without any other write; default 15 000 ms. */
  readonly heartbeatMs?: number;
}

export function streamTimingsOf(opts: StreamingOptions = {}): Required<StreamingOptions> {
  return { heartbeatMs: positiveInt('streaming.heartbeatMs', opts.heartbeatMs, 15_000) };
}

/** Request fields, in order of preference, that take the SSE `Last-Event-ID` on reconnect. */
const RESUME_FIELDS = ['resume_after', 'resume_token', 'last_event_id'];
/** Response fields whose value is the SSE event id (top level, or one message level down). */
const EVENT_ID_FIELDS = ['update_id', 'event_id'];
const NDJSON = 'application/x-ndjson';
const SSE_TYPE = 'text/event-stream; charset=utf-8';
const LAST_EVENT_ID = /^[^\r\n\0]{1,1024}$/;
/**
 * Bounds of the SSE `retry:` each stream announces when it opens and again
 * in its last event: how long an EventSource waits before reconnecting.
 * Drawn per stream, so that clients whose streams end together (a gateway
 * or an upstream restarting) come back spread over this window rather than
 * all at once.
 */
export const RECONNECT_MIN_MS = 1000;
export const RECONNECT_MAX_MS = 10_000;

function reconnectDelayMs(): number {
  return RECONNECT_MIN_MS + Math.floor(Math.random() * (RECONNECT_MAX_MS - RECONNECT_MIN_MS + 1));
}

const END_STATUS: Record<EndReason, StatusBody> = {
  revoked: { code: Code.UNAUTHENTICATED, message: 'the session of this bearer token has ended', details: [] },
  expired: { code: Code.UNAUTHENTICATED, message: 'the bearer token has expired', details: [] },
  shutdown: { code: Code.UNAVAILABLE, message: 'the gateway is restarting; reconnect', details: [] },
};

interface StreamShape {
  /** The request field `Last-Event-ID` fills, when the contract has one. */
  readonly resumeField: DescField | undefined;
  /** A response's event id, read from its bytes; undefined when it has none. */
  readonly eventIdOf: (bytes: Uint8Array) => string | undefined;
}

export function streamShapeOf(route: Route): StreamShape {
  const resumeField = RESUME_FIELDS.map((n) => route.input.fields.find((f) => f.name === n)).find(
    (f) => f !== undefined && f.fieldKind === 'scalar',
  );
  return { resumeField, eventIdOf: eventIdReader(route.output) };
}

const isEventIdField = (f: DescField) =>
  EVENT_ID_FIELDS.includes(f.name) && f.fieldKind === 'scalar' && f.scalar === ScalarType.STRING;

/**
 * The event id of a response — a string field named as in EVENT_ID_FIELDS,
 * at the top level or one message down — read straight from the bytes, so a
 * frame's JSON text can come from the bytes too, without a message object.
 * As when decoding, the last occurrence on the wire wins, and a message
 * field that occurs several times is merged.
 */
export function eventIdReader(output: DescMessage): (bytes: Uint8Array) => string | undefined {
  const direct = output.fields.find(isEventIdField);
  if (direct) return (bytes) => validId(lastOf(bytes, direct.number, (r) => r.string()));
  for (const f of output.fields) {
    if (f.fieldKind !== 'message') continue;
    const inner = f.message.fields.find(isEventIdField);
    if (inner === undefined) continue;
    return (bytes) => validId(lastOf(bytes, f.number, (r) => lastOf(r.bytes(), inner.number, (m) => m.string())));
  }
  return () => undefined;
}

/**
 * What `read` makes of the last occurrence of a length-delimited field that
 * gives something: an occurrence of a message field without the value
 * leaves the earlier one standing, as merging them would.
 */
function lastOf<T>(bytes: Uint8Array, fieldNo: number, read: (r: BinaryReader) => T | undefined): T | undefined {
  let value: T | undefined;
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [no, type] = reader.tag();
    if (no === fieldNo && type === WireType.LengthDelimited) value = read(reader) ?? value;
    else reader.skip(type);
  }
  return value;
}

const validId = (id: string | undefined) => (id !== undefined && id !== '' && LAST_EVENT_ID.test(id) ? id : undefined);

/**
 * One stream message as clients get it: its JSON text and SSE id, and the
 * bytes of its SSE event and NDJSON line, each encoded when first written.
 */
class StreamFrame {
  readonly #json: string;
  readonly #id: string | undefined;
  #sse: Buffer | undefined;
  #ndjson: Buffer | undefined;

  constructor(json: string, id: string | undefined) {
    this.#json = json;
    this.#id = id;
  }

  get sse(): Buffer {
    this.#sse ??= Buffer.from(
      this.#id === undefined ? `data: ${this.#json}\n\n` : `id: ${this.#id}\ndata: ${this.#json}\n\n`,
    );
    return this.#sse;
  }

  get ndjson(): Buffer {
    this.#ndjson ??= Buffer.from(`{"result":${this.#json}}\n`);
    return this.#ndjson;
  }
}

/**
 * Serves a server-streaming RPC as Server-Sent Events (default) or as
 * newline-delimited JSON when the client accepts `application/x-ndjson`
 * (grpc-gateway's `{"result": …}` / `{"error": …}` lines). Each SSE event
 * carries the message's update id as its `id`, so a reconnecting
 * EventSource sends it back as `Last-Event-ID`, which fills the request's
 * resume field. The response headers go out as soon as the service accepts
 * the call (its response headers, sent once it authenticated the caller and
 * checked the request), so a client sees the stream open before the first
 * update; a call the service refuses before that (it answers with trailers
 * only) answers with its real HTTP status and a Status body instead. A
 * client that goes away cancels the upstream call; logout
 * (session revoked), token expiry and shutdown end the stream with a final
 * `event: end` (SSE) or error line (NDJSON).
 */
export function createStreamHandler(
  endpoint: RpcEndpoint,
  registry: StreamRegistry,
  log: Logger,
): (req: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const { route, upstream, requestMarshaller, responseMarshaller } = endpoint;
  const shape = streamShapeOf(route);
  // Shared by the route's streams: a fanned-out update is rendered once.
  const frames = new LastFrame(
    (bytes) => new StreamFrame(responseMarshaller.toJsonText(bytes), shape.eventIdOf(bytes)),
  );

  return async (req, reply) => {
    let query = req.query as Record<string, string | string[] | undefined>;
    const lastEventId = req.headers['last-event-id'];
    if (shape.resumeField && typeof lastEventId === 'string' && LAST_EVENT_ID.test(lastEventId)) {
      const f = shape.resumeField;
      if (query[f.jsonName] === undefined && query[f.name] === undefined)
        query = { ...query, [f.jsonName]: lastEventId };
    }
    const request = requestMarshaller.encode(req.params as Record<string, string>, query, req.body);
    const ndjson = (req.headers.accept ?? '').includes(NDJSON);
    const res = reply.raw;
    reply.hijack();

    const retry = `retry: ${reconnectDelayMs()}\n`;
    let committed = false;
    let finished = false;
    let call: PendingStream | undefined;
    let expiry: NodeJS.Timeout | undefined;

    const commit = () => {
      if (committed || finished) return;
      committed = true;
      const headers = reply.getHeaders() as OutgoingHttpHeaders;
      res.writeHead(200, {
        ...headers,
        'content-type': ndjson ? `${NDJSON}; charset=utf-8` : SSE_TYPE,
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      });
      // Sends the headers at once (through proxies too), so a client sees the
      // stream open before the first update.
      if (ndjson) res.flushHeaders();
      else write(`:ok\n${retry}\n`);
    };
    const write = (chunk: string | Buffer) => {
      registry.wrote(stream);
      if (!res.write(chunk) && call) {
        call.pause();
        res.once('drain', () => call?.resume());
      }
    };
    const cleanup = () => {
      if (finished) return false;
      finished = true;
      clearTimeout(expiry);
      registry.remove(stream);
      return true;
    };
    const failBeforeCommit = (r: Rendered) => {
      const headers = reply.getHeaders() as OutgoingHttpHeaders;
      const body = JSON.stringify(r.body);
      res.writeHead(r.httpStatus, { ...headers, ...r.headers, 'content-type': 'application/json; charset=utf-8' });
      res.end(body);
    };
    const errorFrame = (body: StatusBody) =>
      ndjson ? `${JSON.stringify({ error: body })}\n` : `event: error\n${retry}data: ${JSON.stringify(body)}\n\n`;

    const stream: OpenStream = {
      sessionId: req.caller?.sessionId,
      heartbeat: ndjson
        ? undefined
        : () => {
            if (committed) write(': keep-alive\n\n');
          },
      end(reason) {
        if (!cleanup()) return;
        call?.cancel();
        commit();
        const body = END_STATUS[reason];
        res.end(
          ndjson ? `${JSON.stringify({ error: body })}\n` : `event: end\n${retry}data: ${JSON.stringify(body)}\n\n`,
        );
      },
    };

    res.on('close', () => {
      // The client went away (or the response ended): stop the upstream call.
      if (cleanup()) call?.cancel();
    });

    if (!registry.add(stream)) {
      // Shutdown has begun: refuse rather than open a stream that would be cut at once.
      finished = true;
      failBeforeCommit(render(new GatewayError(Code.UNAVAILABLE, END_STATUS.shutdown.message)));
      return;
    }
    // Armed before the call, so that the call's end, whenever it comes, clears it.
    if (req.tokenExpiresAt > 0) {
      const left = req.tokenExpiresAt - Date.now();
      // setTimeout's limit is ~24.8 days; tokens live 15 minutes at most.
      expiry = setTimeout(() => stream.end('expired'), Math.max(0, Math.min(left, 2 ** 31 - 1)));
    }
    call = upstream.serverStream(
      {
        service: route.method.service,
        path: route.method.path,
        request,
        metadata: endpoint.metadataOf(req),
        deadline: Number.POSITIVE_INFINITY,
      },
      {
        // The service accepted the call: the client learns the stream is open.
        onHeaders: commit,
        onMessage(bytes) {
          if (finished) return;
          let frame: StreamFrame;
          try {
            frame = frames.of(bytes);
          } catch (error) {
            const r = render(new GatewayError(Code.INTERNAL, 'undecodable stream message', { cause: error }));
            logFailure(log, req, error, r);
            stream.end('shutdown');
            return;
          }
          commit();
          write(ndjson ? frame.ndjson : frame.sse);
        },
        onEnd(status) {
          if (!cleanup()) return;
          if (status.code === Code.OK) {
            commit();
            res.end();
            return;
          }
          const error = endpoint.errorOf(status);
          const r = render(error);
          logFailure(log, req, error, r);
          if (!committed) failBeforeCommit(r);
          else res.end(errorFrame(r.body));
        },
      },
    );
  };
}
