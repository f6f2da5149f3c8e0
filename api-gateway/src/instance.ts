import type { IncomingMessage } from 'node:http';
import { acceptRequestId, type Logger, REQUEST_ID_KEY } from '@messenger/platform/logger';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Histogram } from 'prom-client';
import { clientErrorHandler, frameworkErrors, installErrorHandling } from './errors/error-handler.ts';
import { Code, GatewayError } from './errors/status.ts';
import { positiveInt } from './options.ts';

export interface InstanceOptions {
  readonly logger: Logger;
  /** Largest accepted request body; default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /** Fastify's `trustProxy` (for `req.ip` behind a load balancer); default false. */
  readonly trustProxy?: boolean | string | string[];
  /** Observed for every response, labelled with the route's contract template. */
  readonly requestDuration: Histogram<'method' | 'route' | 'status'>;
}

/**
 * The Fastify instance every part of the gateway is added to, with what
 * concerns every request alike: request ids (accepted when short and plain,
 * else generated; echoed on every response), JSON bodies, the
 * `google.rpc.Status` error shape, the duration metric, and a debug line
 * per request.
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
    routerOptions: { maxParamLength: 500 },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    frameworkErrors,
    clientErrorHandler,
  });
  installErrorHandling(app, log);
  installJsonParser(app);

  app.addHook('onRequest', (req, reply, done) => {
    reply.header(REQUEST_ID_KEY, req.id);
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

function responseObserver(
  requestDuration: InstanceOptions['requestDuration'],
  log: Logger,
  route: string,
): (req: FastifyRequest, reply: FastifyReply, done: () => void) => void {
  return (req, reply, done) => {
    const status = String(reply.statusCode);
    requestDuration.observe({ method: req.method, route, status }, reply.elapsedTime / 1000);
    if (log.isLevelEnabled('debug')) {
      log.debug(
        { requestId: req.id, method: req.method, route, status: reply.statusCode, ms: reply.elapsedTime },
        'request done',
      );
    }
    done();
  };
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
