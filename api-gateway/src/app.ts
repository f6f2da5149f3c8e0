import type { ApiCatalog } from '@messenger/platform/api-catalog';
import type { ServiceTokenSource } from '@messenger/platform/auth';
import type { EventBus } from '@messenger/platform/events';
import type { GrpcTls } from '@messenger/platform/grpc';
import type { Logger } from '@messenger/platform/logger';
import { createMetrics, type Metrics } from '@messenger/platform/metrics';
import { activeTracer } from '@messenger/platform/tracing';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { createInstance } from './instance.ts';
import { MEDIA_OPERATIONS } from './media/media-operations.ts';
import { type MediaOptions, mediaPlugin } from './media/media-plugin.ts';
import { gatewayInstruments } from './metrics.ts';
import { type AuthOptions, authPlugin } from './plugins/auth/auth.plugin.ts';
import { type CacheOptions, cachePlugin } from './plugins/cache/cache.plugin.ts';
import { earlyHits } from './plugins/cache/early-hits.ts';
import { openApiPlugin } from './plugins/openapi/openapi.plugin.ts';
import type { OpenApiOptions } from './plugins/openapi/openapi-document.ts';
import { type RateLimitBudgets, rateLimitPlugin } from './plugins/rate-limit/rate-limit.plugin.ts';
import { EXAMPLE_CLIENT_PATH, exampleClientRoutes } from './routes/example-client.ts';
import { operationsPlugin } from './routes/operations.ts';
import { rpcRoutesPlugin } from './routes/rpc-routes.ts';
import { StreamRegistry } from './routes/stream-registry.ts';
import { type StreamingOptions, streamTimingsOf } from './routes/streaming.ts';
import { type DeadlineOptions, deadlinePolicyOf } from './routes/unary.ts';
import { WS_PATH, websocketRoutes } from './routes/websocket.ts';
import { compileRouteTable, type Route } from './routing/route-table.ts';
import { traceRequests } from './tracing.ts';
import { createGrpcUpstream, type GrpcUpstreamOptions } from './upstream/grpc-upstream.ts';
import { createHttp2Upstream } from './upstream/http2-upstream.ts';
import { tracedUpstream } from './upstream/traced-upstream.ts';
import { UPSTREAM_TRANSPORTS, type Upstream, type UpstreamTransport } from './upstream/upstream.ts';

export interface GatewayOptions {
  /** The contracts: routes, policies and JSON mapping all come from here. */
  readonly catalog: ApiCatalog;
  /**
   * `host:port` of every service that has routed methods, by fully-qualified
   * name, e.g. `{'messenger.user.v1.UserService': '127.0.0.1:50052'}`. A
   * routed service without an address stops start-up.
   */
  readonly upstreams: Readonly<Record<string, string>>;
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
   * matter.
   */
  readonly redis?: Redis;
  readonly logger: Logger;
  /** The process's registry (platform `createMetrics`); the gateway adds its HTTP instruments to it. */
  readonly metrics?: Metrics;
  /** Budgets per rate-limit class; defaults in DEFAULT_BUDGETS. */
  readonly rateLimits?: RateLimitBudgets;
  readonly cache?: CacheOptions;
  readonly deadlines?: DeadlineOptions;
  /** Largest accepted request body; default 1 MiB. */
  readonly bodyLimitBytes?: number;
  readonly streaming?: StreamingOptions;
  /** Fastify's `trustProxy` (for `req.ip` behind a load balancer); default false. */
  readonly trustProxy?: boolean | string | string[];
  /** Sent as `x-messenger-release` on every response (GATEWAY_RELEASE); empty or absent: no header. */
  readonly release?: string;
  /** Serve the example client at `/examples/chat` (GATEWAY_EXAMPLE_CLIENT); default false. */
  readonly exampleClient?: boolean;
  readonly openApi?: OpenApiOptions;
  /**
   * The gRPC client of upstream calls and streams: `http2` (default; the
   * gateway's own HTTP/2 client, a fraction of grpc-js's CPU per call) or `grpc-js`. Same behaviour either way (one conformance
   * suite, upstream/upstream.contract.ts).
   */
  readonly upstreamTransport?: UpstreamTransport;
  /** TLS to the services on every upstream call and stream, either transport (GRPC_TLS_*); absent, plaintext. */
  readonly upstreamTls?: GrpcTls | undefined;
  /**
   * Avatar upload (`PUT /v1/users/me/avatar`) and download
   * (`GET /v1/media/avatars/{id}`), attachment upload
   * (`POST /v1/chats/{chat_id}/attachments`) and download
   * (`…/attachments/{attachment_id}/content|thumbnail`); absent, none of
   * these routes exists.
   */
  readonly media?: MediaOptions;
  /**
   * The gateway's own credential (service token subject `gateway`), for
   * the internal RPCs its own routes call (attachment uploads); required
   * with `media`.
   */
  readonly serviceToken?: ServiceTokenSource;
  /** Per-upstream health check timeout of `/readyz`; default 1 s. */
  readonly readinessTimeoutMs?: number;
}

/** Paths the gateway serves itself; no RPC may claim them. */
export const RESERVED_PATHS = ['/healthz', '/readyz', '/openapi.json', '/docs', WS_PATH, EXAMPLE_CLIENT_PATH];

