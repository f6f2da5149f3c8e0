// Composition root of the gateway as its own process (cluster mode):
// config → runtime (logging, metrics, event bus, trust) → Redis for shared
// limits and cache → HTTP server, drained on SIGTERM.
import { exitOnShutdownSignal } from '@messenger/platform/lifecycle';
import { startServiceRuntime } from '@messenger/platform/runtime';
import { Redis } from 'ioredis';
import { loadGatewayConfig, rateLimitBudgetsOf, upstreamsOf } from './config.ts';
import { startGateway } from './server.ts';

const config = loadGatewayConfig(process.env);
const runtime = await startServiceRuntime('api-gateway', config);
const redis =
  config.sharedState === 'redis'
    ? new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
    : undefined;
// The gateway serves without Redis (local fallback), so a failed first connect is logged, not fatal.
await redis?.connect().catch((err: unknown) => runtime.logger.warn({ err }, 'redis unreachable at start-up'));

const gateway = await startGateway(
  {
    catalog: runtime.catalog,
    upstreams: upstreamsOf(config),
    auth: { verifier: runtime.authenticator, revocations: runtime.revocations },
    eventBus: runtime.bus,
    redis,
    logger: runtime.logger,
    metrics: runtime.metrics,
    rateLimits: rateLimitBudgetsOf(config),
    cache: { enabled: config.cacheEnabled },
    deadlines: { defaultMs: config.upstreamDeadlineMs },
    bodyLimitBytes: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
  },
  { host: config.httpHost, port: config.httpPort, shutdownGraceMs: config.shutdownGraceMs },
);
runtime.logger.info({ url: gateway.url }, 'gateway listening');

exitOnShutdownSignal(runtime.logger, async () => {
  await gateway.close();
  await runtime.close();
  await redis?.quit();
});
