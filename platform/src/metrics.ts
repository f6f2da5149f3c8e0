import { createServer } from 'node:http';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/**
 * The process's Prometheus registry and the instruments the platform records.
 * One per process: in embedded mode every service shares it, told apart by
 * the `service` label.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly grpcServerHandled: Counter<'service' | 'method' | 'code'>;
  readonly grpcServerDuration: Histogram<'service' | 'method'>;
  readonly grpcClientDuration: Histogram<'target' | 'method' | 'code'>;
}

const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return {
    registry,
    grpcServerHandled: new Counter({
      name: 'grpc_server_handled_total',
      help: 'gRPC calls completed by the server, by status code.',
      labelNames: ['service', 'method', 'code'],
      registers: [registry],
    }),
    grpcServerDuration: new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Time from receiving a gRPC call to sending its status.',
      labelNames: ['service', 'method'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [registry],
    }),
    grpcClientDuration: new Histogram({
      name: 'grpc_client_handling_seconds',
      help: 'Time an outgoing gRPC call took, by target service and status code.',
      labelNames: ['target', 'method', 'code'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [registry],
    }),
  };
}

/** Serves the registry at GET /metrics (Prometheus text format) for a gRPC service process. */
export async function serveMetrics(
  metrics: Metrics,
  listen: { host: string; port: number },
): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : listen.port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
