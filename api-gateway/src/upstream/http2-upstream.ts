import { DEFAULT_MAX_RECEIVE_BYTES } from '@messenger/platform/http2';
import type { HistogramSeries, Metrics } from '@messenger/platform/metrics';
import { Code, codeName } from '../errors/status.ts';
import type { GrpcUpstreamOptions } from './grpc-upstream.ts';
import { Channel, type ChannelOptions, lookupAll } from './http2-channel.ts';
import { failure } from './http2-metadata.ts';
import { StreamCall } from './http2-stream-call.ts';
import { UnaryCall, type UnaryCallShared } from './http2-unary-call.ts';
import type { PendingStream, StreamObserver, Upstream } from './upstream.ts';

/** `GrpcUpstreamOptions`, plus knobs that default to what the grpc-js upstream uses. */
export interface Http2UpstreamOptions extends GrpcUpstreamOptions {
  /** Largest response message accepted (RESOURCE_EXHAUSTED beyond); default 4 MiB as grpc-js. */
  readonly maxReceiveMessageBytes?: number;
  readonly connection?: Partial<ChannelOptions>;
}

const CONNECTION_DEFAULTS: ChannelOptions = {
  keepaliveMs: 30_000,
  keepaliveTimeoutMs: 10_000,
  connectTimeoutMs: 20_000,
  reconnectInitialMs: 1000,
  reconnectMaxMs: 30_000,
  lookup: lookupAll,
};
const HEALTH_CHECK = '/grpc.health.v1.Health/Check';
const NO_METADATA: Readonly<Record<string, string>> = {};

/**
 * The upstream over the gateway's own HTTP/2 client: gRPC's unary and
 * server-streaming protocol without grpc-js's channel, filter and
 * interceptor layers, and without node:http2's per-request streams.
 * Same options, same behaviour as `createGrpcUpstream`: the contract
 * suite (`upstream.contract.ts`) runs against both. Connections are in
 * http2-channel.ts (the protocol itself in http2-connection.ts and
 * hpack.ts), a call in http2-unary-call.ts, the wire format in
 * http2-framing.ts and http2-metadata.ts. Server streams (the live
 * updates) go the same way (http2-stream-call.ts): an open stream holds a
 * few hundred bytes of call state instead of grpc-js's layers.
 */
export function createHttp2Upstream(opts: Http2UpstreamOptions): Upstream {
  const connection: ChannelOptions = { ...CONNECTION_DEFAULTS, ...opts.connection, tls: opts.tls };
  const byAddress = new Map<string, Channel>();
  const byService = new Map<string, Channel>();
  for (const service in opts.addresses) {
    const address = opts.addresses[service] as string;
    let channel = byAddress.get(address);
    if (!channel) {
      channel = new Channel(address, connection);
      byAddress.set(address, channel);
    }
    byService.set(service, channel);
  }
  const idempotent = new Set<string>();
  for (const info of opts.catalog.methods()) if (info.idempotent) idempotent.add(info.path);
  const shared: UnaryCallShared = {
    maxReceiveBytes: opts.maxReceiveMessageBytes ?? DEFAULT_MAX_RECEIVE_BYTES,
    // grpc-js caps a retry policy's maxAttempts at 5.
    maxAttempts: Math.min(5, Math.max(1, opts.maxAttempts ?? 3)),
    observe: opts.metrics ? observer(opts.metrics.grpcClientDuration) : undefined,
  };
  const healthRequests = new Map<string, Buffer>();
  let closed = false;

  const channelFor = (service: string): Channel => {
    const channel = byService.get(service);
    // Routes are checked against the addresses at start-up; this is a programming error.
    if (!channel) throw new Error(`no upstream address for ${service}`);
    return channel;
  };

  return {
    unary(call) {
      const channel = channelFor(call.service);
      const pending = new UnaryCall(shared, channel, call, idempotent.has(call.path), true);
      if (closed) pending.finish(failure(Code.UNAVAILABLE, 'upstream closed'));
      else pending.start();
      return pending;
    },

    serverStream(call, observer: StreamObserver): PendingStream {
      const pending = new StreamCall(shared, channelFor(call.service), call, observer);
      if (closed) queueMicrotask(() => pending.finish(failure(Code.UNAVAILABLE, 'upstream closed')));
      else pending.start();
      return pending;
    },

    async health(service, timeoutMs) {
      const channel = byService.get(service);
      if (!channel || closed) return false;
      let request = healthRequests.get(service);
      if (!request) {
        request = healthCheckRequest(service);
        healthRequests.set(service, request);
      }
      const call = { service, path: HEALTH_CHECK, request, metadata: NO_METADATA, deadline: Date.now() + timeoutMs };
      const pending = new UnaryCall(shared, channel, call, false, false);
      pending.start();
      const { status, body } = await pending.result;
      // HealthCheckResponse{status: SERVING (1)} is `08 01`.
      return status.code === Code.OK && body !== undefined && body[0] === 0x08 && body[1] === 1;
    },

    close() {
      closed = true;
      for (const channel of byAddress.values()) channel.close();
    },
  };
}

/** `HealthCheckRequest{service}`: field 1, length-delimited. */
function healthCheckRequest(service: string): Buffer {
  const name = Buffer.from(service);
  const length: number[] = [];
  for (let n = name.length; ; n >>>= 7) {
    if (n < 0x80) {
      length.push(n);
      break;
    }
    length.push((n & 0x7f) | 0x80);
  }
  return Buffer.concat([Buffer.from([0x0a, ...length]), name]);
}

/**
 * The `grpcClientDuration` observation of the grpc-js upstream (same labels),
 * with each path's label objects built once per status code, not per call.
 */
function observer(histogram: Metrics['grpcClientDuration']): NonNullable<UnaryCallShared['observe']> {
  const seriesByPath = new Map<string, HistogramSeries[]>();
  return (call, code, started) => {
    let byCode = seriesByPath.get(call.path);
    if (byCode === undefined) {
      byCode = [];
      seriesByPath.set(call.path, byCode);
    }
    let series = byCode[code];
    if (series === undefined) {
      const method = call.path.slice(call.path.lastIndexOf('/') + 1);
      series = histogram.series({ target: call.service, method, code: codeName(code) });
      byCode[code] = series;
    }
    series.observe((performance.now() - started) / 1000);
  };
}
