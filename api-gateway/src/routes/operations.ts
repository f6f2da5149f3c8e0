import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Registry } from 'prom-client';
import { positiveInt } from '../options.ts';
import type { Upstream } from '../upstream/upstream.ts';

export interface OperationsOptions {
  /** The services `/readyz` checks: every one with a routed method. */
  readonly services: readonly string[];
  readonly upstream: Upstream;
  /** What `/metrics` exposes. */
  readonly registry: Registry;
  /** Per-upstream health check timeout of `/readyz`; default 1 s. */
  readonly readinessTimeoutMs?: number;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The gateway's own endpoints: `/healthz` (the process answers), `/readyz`
 * (`grpc.health.v1` of every routed service through the same channels as
 * the calls; 503 once shutdown has begun) and `/metrics` (Prometheus).
 */
async function operations(app: FastifyInstance, opts: OperationsOptions): Promise<void> {
  const timeoutMs = positiveInt('readinessTimeoutMs', opts.readinessTimeoutMs, 1000);
  const { services, upstream, registry } = opts;
  let closing = false;

  app.get('/healthz', (_req, reply) => {
    void reply.header('content-type', JSON_TYPE).send('{"status":"SERVING"}');
  });
  app.get('/readyz', async (_req, reply) => {
    const checks = await Promise.all(services.map((s) => upstream.health(s, timeoutMs)));
    const upstreams = Object.fromEntries(services.map((s, i) => [s, checks[i] ? 'SERVING' : 'NOT_SERVING']));
    const ready = !closing && checks.every(Boolean);
    return reply
      .code(ready ? 200 : 503)
      .header('content-type', JSON_TYPE)
      .send(JSON.stringify({ status: ready ? 'SERVING' : 'NOT_SERVING', closing, upstreams }));
  });
  app.get('/metrics', async (_req, reply) =>
    reply.header('content-type', registry.contentType).send(await registry.metrics()),
  );
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
}

export const operationsPlugin = fp(operations, { name: 'messenger-operations', fastify: '5.x' });
