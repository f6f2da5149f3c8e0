import { randomUUID } from 'node:crypto';
import {
  status as GrpcStatus,
  type handleServerStreamingCall,
  type handleUnaryCall,
  Metadata,
  type MethodDefinition,
  Server,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { loadFileDescriptorSetFromBuffer } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { ApiCatalog, MethodInfo } from '../api-catalog.ts';
import type { DependencyHealth } from '../dependencies.ts';
import { acceptRequestId, type Logger, REQUEST_ID_KEY } from '../logger.ts';
import type { HistogramSeries, Metrics } from '../metrics.ts';
import { startServerSpan } from '../tracing/grpc.ts';
import { ANONYMOUS, type Authenticator, anonymousOnly, authorize, type Caller } from './auth-context.ts';
import { Http2GrpcServer } from './http2-server.ts';
import { toGrpcError } from './status.ts';
import { type GrpcTls, grpcServerCredentials } from './tls.ts';

/** What a handler knows about the call it serves. */
export interface CallContext {
  readonly requestId: string;
  /** A logger bound to this call's request id and method. */
  readonly log: Logger;
  readonly caller: Caller;
  readonly metadata: Metadata;
  readonly method: MethodInfo;
  /** Aborted when the client cancels or the deadline passes. */
  readonly signal: AbortSignal;
}

export type UnaryHandler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;
/**
 * Sends messages with `send` (which waits for flow control) until it
 * resolves. `accept` sends the response headers at once, so that the client
 * sees the call accepted before the first message; until then (or the first
 * `send`) an error still ends the call without headers (trailers only).
 */
export type ServerStreamingHandler<Req, Res> = (
  request: Req,
  ctx: CallContext,
  send: (message: Res | EncodedMessage) => Promise<void>,
  accept: () => void,
) => Promise<void>;

/**
 * A response already in its protobuf bytes, sent as they are: one message
 * going to many streams (a live update to every member of a chat) is
 * encoded once rather than once per stream.
 */
export class EncodedMessage {
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
}

/** The definition with each server-streaming method's serializer passing EncodedMessage bytes through. */
function acceptingEncoded(definition: ServiceDefinition): ServiceDefinition {
  const out: Record<string, ServiceDefinition[string]> = {};
  for (const [key, def] of Object.entries(definition)) {
    const serialize = def.responseSerialize;
    out[key] = def.responseStream
      ? {
          ...def,
          responseSerialize: (value: unknown) =>
            value instanceof EncodedMessage
              ? Buffer.from(value.bytes.buffer, value.bytes.byteOffset, value.bytes.byteLength)
              : serialize(value),
        }
      : def;
  }
  return out;
}

type HandlerOf<M> =
  M extends MethodDefinition<infer Req, infer Res>
    ? M['responseStream'] extends true
      ? ServerStreamingHandler<Req, Res>
      : UnaryHandler<Req, Res>
    : never;

/** The promise-based implementation of a generated grpc-js service definition. */
export type ServiceHandlers<D extends ServiceDefinition> = {
  [K in keyof D]: HandlerOf<D[K]>;
};

export interface ServiceRegistration {
  readonly definition: ServiceDefinition;
  readonly handlers: Record<string, unknown>;
}

/** Pairs a generated definition with its handlers, type-checked against each other. */
export function service<D extends ServiceDefinition>(definition: D, handlers: ServiceHandlers<D>): ServiceRegistration {
  return { definition, handlers: handlers as Record<string, unknown> };
}

export interface GrpcServerOptions {
  /** Names the server in logs and metrics, e.g. `user`. */
  readonly name: string;
  readonly services: readonly ServiceRegistration[];
  /** The contracts: each method's access policy and the reflection data. */
  readonly catalog: ApiCatalog;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly authenticator?: Authenticator;
  /** How long a client connection lives; default CONNECTION_AGE. */
  readonly connectionAge?: ConnectionAge;
  /** Whether the datastore and event bus allow serving; absent, health reflects the process alone. */
  readonly dependencies?: DependencyHealth;
  /** Serves TLS only (with `identity`), requiring client certificates if it says so; absent, plaintext. */
  readonly tls?: GrpcTls | undefined;
  /**
   * What speaks gRPC on the wire: the platform's own HTTP/2 (`http2`, the
   * default) or grpc-js's server on node:http2 (`grpc-js`).
   */
  readonly transport?: GrpcServerTransport;
}

export const GRPC_SERVER_TRANSPORTS = ['http2', 'grpc-js'] as const;
export type GrpcServerTransport = (typeof GRPC_SERVER_TRANSPORTS)[number];

/** Where a service's gRPC server listens, and how it speaks. */
export interface GrpcListen {
  readonly host: string;
  readonly port: number;
  /** Serve TLS only (GRPC_TLS_*); absent, plaintext. */
  readonly tls?: GrpcTls | undefined;
  readonly transport?: GrpcServerTransport | undefined;
}

/** What createGrpcServer needs of a transport; grpc-js's Server, bound through `listen`, has the rest. */
interface TransportServer {
  addService(definition: ServiceDefinition, implementation: UntypedServiceImplementation): void;
  listen(host: string, port: number): Promise<number>;
  tryShutdown(done: () => void): void;
  forceShutdown(): void;
}

function transportServer(opts: GrpcServerOptions, age: ConnectionAge): TransportServer {
  if ((opts.transport ?? 'http2') === 'http2') return new Http2GrpcServer({ connectionAge: age, tls: opts.tls });
  const credentials = grpcServerCredentials(opts.tls);
  const server = new Server({
    'grpc.max_connection_age_ms': age.maxAgeMs,
    'grpc.max_connection_age_grace_ms': age.graceMs,
  });
  return {
    addService: (definition, implementation) => server.addService(definition, implementation),
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server.bindAsync(`${host}:${port}`, credentials, (err, bound) => (err ? reject(err) : resolve(bound)));
      }),
    tryShutdown: (done) => server.tryShutdown(() => done()),
    forceShutdown: () => server.forceShutdown(),
  };
}

