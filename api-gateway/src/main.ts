// Composition root of the gateway as its own process (cluster mode):
// config → runtime (logging, metrics, event bus, trust) → Redis for shared
// limits and cache → HTTP server, drained on SIGTERM; in GATEWAY_WORKERS
// processes sharing the port.

import { closeRedisClient, createRedisClient } from '@messenger/platform/redis';
import { requireClusterSecrets, runWorkers, startServiceRuntime } from '@messenger/platform/runtime';
import { loadGatewayConfig, rateLimitBudgetsOf, upstreamsOf } from './config.ts';
import { mediaOptionsOf } from './media/media-config.ts';
import { startGateway } from './server.ts';

const config = loadGatewayConfig(process.env);
requireClusterSecrets({ GATEWAY_SERVICE_SECRET: config.serviceSecret !== '' });
const group = {
  service: 'api-gateway',
  workers: config.workers,
  logLevel: config.logLevel,
  // A worker's stop takes the drain delay, then up to the grace.
  shutdownGraceMs: config.drainDelayMs + config.shutdownGraceMs,
  // Redis shares them; in memory each worker counts and caches on its own.
  perWorkerState:
    config.sharedState === 'memory' ? ['GATEWAY_SHARED_STATE=memory: rate limits and response cache'] : [],
};

await runWorkers(group, async (startup) => {
  const runtime = await startServiceRuntime('api-gateway', config, { servesGrpc: false });
  startup.opened(() => runtime.close());
  const redis =
    config.sharedState === 'redis'
      ? createRedisClient({
          url: config.redisUrl,
          name: 'shared-state',
          commandTimeoutMs: config.redisCommandTimeoutMs,
          logger: runtime.logger,
          registry: runtime.metrics.registry,
        })
      : undefined;
  // The gateway serves without Redis (local fallback), so a failed first connect is logged (by the client), not fatal.
  if (redis) startup.opened(() => closeRedisClient(redis));
  await redis?.connect().catch(() => {});

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
      streaming: { heartbeatMs: config.streamHeartbeatMs },
      bodyLimitBytes: config.bodyLimitBytes,
      trustProxy: config.trustedProxies,
      release: config.release,
      exampleClient: config.exampleClient,
      upstreamTransport: config.upstreamTransport,
      upstreamTls: runtime.grpcTls,
      media: mediaOptionsOf(config),
      // Attachment uploads call chat RPCs that admit the gateway only.
      serviceToken: runtime.serviceTokens('gateway', config.serviceSecret),
    },
    {
      host: config.httpHost,
      port: config.httpPort,
      drainDelayMs: config.drainDelayMs,
      shutdownGraceMs: config.shutdownGraceMs,
    },
  );
  return {
    logger: runtime.logger,
    listening: { msg: 'gateway listening', url: gateway.url },
    async stop() {
      await gateway.close();
      await runtime.close();
      if (redis) await closeRedisClient(redis);
    },
  };
});
