import {
  type CallOptions,
  Client,
  type ClientReadableStream,
  Metadata,
  type ServiceError,
  type StatusObject,
} from '@grpc/grpc-js';
import type { ApiCatalog } from '@messenger/platform/api-catalog';
import {
  channelServiceConfig,
  type GrpcTls,
  grpcChannelCredentials,
  grpcTlsChannelOptions,
  STATUS_DETAILS_KEY,
} from '@messenger/platform/grpc';
import type { Metrics } from '@messenger/platform/metrics';
import { Code, codeName } from '../errors/status.ts';
import type {
  MetadataPairs,
  PendingStream,
  PendingUnary,
  StreamObserver,
  UnaryResponse,
  Upstream,
  UpstreamCall,
  UpstreamStatus,
} from './upstream.ts';

export interface GrpcUpstreamOptions {
  /** Address (`host:port`) of every service the gateway routes to, by fully-qualified service name. */
  readonly addresses: Readonly<Record<string, string>>;
  /** Which methods may be retried (declared NO_SIDE_EFFECTS or IDEMPOTENT). */
  readonly catalog: ApiCatalog;
  readonly metrics?: Metrics;
  /** Attempts of an idempotent call failing with UNAVAILABLE, the first included; default 3. */
  readonly maxAttempts?: number;
  /** TLS to the services (GRPC_TLS_*): verified against its CA, presenting its certificate if any; absent, plaintext. */
  readonly tls?: GrpcTls | undefined;
}

const identity = (b: Buffer): Buffer => b;
const EMPTY: MetadataPairs = [];
const HEALTH_CHECK = '/grpc.health.v1.Health/Check';

/**
 * The upstream over `@grpc/grpc-js`: one channel per address, created at
 * start-up and reused by every call; bytes pass through untouched (identity
 * (de)serializers). Idempotent methods are retried on UNAVAILABLE by
 * grpc-js's own service-config retry policy, as the platform's client pool does.
 */