/**
 * The health service name that reflects the process alone (SERVING until
 * shutdown, whatever its dependencies do): what a liveness probe asks, so a
 * datastore outage never gets a pod restarted. `""` and each service's own
 * name also turn NOT_SERVING while a dependency is down: readiness.
 */
export const LIVENESS_HEALTH_SERVICE = 'liveness';

/**
 * A client connection is asked to go away (HTTP/2 GOAWAY: no new calls on
 * it) after `maxAgeMs`, which grpc-js varies by ±10 % per connection so that
 * connections made together do not end together; calls already on it may
 * run `graceMs` longer before the connection is closed under them.
 */
export interface ConnectionAge {
  readonly maxAgeMs: number;
  readonly graceMs: number;
}

/**
 * Clients reconnect (and re-resolve DNS) at least every 5 minutes, so new
 * replicas behind a headless Service start receiving calls. The grace is
 * longer than any stream the gateway serves lives (it ends each stream when
 * the caller's access token expires, after at most 15 minutes), so ageing
 * never cuts an update stream; it bounds how long a connection outlives its
 * age.
 */
export const CONNECTION_AGE: ConnectionAge = { maxAgeMs: 5 * 60_000, graceMs: 20 * 60_000 };

export interface GrpcServer {
  /** Binds and starts serving; resolves with the bound port (useful with port 0). */
  listen(host: string, port: number): Promise<number>;
  /**
   * Stops accepting calls, lets in-flight calls finish for up to `graceMs`,
   * then cancels what is left. Health reports NOT_SERVING from the start.
   */
  shutdown(graceMs: number): Promise<void>;
  /** Calls currently being handled. */
  inFlight(): number;
}

