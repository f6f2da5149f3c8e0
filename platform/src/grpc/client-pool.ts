import {
  type ChannelCredentials,
  type ChannelOptions,
  type Client,
  status as GrpcStatus,
  InterceptingCall,
  type Interceptor,
  Metadata,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import type { ApiCatalog } from '../api-catalog.ts';
import { REQUEST_ID_KEY } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { tracingInterceptors } from '../tracing/grpc.ts';
import { channelServiceConfig } from './retry-policy.ts';
import { type GrpcTls, grpcChannelCredentials, grpcTlsChannelOptions } from './tls.ts';

export interface ClientPoolOptions {
  /** Tells which methods are safe to retry (declared NO_SIDE_EFFECTS or IDEMPOTENT). */
  readonly catalog: ApiCatalog;
  readonly metrics: Metrics;
  /** Applied to every call that does not set its own deadline. */
  readonly defaultDeadlineMs: number;
  /** Attempts for an idempotent call failing with UNAVAILABLE, the first included. */
  readonly maxAttempts?: number;
  /** TLS to the services called (verified against its CA, presenting its certificate if any); absent, plaintext. */
  readonly tls?: GrpcTls | undefined;
}

export type ClientConstructor<C extends Client> = (new (
  address: string,
  creds: ChannelCredentials,
  options?: ChannelOptions,
) => C) & {
  service: ServiceDefinition;
};

export interface ClientPool {
  /** One client (one channel) per service and address, created on first use and reused. */
  get<C extends Client>(ctor: ClientConstructor<C>, address: string): C;
  close(): void;
}

/**
 * Creates gRPC clients that share channels, carry a default deadline, record
 * latency, and retry only the calls the contracts declare idempotent — via
 * grpc-js's own service-config retry policy, so retries are transparent,
 * bounded and backed off.
 */
export function createClientPool(opts: ClientPoolOptions): ClientPool {
  const clients = new Map<string, Client>();
  const channelCredentials = grpcChannelCredentials(opts.tls);
  const tlsOptions = grpcTlsChannelOptions(opts.tls);
  return {
    get<C extends Client>(ctor: ClientConstructor<C>, address: string): C {
      const key = `${serviceNameOf(ctor.service)}@${address}`;
      let client = clients.get(key);
      if (!client) {
        client = new ctor(address, channelCredentials, {
          ...tlsOptions,
          'grpc.service_config': JSON.stringify(
            channelServiceConfig([serviceNameOf(ctor.service)], opts.catalog, opts.maxAttempts),
          ),
          'grpc.enable_retries': 1,
          'grpc.keepalive_time_ms': 30_000,
          'grpc.keepalive_timeout_ms': 10_000,
          interceptors: [
            withDefaults(opts.metrics, serviceNameOf(ctor.service), opts.defaultDeadlineMs),
            ...tracingInterceptors(),
          ],
        });
        clients.set(key, client);
      }
      return client as C;
    },
    close() {
      for (const c of clients.values()) c.close();
      clients.clear();
    },
  };
}

function serviceNameOf(definition: ServiceDefinition): string {
  const first = Object.values(definition)[0];
  return first?.path.split('/')[1] ?? 'unknown';
}

/**
 * Gives a call without a deadline the default one (a service-config timeout
 * would instead cap every call, even those asking for longer) and records
 * its latency.
 */
function withDefaults(metrics: Metrics, target: string, defaultDeadlineMs: number): Interceptor {
  return (options, nextCall) => {
    if (options.deadline === undefined) options = { ...options, deadline: Date.now() + defaultDeadlineMs };
    const started = process.hrtime.bigint();
    const method = options.method_definition.path.split('/')[2] ?? '';
    return new InterceptingCall(nextCall(options), {
      start(metadata, _listener, next) {
        next(metadata, {
          onReceiveStatus(status, nextStatus) {
            const seconds = Number(process.hrtime.bigint() - started) / 1e9;
            metrics.grpcClientDuration
              .series({ target, method, code: GrpcStatus[status.code] ?? String(status.code) })
              .observe(seconds);
            nextStatus(status);
          },
        });
      },
    });
  };
}

/**
 * Metadata for a call made while serving another: carries the request id and
 * the credential (the end user's token or this service's own token) onward.
 */
export function outgoingMetadata(requestId: string, bearerToken: string | undefined): Metadata {
  const md = new Metadata();
  md.set(REQUEST_ID_KEY, requestId);
  if (bearerToken) md.set('authorization', `Bearer ${bearerToken}`);
  return md;
}