export function createGrpcUpstream(opts: GrpcUpstreamOptions): Upstream {
  const byAddress = new Map<string, Client>();
  const byService = new Map<string, Client>();
  const servicesAt = new Map<string, string[]>();
  for (const [service, address] of Object.entries(opts.addresses)) {
    const list = servicesAt.get(address) ?? [];
    list.push(service);
    servicesAt.set(address, list);
  }
  const channelCredentials = grpcChannelCredentials(opts.tls);
  const tlsOptions = grpcTlsChannelOptions(opts.tls);
  for (const [address, services] of servicesAt) {
    const client = new Client(address, channelCredentials, {
      ...tlsOptions,
      'grpc.service_config': JSON.stringify(channelServiceConfig(services, opts.catalog, opts.maxAttempts)),
      'grpc.enable_retries': 1,
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
    });
    byAddress.set(address, client);
    for (const s of services) byService.set(s, client);
  }
  const histogram = opts.metrics?.grpcClientDuration;

  const clientFor = (service: string): Client => {
    const client = byService.get(service);
    // Routes are checked against the addresses at start-up; this is a programming error.
    if (!client) throw new Error(`no upstream address for ${service}`);
    return client;
  };

  return {
    unary(call) {
      const client = clientFor(call.service);
      const started = histogram ? process.hrtime.bigint() : 0n;
      let headers: MetadataPairs = EMPTY;
      let settle!: (r: UnaryResponse) => void;
      const result = new Promise<UnaryResponse>((resolve) => {
        settle = resolve;
      });
      const grpcCall = client.makeUnaryRequest(
        call.path,
        identity,
        identity,
        toBuffer(call.request),
        toMetadata(call.metadata),
        callOptions(call.deadline),
        (err: ServiceError | null, value?: Buffer) => {
          const status = err ? statusOf(err) : OK;
          if (histogram) observe(histogram, call, status.code, started);
          settle({ status, body: err ? undefined : value, headers });
        },
      );
      grpcCall.on('metadata', (md: Metadata) => {
        headers = pairsOf(md);
      });
      return { result, cancel: () => grpcCall.cancel() } satisfies PendingUnary;
    },

    serverStream(call, observer: StreamObserver): PendingStream {
      const client = clientFor(call.service);
      const started = histogram ? process.hrtime.bigint() : 0n;
      // grpc-js captures the caller's stack in an Error it keeps until the
      // call ends, for the message of an error the gateway never shows: for
      // a stream open for hours that is held memory, so none is captured.
      const stackTraceLimit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      let stream: ClientReadableStream<Buffer>;
      try {
        stream = client.makeServerStreamRequest(
          call.path,
          identity,
          identity,
          toBuffer(call.request),
          toMetadata(call.metadata),
          callOptions(call.deadline),
        );
      } finally {
        Error.stackTraceLimit = stackTraceLimit;
      }
      let ended = false;
      const end = (status: UpstreamStatus) => {
        if (ended) return;
        ended = true;
        if (histogram) observe(histogram, call, status.code, started);
        observer.onEnd(status);
      };
      stream.on('metadata', (md: Metadata) => observer.onHeaders?.(pairsOf(md)));
      stream.on('data', (chunk: Buffer) => observer.onMessage(chunk));
      // grpc-js emits 'error' for a non-OK status and 'status' always; the
      // status carries the trailers, so it is the one place the end is read.
      stream.on('error', () => {});
      stream.on('status', (s: StatusObject) => end(statusOfObject(s)));
      return {
        cancel: () => stream.cancel(),
        pause: () => stream.pause(),
        resume: () => stream.resume(),
      };
    },

    health(service, timeoutMs) {
      const client = byService.get(service);
      if (!client) return Promise.resolve(false);
      const name = Buffer.from(service);
      // HealthCheckRequest{service}: field 1, length-delimited (varint length).
      const length: number[] = [];
      for (let n = name.length; ; n >>>= 7) {
        if (n < 0x80) {
          length.push(n);
          break;
        }
        length.push((n & 0x7f) | 0x80);
      }
      const request = Buffer.concat([Buffer.from([0x0a, ...length]), name]);
      return new Promise((resolve) => {
        client.makeUnaryRequest(
          HEALTH_CHECK,
          identity,
          identity,
          request,
          new Metadata(),
          { deadline: Date.now() + timeoutMs },
          (err: ServiceError | null, value?: Buffer) => {
            // HealthCheckResponse{status: SERVING (1)} is `08 01`.
            resolve(!err && value !== undefined && value[0] === 0x08 && value[1] === 1);
          },
        );
      });
    },

    close() {
      for (const c of byAddress.values()) c.close();
    },
  };
}

const OK: UpstreamStatus = { code: Code.OK, message: '', details: undefined };

function statusOf(err: ServiceError): UpstreamStatus {
  const raw = err.metadata?.get(STATUS_DETAILS_KEY)[0];
  return {
    code: err.code ?? Code.UNKNOWN,
    message: err.details ?? '',
    details: raw instanceof Buffer ? raw : undefined,
  };
}

function statusOfObject(s: StatusObject): UpstreamStatus {
  if (s.code === Code.OK) return OK;
  const raw = s.metadata?.get(STATUS_DETAILS_KEY)[0];
  return { code: s.code, message: s.details, details: raw instanceof Buffer ? raw : undefined };
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function toMetadata(pairs: Readonly<Record<string, string>>): Metadata {
  const md = new Metadata();
  for (const key in pairs) {
    const value = pairs[key];
    if (value === undefined) continue;
    try {
      md.set(key, value);
    } catch {
      // Keys and values are checked when read from HTTP; a stray one is dropped, not fatal.
    }
  }
  return md;
}

function callOptions(deadline: number): CallOptions {
  return Number.isFinite(deadline) ? { deadline } : {};
}

function pairsOf(md: Metadata): MetadataPairs {
  const map = md.getMap();
  const out: [string, string][] = [];
  for (const key in map) {
    const v = map[key];
    if (typeof v === 'string') out.push([key, v]);
  }
  return out.length === 0 ? EMPTY : out;
}

function observe(
  histogram: NonNullable<GrpcUpstreamOptions['metrics']>['grpcClientDuration'],
  call: UpstreamCall,
  code: number,
  started: bigint,
): void {
  const method = call.path.slice(call.path.lastIndexOf('/') + 1);
  histogram
    .series({ target: call.service, method, code: codeName(code) })
    .observe(Number(process.hrtime.bigint() - started) / 1e9);
}
