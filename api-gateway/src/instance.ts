import type { IncomingMessage } from 'node:http';
import { acceptRequestId, type Logger, REQUEST_ID_KEY } from '@messenger/platform/logger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
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
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.config.template ?? req.routeOptions.url ?? 'unmatched';
    const status = String(reply.statusCode);
    opts.requestDuration.observe({ method: req.method, route, status }, reply.elapsedTime / 1000);
    if (log.isLevelEnabled('debug')) {
      log.debug(
        { requestId: req.id, method: req.method, route, status: reply.statusCode, ms: reply.elapsedTime },
        'request done',
      );
    }
    done();
  });
  return app;
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