export function createGrpcServer(opts: GrpcServerOptions): GrpcServer {
  const server = transportServer(opts, opts.connectionAge ?? CONNECTION_AGE);
  const authenticator = opts.authenticator ?? anonymousOnly;
  const serviceNames = opts.services.map((s) => serviceNameOf(s.definition));
  const readinessNames = ['', ...serviceNames];
  const readiness = () => (opts.dependencies?.serving() === false ? 'NOT_SERVING' : 'SERVING');
  const health = new HealthImplementation({
    ...Object.fromEntries(readinessNames.map((n) => [n, readiness()])),
    [LIVENESS_HEALTH_SERVICE]: 'SERVING',
  });
  health.addToServer(server);
  const stopFollowing = opts.dependencies?.onChange(() => {
    if (shuttingDown) return;
    for (const n of readinessNames) health.setStatus(n, readiness());
  });
  const reflection = new ReflectionService(loadFileDescriptorSetFromBuffer(Buffer.from(opts.catalog.descriptorSet)), {
    services: serviceNames,
  });
  reflection.addToServer(server);

  let inFlight = 0;
  const runner: CallRunner = {
    logger: opts.logger,
    metrics: opts.metrics,
    authenticator,
    serverName: opts.name,
    enter: () => {
      inFlight++;
    },
    leave: () => {
      inFlight--;
    },
  };
  for (const registration of opts.services) {
    server.addService(acceptingEncoded(registration.definition), wrapService(registration, opts.catalog, runner));
  }

  let shuttingDown: Promise<void> | undefined;
  return {
    listen: (host, port) => server.listen(host, port),
    shutdown: (graceMs) => {
      shuttingDown ??= new Promise<void>((resolve) => {
        stopFollowing?.();
        for (const n of [...readinessNames, LIVENESS_HEALTH_SERVICE]) health.setStatus(n, 'NOT_SERVING');
        const force = setTimeout(() => {
          opts.logger.warn({ inFlight }, 'shutdown grace period over; cancelling remaining calls');
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return shuttingDown;
    },
    inFlight: () => inFlight,
  };
}

function serviceNameOf(definition: ServiceDefinition): string {
  const first = Object.values(definition)[0];
  if (!first) throw new Error('a gRPC service definition must have at least one method');
  return first.path.split('/')[1] ?? '';
}

interface CallRunner {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly authenticator: Authenticator;
  readonly serverName: string;
  enter(): void;
  leave(): void;
}

function wrapService(
  registration: ServiceRegistration,
  catalog: ApiCatalog,
  runner: CallRunner,
): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {};
  for (const [key, def] of Object.entries(registration.definition)) {
    const info = catalog.method(def.path);
    // Every method must be described by the contracts, or its policy is unknown.
    if (!info) throw new Error(`${def.path} is not in the API catalog; regenerate gen/ (make gen)`);
    const handler = registration.handlers[key];
    if (typeof handler !== 'function') throw new Error(`no handler for ${def.path}`);
    if (def.requestStream) throw new Error(`${def.path}: client-streaming methods are not supported`);
    const method: ServedMethod = {
      info,
      duration: runner.metrics.grpcServerDuration.series({ service: runner.serverName, method: info.name }),
    };
    impl[key] = def.responseStream
      ? wrapServerStreaming(method, handler as ServerStreamingHandler<unknown, unknown>, runner)
      : wrapUnary(method, handler as UnaryHandler<unknown, unknown>, runner);
  }
  return impl;
}

/** A method this server serves: its contract, and its duration series bound once. */
interface ServedMethod {
  readonly info: MethodInfo;
  readonly duration: HistogramSeries;
}

function wrapUnary(
  method: ServedMethod,
  handler: UnaryHandler<unknown, unknown>,
  runner: CallRunner,
): handleUnaryCall<unknown, unknown> {
  return (call: ServerUnaryCall<unknown, unknown>, callback) => {
    void runCall(method, call, runner, async (ctx) => handler(call.request, ctx)).then((result) =>
      result.ok ? callback(null, result.value, result.trailers) : callback(result.error),
    );
  };
}

function wrapServerStreaming(
  method: ServedMethod,
  handler: ServerStreamingHandler<unknown, unknown>,
  runner: CallRunner,
): handleServerStreamingCall<unknown, unknown> {
  return (call: ServerWritableStream<unknown, unknown>) => {
    const send = (message: unknown) =>
      new Promise<void>((resolve, reject) => {
        if (call.cancelled) {
          reject(new Error('stream cancelled'));
          return;
        }
        // write() returning false means the transport buffer is full: wait for drain.
        if (call.write(message)) resolve();
        else call.once('drain', resolve);
      });
    const accept = () => {
      if (!call.cancelled) call.sendMetadata(new Metadata());
    };
    void runCall(method, call, runner, async (ctx) => handler(call.request, ctx, send, accept)).then((result) => {
      if (call.cancelled) return;
      if (result.ok) call.end(result.trailers);
      else call.emit('error', result.error);
    });
  };
}

type Outcome =
  | { ok: true; value: unknown; trailers: Metadata }
  | {
      ok: false;
      error: { code: GrpcStatus; details: string; metadata: Metadata };
    };

/**
 * The one path every call takes: request id, authentication, the declared
 * access check, the handler, error mapping, logging and metrics.
 */
async function runCall(
  { info, duration }: ServedMethod,
  call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>,
  runner: CallRunner,
  body: (ctx: CallContext) => Promise<unknown>,
): Promise<Outcome> {
  runner.enter();
  const started = process.hrtime.bigint();
  const requestId = acceptRequestId(firstString(call.metadata, REQUEST_ID_KEY));
  const abort = new AbortController();
  const ctx = new ServerCallContext(requestId, runner.logger, call.metadata, info, abort.signal);
  const onCancel = () => abort.abort(new Error('call cancelled by the client'));
  call.once('cancelled', onCancel);
  let code: GrpcStatus = GrpcStatus.OK;
  const span = startServerSpan(info.path, call.metadata);
  try {
    const caller = await runner.authenticator.authenticate(call.metadata);
    authorize(info.access, caller, info.callers);
    ctx.caller = caller;
    const value = await (span === undefined ? body(ctx) : span.run(() => body(ctx)));
    const trailers = new Metadata();
    trailers.set(REQUEST_ID_KEY, requestId);
    return { ok: true, value, trailers };
  } catch (error) {
    const errorId = randomUUID();
    const mapped = toGrpcError(error, errorId);
    code = mapped.code;
    if (code === GrpcStatus.INTERNAL) ctx.log.error({ err: error, errorId }, 'call failed');
    else if (runner.logger.isLevelEnabled('debug')) {
      ctx.log.debug({ code: GrpcStatus[code], reason: mapped.details }, 'call refused');
    }
    mapped.metadata.set(REQUEST_ID_KEY, requestId);
    return { ok: false, error: mapped };
  } finally {
    call.removeListener('cancelled', onCancel);
    span?.end(code);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const codeName = GrpcStatus[code] ?? String(code);
    runner.metrics.grpcServerHandled.inc({
      service: runner.serverName,
      method: info.name,
      code: codeName,
    });
    duration.observe(seconds);
    // Per-call logging costs throughput on the hot path; it is debug-only.
    if (runner.logger.isLevelEnabled('debug')) ctx.log.debug({ code: codeName, ms: seconds * 1000 }, 'call done');
    runner.leave();
  }
}

/**
 * What a handler knows about its call. A class with the getter on its
 * prototype, not an object literal with a getter: V8 gives a literal's
 * getter an accessor pair of its own, allocated in old space, so a literal
 * made per call is an old object pointing at the call's young ones, and
 * they all survive every scavenge until the next full collection (in a
 * service under load, ~10 MB promoted per scavenge and pauses twice as long;
 * docs/PERFORMANCE.md).
 */
class ServerCallContext implements CallContext {
  readonly requestId: string;
  /** Set once the call is authenticated, before the handler sees it. */
  caller: Caller = ANONYMOUS;
  readonly metadata: Metadata;
  readonly method: MethodInfo;
  readonly signal: AbortSignal;
  readonly #logger: Logger;
  #log: Logger | undefined;

  constructor(requestId: string, logger: Logger, metadata: Metadata, method: MethodInfo, signal: AbortSignal) {
    this.requestId = requestId;
    this.#logger = logger;
    this.metadata = metadata;
    this.method = method;
    this.signal = signal;
  }

  /** Built only when something logs: most calls log nothing at the default level, and a child per call costs throughput. */
  get log(): Logger {
    this.#log ??= this.#logger.child({ requestId: this.requestId, method: this.method.path });
    return this.#log;
  }
}

function firstString(metadata: Metadata, key: string): string | undefined {
  const v = metadata.get(key)[0];
  return typeof v === 'string' ? v : undefined;
}
