import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Gauge } from 'prom-client';
import { positiveInt } from '../options.ts';
import type { Upstream } from '../upstream/upstream.ts';

export interface OperationsOptions {
  /** The services `/readyz` reports on: every one with a routed method. */
  readonly services: readonly string[];
  readonly upstream: Upstream;
  /** Set by every `/readyz` to each upstream's health: 1 serving, 0 not. */
  readonly upstreamServing: Gauge<'service'>;
  /** Per-upstream health check timeout of `/readyz`; default 1 s. */
  readonly readinessTimeoutMs?: number;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The gateway's own endpoints: `/healthz` (liveness: the process answers),
 * `/readyz` (readiness: this gateway takes traffic unless it is draining;
 * the body and `gateway_upstream_serving` report each routed service's
 * `grpc.health.v1` through the same channels as the calls). Metrics are
 * not here: the runtime serves them on `METRICS_PORT`, a port that is never
 * published to clients.
 *
 * Readiness does not depend on the upstreams: every gateway replica shares
 * them, so one service being down would take every replica out of the load
 * balancer and turn the calls that still work into connection errors. A
 * call to a service that is down answers 503 on its own.
 */
async function operations(app: FastifyInstance, opts: OperationsOptions): Promise<void> {
  const timeoutMs = positiveInt('readinessTimeoutMs', opts.readinessTimeoutMs, 1000);
  const { services, upstream, upstreamServing } = opts;

  app.get('/healthz', (_req, reply) => {
    void reply.header('content-type', JSON_TYPE).send('{"status":"SERVING"}');
  });
  app.get('/readyz', async (_req, reply) => {
    const checks = await Promise.all(services.map((s) => upstream.health(s, timeoutMs)));
    for (const [i, s] of services.entries()) upstreamServing.set({ service: s }, checks[i] ? 1 : 0);
    const upstreams = Object.fromEntries(services.map((s, i) => [s, checks[i] ? 'SERVING' : 'NOT_SERVING']));
    const { draining } = app.drain;
    return reply
      .code(draining ? 503 : 200)
      .header('content-type', JSON_TYPE)
      .send(JSON.stringify({ status: draining ? 'NOT_SERVING' : 'SERVING', draining, upstreams }));
  });
}

export const operationsPlugin = fp(operations, { name: 'messenger-operations', fastify: '5.x' });
