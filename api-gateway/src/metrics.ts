import { BoundHistogram, LATENCY_BUCKETS_SECONDS, type Metrics } from '@messenger/platform/metrics';
import { Counter, Gauge, type Metric, type Registry } from 'prom-client';

/** The gateway's own instruments, beside the platform's (gRPC client durations). */
export interface GatewayInstruments {
  /** By method, the contract's path template (`route`) and status; observed on every request, so bound per series. */
  readonly requestDuration: BoundHistogram<'method' | 'route' | 'status'>;
  /** Times the gateway went on without Redis, by `store`: `rate-limit` or `cache`. */
  readonly redisFallbacks: Counter<'store'>;
  /** Events that invalidated cached responses, by event type. */
  readonly cacheInvalidations: Counter<'event'>;
  /** Each routed service's health as the last `/readyz` saw it: 1 serving, 0 not. */
  readonly upstreamServing: Gauge<'service'>;
}

/**
 * The instruments in the process's registry. Several gateways may share one
 * registry (tests, the embedded system): they then share the instruments.
 */
export function gatewayInstruments(metrics: Metrics): GatewayInstruments {
  const { registry } = metrics;
  return {
    requestDuration: registered(
      registry,
      'http_request_duration_seconds',
      (name) =>
        new BoundHistogram({
          name,
          help: 'HTTP requests served by the gateway, by method, route template and status.',
          labelNames: ['method', 'route', 'status'],
          buckets: LATENCY_BUCKETS_SECONDS,
          registry,
        }),
    ),
    redisFallbacks: registered(
      registry,
      'gateway_redis_fallback_total',
      (name) =>
        new Counter({
          name,
          help: 'Times the gateway went on without Redis (rate limits counted locally, cache bypassed).',
          labelNames: ['store'],
          registers: [registry],
        }),
    ),
    cacheInvalidations: registered(
      registry,
      'gateway_cache_invalidations_total',
      (name) =>
        new Counter({
          name,
          help: 'Events that invalidated cached responses, by event type.',
          labelNames: ['event'],
          registers: [registry],
        }),
    ),
    upstreamServing: registered(
      registry,
      'gateway_upstream_serving',
      (name) =>
        new Gauge({
          name,
          help: 'Health of each routed service as the last /readyz saw it: 1 SERVING, 0 not.',
          labelNames: ['service'],
          // Across the workers of one process group: serving only if every worker saw it so.
          aggregator: 'min',
          registers: [registry],
        }),
    ),
  };
}

function registered<M extends Metric | BoundHistogram<string>>(
  registry: Registry,
  name: string,
  create: (name: string) => M,
): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? create(name);
}
