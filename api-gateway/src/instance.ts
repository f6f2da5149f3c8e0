import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { acceptRequestId, type Logger, REQUEST_ID_KEY } from '@messenger/platform/logger';
import type { BoundHistogram, HistogramSeries } from '@messenger/platform/metrics';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import { clientErrorHandler, frameworkErrors, installErrorHandling } from './errors/error-handler.ts';
import { Code, GatewayError } from './errors/status.ts';
import { positiveInt } from './options.ts';
import { canonicalUrl } from './routing/canonical-ids.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Whether this gateway is going away; server.ts begins the drain on shutdown. */
    readonly drain: Drain;
    /** Sets what may answer a request on a real socket before Fastify routes it (`inject()` never meets it). */
    answerEarly(responder: EarlyResponder): void;
  }
}

/**
 * Answers a request before Fastify sees it, or returns false, having
 * written and changed nothing, to leave it to Fastify.
 */
export type EarlyResponder = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * Shutdown's first phase: from `begin()` (or from `close()`), `/readyz`
 * answers 503 and every response carries `Connection: close`, so load
 * balancers stop sending new work and keep-alive clients open their next
 * connection elsewhere, while every request that still arrives is served.
 */
export interface Drain {
  readonly draining: boolean;
  begin(): void;
}

/**
 * A request refused before its body was read (too large, unauthenticated,
 * rate-limited) is answered while the client may still be sending the body.
 * Closing the connection then would reset it before the client reads the
 * answer, so the rest of the body is read and dropped, up to these bounds;
 * past them the connection is closed.
 */
const DISCARD_MAX_BYTES = 8 * 1024 * 1024;
const DISCARD_MAX_MS = 5000;

export interface InstanceOptions {
  readonly logger: Logger;
  /** Largest accepted request body; default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /** Fastify's `trustProxy` (for `req.ip` behind a load balancer); default false. */
  readonly trustProxy?: boolean | string | string[];
  /** Observed for every response, labelled with the route's contract template. */
  readonly requestDuration: BoundHistogram<'method' | 'route' | 'status'>;
  /** Sent as `x-messenger-release` on every response when not empty. */
  readonly release?: string;
}

type ServerTiming = 'keepAliveTimeout' | 'requestTimeout' | 'connectionTimeout' | 'maxRequestsPerSocket';

/** The response header naming the release that answered (a blue-green colour, a version). */
export const RELEASE_HEADER = 'x-messenger-release';

/**
 * The Fastify instance every part of the gateway is added to, with what
 * concerns every request alike: request ids (accepted when short and plain,
 * else generated; echoed on every response), JSON bodies, the
 * `google.rpc.Status` error shape, the duration metric, a debug line per
 * request, and the release header when one is configured.
 */
export function createInstance(opts: InstanceOptions): FastifyInstance {
  const log = opts.logger;
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // Fastify's own per-request lines are off: the gateway writes its own, at debug, below.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    requestIdHeader: false,
    genReqId: (req: IncomingMessage) => acceptRequestId(headerString(req.headers[REQUEST_ID_KEY])),
    // A child logger per request costs throughput; only when debug lines will use it.
    childLoggerFactory: (logger, bindings, childOpts) =>
      log.isLevelEnabled('debug') ? logger.child(bindings, childOpts) : logger,
    bodyLimit: positiveInt('bodyLimitBytes', opts.bodyLimitBytes, 1024 * 1024),
    trustProxy: opts.trustProxy ?? false,
    // Before routing, so params, cache keys and tags, and upstream calls all see canonical ids.
    rewriteUrl: (req) => canonicalUrl(req.url ?? '/'),
    routerOptions: { maxParamLength: 500 },
    // Shutdown (server.ts) serves every request that still arrives, with
    // `Connection: close`, and closes connections itself once they are idle.
    return503OnClosing: false,
    forceCloseConnections: false,
    frameworkErrors,
    clientErrorHandler,
    // Fastify's own HTTP/1.1 server, with one step ahead of its handler.
    serverFactory: (handler, options) => {
      // Fastify has filled in its defaults by now; these are what it sets on a server of its own.
      const timing = options as Required<Pick<FastifyServerOptions, ServerTiming>>;
      const server = createServer(options.http ?? {}, (req, res) => {
        if (early !== undefined && answeredEarly(early, req, res, log)) return;
        handler(req, res);
      });
      server.keepAliveTimeout = timing.keepAliveTimeout;
      server.requestTimeout = timing.requestTimeout;
      server.setTimeout(timing.connectionTimeout);
      if (timing.maxRequestsPerSocket > 0) server.maxRequestsPerSocket = timing.maxRequestsPerSocket;
      return server;
    },
  });
  let early: EarlyResponder | undefined;
  app.decorate('answerEarly', (responder: EarlyResponder) => {
    early = responder;
  });
  installErrorHandling(app, log);
  installJsonParser(app);
  installDrain(app);

  const release = opts.release || undefined;
  app.addHook('onRequest', (req, reply, done) => {
    reply.header(REQUEST_ID_KEY, req.id);
    if (release !== undefined) reply.header(RELEASE_HEADER, release);
    done();
  });
  // The duration metric and the debug line, labelled with the route's
  // contract template: bound to each route as it is added, so that no
  // request rebuilds `req.routeOptions` (a new object on every read) to find
  // it. Requests no route matched are counted by the global hook.
  app.addHook('onRoute', (route) => {
    const observe = responseObserver(opts.requestDuration, log, route.config?.template ?? route.url);
    route.onResponse = route.onResponse === undefined ? observe : [...[route.onResponse].flat(), observe];
  });
  const unmatched = responseObserver(opts.requestDuration, log, 'unmatched');
  app.addHook('onResponse', (req, reply, done) => {
    if (req.is404) unmatched(req, reply, done);
    else done();
  });
  return app;
}

