import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Code, GatewayError } from '../errors/status.ts';
import { positiveInt } from '../options.ts';
import type { FillOutcome, ResponseCache } from '../plugins/cache/response-cache.ts';
import { type DeadlinePolicy, deadlineOf, responseHeaders } from '../upstream/metadata.ts';
import type { PendingUnary, UnaryResponse } from '../upstream/upstream.ts';
import type { RpcEndpoint } from './rpc-endpoint.ts';

const JSON_TYPE = 'application/json; charset=utf-8';
const PENDING = Symbol('upstream call of this response');
type Response = ServerResponse & { [PENDING]?: PendingUnary | undefined };

/** One listener for every response (nothing bound per request): a client gone before the answer cancels its call. */
function cancelOnClose(this: Response): void {
  const pending = this[PENDING];
  this[PENDING] = undefined;
  if (pending !== undefined && !this.writableFinished) pending.cancel();
}

export interface DeadlineOptions {
  /** Upstream deadline when the client sends no `Grpc-Timeout`; default 10 s. */
  readonly defaultMs?: number;
  /** Cap on a client's `Grpc-Timeout`; default 60 s. */
  readonly maxMs?: number;
  /** Floor on a client's `Grpc-Timeout`, so a call always gets a fair chance; default 20 ms. */
  readonly minMs?: number;
}

export function deadlinePolicyOf(opts: DeadlineOptions = {}): DeadlinePolicy {
  const policy = {
    defaultMs: positiveInt('deadlines.defaultMs', opts.defaultMs, 10_000),
    minMs: positiveInt('deadlines.minMs', opts.minMs, 20),
    maxMs: positiveInt('deadlines.maxMs', opts.maxMs, 60_000),
  };
  if (policy.minMs > policy.maxMs) throw new TypeError('gateway: deadlines.minMs must not exceed deadlines.maxMs');
  return policy;
}

/**
 * Serves a unary RPC: the request decoded from path, query and body, one
 * upstream call within the request's deadline, the answer as JSON with the
 * service's response headers as `Grpc-Metadata-*`. A client that goes away
 * cancels the call. Routes the cache covers are answered through it.
 */
export function createUnaryHandler(
  endpoint: RpcEndpoint,
  deadlines: DeadlinePolicy,
  cache: ResponseCache | null,
): (req: FastifyRequest, reply: FastifyReply) => unknown {
  const { route, upstream, requestMarshaller, responseMarshaller } = endpoint;

  /** Starts the upstream call of one request; a refused request throws (a 400) before anything is sent. */
  const start = (req: FastifyRequest): PendingUnary =>
    upstream.unary({
      service: route.method.service,
      path: route.method.path,
      request: requestMarshaller.encode(
        req.params as Record<string, string>,
        req.query as Record<string, string>,
        req.body,
      ),
      metadata: endpoint.metadataOf(req),
      deadline: deadlineOf(req.headers['grpc-timeout'], deadlines, Date.now()),
    });

  /** The JSON text of an answer, or what the client gets instead. */
  const textOf = (res: UnaryResponse): string => {
    if (res.status.code !== Code.OK || res.body === undefined) throw endpoint.errorOf(res.status);
    try {
      return responseMarshaller.toJsonText(res.body);
    } catch (error) {
      throw new GatewayError(Code.INTERNAL, `${route.method.path}: undecodable response`, { cause: error });
    }
  };

  if (cache?.covers(route)) {
    // One upstream call may serve many waiting clients, so one leaving does not cancel it.
    return (req, reply) =>
      cache.serve(route, req, reply, async (): Promise<FillOutcome> => {
        try {
          return { ok: true, body: textOf(await start(req).result) };
        } catch (error) {
          return { ok: false, error };
        }
      });
  }
  return async (req, reply) => {
    const pending = start(req);
    // The client went away before the answer: cancel the upstream call.
    const raw = reply.raw as Response;
    raw[PENDING] = pending;
    raw.on('close', cancelOnClose);
    const res = await pending.result;
    raw[PENDING] = undefined;
    raw.removeListener('close', cancelOnClose);
    const text = textOf(res);
    if (res.headers.length > 0) for (const [k, v] of responseHeaders(res.headers)) reply.header(k, v);
    return reply.header('content-type', JSON_TYPE).header('cache-control', 'no-store').send(text);
  };
}
