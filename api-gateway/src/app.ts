import type { IncomingMessage } from 'node:http';
import { Access } from '@messenger/gen/messenger/options/v1/options';
import {
  type ApiCatalog,
  acceptRequestId,
  createMetrics,
  type EventBus,
  type Logger,
  type Metrics,
  REQUEST_ID_KEY,
  type SubscriptionHandle,
} from '@messenger/platform';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Redis } from 'ioredis';
import { Counter, Histogram } from 'prom-client';
import { clientErrorHandler, frameworkErrors, installErrorHandling } from './errors/error-handler.ts';
import { Code, codeName, decodeStatusDetails, GatewayError, httpStatusOf } from './errors/status.ts';
import { createRequestMarshaller } from './marshal/request.ts';
import { createResponseMarshaller } from './marshal/response.ts';
import { type AuthOptions, authHook, createTokenGate, type TokenGate } from './plugins/auth.ts';
import type { ResponseCacheStore } from './plugins/cache/cache-store.ts';
import { MemoryCacheStore } from './plugins/cache/memory-cache-store.ts';
import { RedisCacheStore } from './plugins/cache/redis-cache-store.ts';
import { createResponseCache, type FillOutcome, type ResponseCache } from './plugins/cache/response-cache.ts';
import { registerOpenApi } from './plugins/openapi.ts';
import { buildOpenApiDocument, type OpenApiOptions } from './plugins/openapi-document.ts';
import { DEFAULT_BUDGETS, type RateLimitBudgets, registerRateLimit, routeRateLimit } from './plugins/rate-limit.ts';
import { subscribeSessionRevocations } from './plugins/sessions.ts';
import { createStreamHandler, type StreamingOptions, StreamRegistry } from './plugins/streaming.ts';
import { compileRouteTable, type Route } from './routing/route-table.ts';
import { createGrpcUpstream } from './upstream/grpc-upstream.ts';
import { type DeadlinePolicy, deadlineOf, outgoingMetadata, responseHeaders } from './upstream/metadata.ts';
import type { Upstream, UpstreamStatus } from './upstream/upstream.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's path template as written in the contract: the `route` label of metrics. */
    template?: string;
  }
}

export interface GatewayOptions {
  /** The contracts: routes, policies and JSON mapping all come from here. */
  readonly catalog: ApiCatalog;
  /**
   * `host:port` of every service that has routed methods, by fully-qualified
   * name, e.g. `{'messenger.user.v1.UserService': '127.0.0.1:50052'}`. A
   * routed service without an address stops start-up.
   */
  readonly upstreams: Readonly<Record<string, string>>;
  /** Replaces the grpc-js upstream (another transport, or tests); `upstreams` is then only checked. */
  readonly upstream?: Upstream;
  /** Token verification at the gateway (platform `createTokenAuthenticator` as `verifier`). */
  readonly auth: AuthOptions;
  /**
   * Events: cache invalidation (`invalidated_by` of each cacheable method)
   * and `auth.session.revoked` (ends streams, drops cached verifications).
   * Absent: caches expire by TTL only.
   */
  readonly eventBus?: EventBus;
  /**
   * Redis for shared rate-limit counters and the response cache; absent →
   * in-process stores (embedded). Owned by the caller (never closed here).
   * Every command is bounded by a timeout, so offline-queue settings do not
   * matter; `@fastify/rate-limit` defines its Lua command on the client.
   */
  readonly redis?: Redis;
  readonly logger: Logger;
  /** The process's registry (platform `createMetrics`); the gateway adds its HTTP instruments to it. */
  readonly metrics?: Metrics;
  /** Budgets per rate-limit class; defaults in DEFAULT_BUDGETS. */
  readonly rateLimits?: RateLimitBudgets;
  readonly cache?: {
    /** Default true. */
    readonly enabled?: boolean;
    /** In-memory store size (entries); default 10 000. */
    readonly maxEntries?: number;
    /** Longest wait for Redis per command; default 100 ms. */
    readonly redisTimeoutMs?: number;
  };
  readonly deadlines?: {
    /** Upstream deadline when the client sends no `Grpc-Timeout`; default 10 s. */
    readonly defaultMs?: number;
    /** Cap on a client's `Grpc-Timeout`; default 60 s. */
    readonly maxMs?: number;
    /** Floor on a client's `Grpc-Timeout`, so a call always gets a fair chance; default 20 ms. */
    readonly minMs?: number;
  };
  /** Largest accepted request body; default 1 MiB. */
  readonly bodyLimitBytes?: number;
  readonly streaming?: Omit<StreamingOptions, 'log' | 'errorOf'>;
  /** Fastify's `trustProxy` (for `req.ip` behind a load balancer); default false. */
  readonly trustProxy?: boolean | string | string[];
  readonly openApi?: OpenApiOptions;
  /** Per-upstream health check timeout of `/readyz`; default 1 s. */
  readonly readinessTimeoutMs?: number;
}