/**
 * Whether `early` answered. An early responder that throws must not take the
 * process down from inside a `request` listener: the request goes to Fastify
 * if nothing was sent yet, else its connection is closed.
 */
function answeredEarly(early: EarlyResponder, req: IncomingMessage, res: ServerResponse, log: Logger): boolean {
  try {
    return early(req, res);
  } catch (err) {
    log.error({ err }, 'answering a request before routing failed');
    if (!res.headersSent) return false;
    res.destroy();
    return true;
  }
}

function installDrain(app: FastifyInstance): void {
  let draining = false;
  app.decorate('drain', {
    get draining() {
      return draining;
    },
    begin() {
      draining = true;
    },
  } satisfies Drain);
  // One hook for both, as it runs for every response.
  app.addHook('onSend', (req, reply, payload, done) => {
    // (`inject()` requests have no real socket: nothing to keep open.)
    if (!req.raw.complete && req.raw.socket instanceof Socket) {
      // Fastify asks to close after a body it refused; node:http would then
      // close at once. Kept alive, node:http reads and drops the rest (and a
      // draining gateway says close on the connection's next answer).
      reply.removeHeader('connection');
      boundDiscard(req.raw);
    } else if (draining) {
      void reply.header('connection', 'close');
    }
    done(null, payload);
  });
  app.addHook('preClose', (done) => {
    draining = true;
    done();
  });
}

/** Closes the connection if the rest of a refused body is larger or slower than the bounds. */
function boundDiscard(req: IncomingMessage): void {
  const socket = req.socket;
  const readBefore = socket.bytesRead;
  const stop = () => {
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('close', stop);
  };
  const onData = () => {
    if (socket.bytesRead - readBefore > DISCARD_MAX_BYTES) {
      stop();
      socket.destroy();
    }
  };
  const timer = setTimeout(() => {
    stop();
    socket.destroy();
  }, DISCARD_MAX_MS);
  timer.unref();
  socket.on('data', onData);
  req.once('end', stop);
  socket.once('close', stop);
}

function responseObserver(
  requestDuration: InstanceOptions['requestDuration'],
  log: Logger,
  route: string,
): (req: FastifyRequest, reply: FastifyReply, done: () => void) => void {
  // This route's series by method and status, bound at their first response.
  const series = new Map<string, Map<number, HistogramSeries>>();
  const seriesOf = (method: string, status: number): HistogramSeries => {
    let byStatus = series.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      series.set(method, byStatus);
    }
    let found = byStatus.get(status);
    if (found === undefined) {
      found = requestDuration.series({ method, route, status: String(status) });
      byStatus.set(status, found);
    }
    return found;
  };
  return (req, reply, done) => {
    seriesOf(req.method, reply.statusCode).observe(reply.elapsedTime / 1000);
    logRequestDone(log, req.id, req.method, route, reply.statusCode, reply.elapsedTime);
    done();
  };
}

/** The debug line of every answered request. */
export function logRequestDone(
  log: Logger,
  requestId: string,
  method: string,
  route: string,
  status: number,
  ms: number,
): void {
  if (log.isLevelEnabled('debug')) log.debug({ requestId, method, route, status, ms }, 'request done');
}

function headerString(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/**
 * JSON bodies: an empty body (as a body-less POST with a JSON content type
 * sends) is "no body"; anything else must parse. Refusals are 400s.
 */
function installJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.length === 0 || text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new GatewayError(Code.INVALID_ARGUMENT, 'the request body is not valid JSON'), undefined);
    }
  });
}