/**
 * Builds the gateway: the route table compiled from the catalog's
 * `google.api.http` annotations (start-up fails on any error in them), one
 * Fastify route per binding, policy from each method's declared options.
 * Every plugin checks its options as it registers, so a bad one fails here.
 * Returns the app unlistened: tests use `inject()`, server.ts listens.
 */
export async function build(opts: GatewayOptions): Promise<FastifyInstance> {
  const routes = compileRouteTable(opts.catalog, { reservedPaths: RESERVED_PATHS });
  checkUpstreams(routes, opts.upstreams);
  const transport = upstreamTransportOf(opts.upstreamTransport);
  const { heartbeatMs } = streamTimingsOf(opts.streaming);
  const metrics = opts.metrics ?? createMetrics({ defaultMetrics: false });
  const instruments = gatewayInstruments(metrics);
  const app = createInstance({
    logger: opts.logger,
    bodyLimitBytes: opts.bodyLimitBytes,
    trustProxy: opts.trustProxy,
    requestDuration: instruments.requestDuration,
    release: opts.release,
  });
  traceRequests(app);
  const registry = opts.catalog.registry;
  const streams = new StreamRegistry(heartbeatMs);
  try {
    // In dependency order: auth, then rate limit (keyed by the verified
    // caller), then cache, then the routes that use them.
    await app.register(authPlugin, {
      ...opts.auth,
      eventBus: opts.eventBus,
      onSessionsRevoked: (ids) => streams.endSessions(ids),
    });
    await app.register(rateLimitPlugin, {
      budgets: opts.rateLimits,
      redis: opts.redis,
      onRedisFallback: () => instruments.redisFallbacks.inc({ store: 'rate-limit' }),
    });
    await app.register(cachePlugin, {
      ...opts.cache,
      routes,
      redis: opts.redis,
      eventBus: opts.eventBus,
      onRedisFallback: () => instruments.redisFallbacks.inc({ store: 'cache' }),
      onInvalidated: (type) => instruments.cacheInvalidations.inc({ event: type }),
    });
    await app.register(openApiPlugin, {
      routes,
      registry,
      info: opts.openApi,
      own: opts.media === undefined ? [] : MEDIA_OPERATIONS,
    });

    const upstream = createUpstream(transport, {
      addresses: opts.upstreams,
      catalog: opts.catalog,
      metrics,
      tls: opts.upstreamTls,
    });
    app.addHook('onClose', async () => upstream.close());
    await app.register(rpcRoutesPlugin, {
      routes,
      registry,
      upstream,
      streams,
      deadlines: opts.deadlines,
      log: opts.logger,
    });
    if (opts.media !== undefined) {
      if (opts.serviceToken === undefined) throw new TypeError('gateway: media needs serviceToken');
      await app.register(mediaPlugin, {
        serviceToken: opts.serviceToken,
        ...opts.media,
        upstream,
        registry,
        deadlineMs: deadlinePolicyOf(opts.deadlines).defaultMs,
        eventBus: opts.eventBus,
      });
    }
    await app.register(websocketRoutes, { routes, registry, upstream, streams, log: opts.logger });
    if (opts.exampleClient) await app.register(exampleClientRoutes);
    await app.register(operationsPlugin, {
      services: routedServices(routes),
      upstream,
      upstreamServing: instruments.upstreamServing,
      readinessTimeoutMs: opts.readinessTimeoutMs,
    });
    // A traced request needs its span, which only the full path makes.
    if (app.responseCache !== null && activeTracer() === undefined) {
      app.answerEarly(
        earlyHits({
          cache: app.responseCache,
          admittedNow: app.admittedNow,
          countSignedInNow: app.countSignedInNow,
          requestDuration: instruments.requestDuration,
          log: opts.logger,
          release: opts.release,
          drain: app.drain,
        }),
      );
    }
  } catch (error) {
    // Releases what was set up so far (the cache store, the upstream channels).
    await app.close();
    throw error;
  }
  return app;
}

function upstreamTransportOf(value: UpstreamTransport | undefined): UpstreamTransport {
  if (value === undefined) return 'http2';
  if (!UPSTREAM_TRANSPORTS.includes(value)) {
    throw new TypeError(`gateway: upstreamTransport must be one of ${UPSTREAM_TRANSPORTS.join(', ')}`);
  }
  return value;
}

function createUpstream(transport: UpstreamTransport, opts: GrpcUpstreamOptions): Upstream {
  const upstream = transport === 'grpc-js' ? createGrpcUpstream(opts) : createHttp2Upstream(opts);
  const tracer = activeTracer();
  return tracer === undefined ? upstream : tracedUpstream(upstream, tracer);
}

function routedServices(routes: readonly Route[]): string[] {
  return [...new Set(routes.map((r) => r.method.service))];
}

function checkUpstreams(routes: readonly Route[], addresses: Readonly<Record<string, string>>): void {
  const missing = routedServices(routes).filter((s) => typeof addresses[s] !== 'string' || addresses[s] === '');
  if (missing.length > 0) throw new Error(`gateway: no upstream address for ${missing.join(', ')}`);
}