/** Paths the gateway serves itself; no RPC may claim them. */
export const RESERVED_PATHS = ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs'];
const JSON_TYPE = 'application/json; charset=utf-8';
const REALM = 'messenger';

/**
 * Builds the gateway: the route table compiled from the catalog's
 * `google.api.http` annotations (start-up fails on any error in them), one
 * Fastify route per binding, policy from each method's declared options.
 * Returns the app unlistened: tests use `inject()`, server.ts listens.
 */
export async function build(opts: GatewayOptions): Promise<FastifyInstance> {
  const log = opts.logger;
  const routes = compileRouteTable(opts.catalog, { reservedPaths: RESERVED_PATHS });
  checkUpstreams(routes, opts.upstreams);
  const deadlines: DeadlinePolicy = {
    defaultMs: positive('deadlines.defaultMs', opts.deadlines?.defaultMs ?? 10_000),
    minMs: positive('deadlines.minMs', opts.deadlines?.minMs ?? 20),
    maxMs: positive('deadlines.maxMs', opts.deadlines?.maxMs ?? 60_000),
  };
  const budgets = opts.rateLimits ?? DEFAULT_BUDGETS;
  const metrics = opts.metrics ?? createMetrics({ defaultMetrics: false });
  const http = httpInstruments(metrics);
  const registry = opts.catalog.registry;

  const upstream = opts.upstream ?? createGrpcUpstream({ addresses: opts.upstreams, catalog: opts.catalog, metrics });
  const tokens: TokenGate = createTokenGate(opts.auth);
  const realm = opts.auth.realm ?? REALM;

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // Per-request log lines are the gateway's own, at debug (DESIGN §7).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    requestIdHeader: false,
    genReqId: (req: IncomingMessage) => acceptRequestId(headerString(req.headers[REQUEST_ID_KEY])),
    // A child logger per request costs throughput; only when debug lines will use it.
    childLoggerFactory: (logger, bindings, childOpts) =>
      log.isLevelEnabled('debug') ? logger.child(bindings, childOpts) : logger,
    bodyLimit: positive('bodyLimitBytes', opts.bodyLimitBytes ?? 1024 * 1024),
    trustProxy: opts.trustProxy ?? false,
    routerOptions: { maxParamLength: 500 },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    frameworkErrors,
    clientErrorHandler,
  });
  app.decorateRequest('caller', null);
  app.decorateRequest('tokenExpiresAt', 0);
  installErrorHandling(app, log);
  installJsonParser(app);

  app.addHook('onRequest', (req, reply, done) => {
    reply.header(REQUEST_ID_KEY, req.id);
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.config.template ?? req.routeOptions.url ?? 'unmatched';
    const status = String(reply.statusCode);
    http.duration.observe({ method: req.method, route, status }, reply.elapsedTime / 1000);
    if (log.isLevelEnabled('debug')) {
      log.debug(
        { requestId: req.id, method: req.method, route, status: reply.statusCode, ms: reply.elapsedTime },
        'request done',
      );
    }
    done();
  });

  await registerRateLimit(app, {
    budgets,
    redis: opts.redis,
    log,
    onFallback: () => http.degraded.inc({ store: 'rate-limit' }),
  });

  // Response cache: Redis when given, else this process's LRU.
  const cacheEnabled = opts.cache?.enabled ?? true;
  const store: ResponseCacheStore | undefined = cacheEnabled
    ? opts.redis
      ? new RedisCacheStore(opts.redis, { timeoutMs: opts.cache?.redisTimeoutMs })
      : new MemoryCacheStore(opts.cache?.maxEntries ?? 10_000)
    : undefined;
  const cache: ResponseCache | undefined = store
    ? createResponseCache({
        store,
        routes,
        log,
        onStoreError: () => http.degraded.inc({ store: 'cache' }),
        onInvalidated: (type) => http.invalidations.inc({ event: type }),
      })
    : undefined;

  const streams = new StreamRegistry();
  const errorOf = (status: UpstreamStatus, route: Route): GatewayError => upstreamError(status, route, registry, realm);
  const metadataOf = (req: FastifyRequest) => outgoingMetadata(req.headers, req.id, req.ip);

  for (const route of routes) {
    const requestMarshaller = createRequestMarshaller(route, registry);
    const responseMarshaller = createResponseMarshaller(route.output, route.responseBody, registry);
    const access = route.method.access;
    const onRequest = access === Access.ACCESS_PUBLIC ? [] : [authHook(tokens, access, realm)];
    let handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

    if (route.serverStreaming) {
      handler = createStreamHandler(
        route,
        upstream,
        requestMarshaller,
        responseMarshaller,
        streams,
        { ...opts.streaming, log, errorOf },
        metadataOf,
      );
    } else {
      const call = async (req: FastifyRequest, reply: FastifyReply, request: Uint8Array, cancellable: boolean) => {
        const pending = upstream.unary({
          service: route.method.service,
          path: route.method.path,
          request,
          metadata: metadataOf(req),
          deadline: deadlineOf(req.headers['grpc-timeout'], deadlines, Date.now()),
        });
        let onClose: (() => void) | undefined;
        if (cancellable) {
          // The client went away before the answer: cancel the upstream call.
          onClose = () => {
            if (!reply.raw.writableFinished) pending.cancel();
          };
          reply.raw.once('close', onClose);
        }
        const res = await pending.result;
        if (onClose) reply.raw.removeListener('close', onClose);
        if (res.status.code !== Code.OK || res.body === undefined) throw errorOf(res.status, route);
        let text: string;
        try {
          text = responseMarshaller.toJsonText(res.body);
        } catch (error) {
          throw new GatewayError(Code.INTERNAL, `${route.method.path}: undecodable response`, { cause: error });
        }
        return { text, headers: res.headers };
      };
      const cached = cache?.covers(route) === true;
      const encode = (req: FastifyRequest) =>
        requestMarshaller.encode(req.params as Record<string, string>, req.query as Record<string, string>, req.body);
      handler = async (req, reply) => {
        if (cached && cache) {
          // One upstream call may serve many waiting clients, so one leaving does not cancel it.
          return cache.serve(route, req, reply, async (): Promise<FillOutcome> => {
            try {
              return { ok: true, body: (await call(req, reply, encode(req), false)).text };
            } catch (error) {
              return { ok: false, error };
            }
          });
        }
        const request = encode(req);
        const { text, headers } = await call(req, reply, request, true);
        if (headers.length > 0) for (const [k, v] of responseHeaders(headers)) reply.header(k, v);
        return reply.header('content-type', JSON_TYPE).header('cache-control', 'no-store').send(text);
      };
    }

    app.route({
      method: route.httpMethod,
      url: route.routerPath,
      onRequest,
      config: { template: route.template.source, rateLimit: routeRateLimit(budgets, route.method.rateLimit) },
      handler,
    });
  }

  await registerOpenApi(app, buildOpenApiDocument(routes, registry, opts.openApi));

  // Operations.
  let closing = false;
  const readinessTimeoutMs = opts.readinessTimeoutMs ?? 1000;
  const routedServices = [...new Set(routes.map((r) => r.method.service))];
  app.get('/healthz', (_req, reply) => {
    void reply.header('content-type', JSON_TYPE).send('{"status":"SERVING"}');
  });
  app.get('/readyz', async (_req, reply) => {
    const checks = await Promise.all(routedServices.map((s) => upstream.health(s, readinessTimeoutMs)));
    const upstreams = Object.fromEntries(routedServices.map((s, i) => [s, checks[i] ? 'SERVING' : 'NOT_SERVING']));
    const ready = !closing && checks.every(Boolean);
    return reply
      .code(ready ? 200 : 503)
      .header('content-type', JSON_TYPE)
      .send(JSON.stringify({ status: ready ? 'SERVING' : 'NOT_SERVING', closing, upstreams }));
  });
  app.get('/metrics', async (_req, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  // Events.
  const subscriptions: SubscriptionHandle[] = [];
  if (opts.eventBus) {
    if (cache && cache.topics.length > 0) {
      subscriptions.push(
        await opts.eventBus.subscribe({
          topics: cache.topics,
          // A shared store is invalidated once for all replicas; a local one by each.
          group: 'api-gateway.cache',
          delivery: opts.redis ? 'shared' : 'broadcast',
          handle: (event) => cache.onEvent(event),
        }),
      );
    }
    subscriptions.push(await subscribeSessionRevocations(opts.eventBus, tokens, streams, log));
  }

  // Shutdown: Fastify stops accepting, answers 503 to requests on kept-alive
  // connections, and waits for in-flight requests; streams never finish on
  // their own, so they are ended first.
  app.addHook('preClose', (done) => {
    closing = true;
    streams.endAll('shutdown');
    done();
  });
  app.addHook('onClose', async () => {
    await Promise.allSettled(subscriptions.map((s) => s.unsubscribe()));
    await store?.close();
    if (!opts.upstream) upstream.close();
  });
  return app;
}

function upstreamError(
  status: UpstreamStatus,
  route: Route,
  registry: ApiCatalog['registry'],
  realm: string,
): GatewayError {
  const { code } = status;
  if (httpStatusOf(code) >= 500) {
    // Logged under an error id by the error handler; the client sees neither text nor details.
    return new GatewayError(code as Code, `${route.method.path} failed with ${codeName(code)}: ${status.message}`);
  }
  const headers =
    code === Code.UNAUTHENTICATED
      ? { 'www-authenticate': `Bearer realm="${realm}", error="invalid_token"` }
      : undefined;
  return new GatewayError(code as Code, status.message || codeName(code), {
    details: decodeStatusDetails(status.details, registry),
    headers,
  });
}

function checkUpstreams(routes: readonly Route[], addresses: Readonly<Record<string, string>>): void {
  const missing = [...new Set(routes.map((r) => r.method.service))].filter(
    (s) => typeof addresses[s] !== 'string' || addresses[s] === '',
  );
  if (missing.length > 0) throw new Error(`gateway: no upstream address for ${missing.join(', ')}`);
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new TypeError(`gateway: ${name} must be a positive integer`);
  return value;
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

interface HttpInstruments {
  readonly duration: Histogram<'method' | 'route' | 'status'>;
  readonly degraded: Counter<'store'>;
  readonly invalidations: Counter<'event'>;
}

function httpInstruments(metrics: Metrics): HttpInstruments {
  const { registry } = metrics;
  const existing = registry.getSingleMetric('http_request_duration_seconds') as HttpInstruments['duration'] | undefined;
  const duration =
    existing ??
    new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP requests served by the gateway, by method, route template and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
  const degraded =
    (registry.getSingleMetric('gateway_redis_fallback_total') as HttpInstruments['degraded'] | undefined) ??
    new Counter({
      name: 'gateway_redis_fallback_total',
      help: 'Times the gateway went on without Redis (rate limits counted locally, cache bypassed).',
      labelNames: ['store'],
      registers: [registry],
    });
  const invalidations =
    (registry.getSingleMetric('gateway_cache_invalidations_total') as HttpInstruments['invalidations'] | undefined) ??
    new Counter({
      name: 'gateway_cache_invalidations_total',
      help: 'Events that invalidated cached responses, by event type.',
      labelNames: ['event'],
      registers: [registry],
    });
  return { duration, degraded, invalidations };
}
