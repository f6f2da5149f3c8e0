// The services' gRPC server on the platform's own HTTP/2 (../http2): what
// grpc-js's Server does for unary, server-streaming and bidirectional
// methods, without node:http2's per-request streams (which outlive their
// requests until a later scavenge and set the services' GC pauses).
// `addService` takes grpc-js service definitions and implementations, so the
// platform's handlers, the health service and reflection plug in unchanged;
// each call object has the members of grpc-js's call objects they use.
import { EventEmitter } from 'node:events';
import { createServer as createTcpServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import {
  Metadata,
  type MethodDefinition,
  type ServiceDefinition,
  status as Status,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import {
  DEFAULT_MAX_RECEIVE_BYTES,
  frameMessage,
  Http2Connection,
  type Http2Headers,
  type Http2Stream,
  MessageReader,
  type MessageSink,
} from '../http2/index.ts';
import type { GrpcTls } from './tls.ts';

export interface Http2GrpcServerOptions {
  /** A connection is sent GOAWAY after `maxAgeMs` (±10 %), and closed `graceMs` later whatever still runs on it. */
  readonly connectionAge: { readonly maxAgeMs: number; readonly graceMs: number };
  /** Serves TLS only (h2 by ALPN), requiring client certificates if it says so; absent, plaintext (h2c). */
  readonly tls?: GrpcTls | undefined;
  /** A request message larger than this ends its call with RESOURCE_EXHAUSTED (grpc-js's default, 4 MiB). */
  readonly maxReceiveBytes?: number;
}

type Kind = 'unary' | 'serverStream' | 'bidi';

/** A method this server serves: its definition, kind and implementation. */
interface Registered {
  readonly definition: MethodDefinition<unknown, unknown>;
  readonly kind: Kind;
  readonly implementation: (...args: never[]) => void;
}

/** Headers the transport reads itself; they are not the call's metadata (as grpc-js removes them). */
const TRANSPORT_HEADERS = [
  'grpc-timeout',
  'grpc-encoding',
  'grpc-accept-encoding',
  'accept-encoding',
  'te',
  'content-type',
];
const TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

export class Http2GrpcServer {
  readonly #methods = new Map<string, Registered>();
  readonly #connections = new Set<Http2Connection>();
  readonly #options: Http2GrpcServerOptions;
  readonly #maxReceiveBytes: number;
  #listener: NetServer | undefined;
  #shutdownDone: (() => void) | undefined;

  constructor(options: Http2GrpcServerOptions) {
    this.#options = options;
    this.#maxReceiveBytes = options.maxReceiveBytes ?? DEFAULT_MAX_RECEIVE_BYTES;
  }

  /** As grpc-js's `Server.addService`: each method's implementation by its name, or its proto name. */
  addService(definition: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    for (const [name, method] of Object.entries(definition)) {
      const def = method as MethodDefinition<unknown, unknown>;
      const fn =
        implementation[name] ?? (typeof def.originalName === 'string' ? implementation[def.originalName] : undefined);
      if (typeof fn !== 'function') continue; // answered UNIMPLEMENTED, as an unknown method
      if (def.requestStream && !def.responseStream)
        throw new Error(`${def.path}: client-streaming methods are not supported`);
      const kind: Kind = def.requestStream ? 'bidi' : def.responseStream ? 'serverStream' : 'unary';
      this.#methods.set(def.path, { definition: def, kind, implementation: fn as Registered['implementation'] });
    }
  }

  /** Binds and starts serving; resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    const tls = this.#options.tls;
    let listener: NetServer;
    if (tls === undefined) {
      listener = createTcpServer((socket) => this.#accept(socket, false));
    } else {
      if (!tls.identity) throw new Error('a gRPC server with TLS needs a certificate and key');
      listener = createTlsServer(
        {
          key: tls.identity.key,
          cert: tls.identity.cert,
          ca: tls.ca,
          requestCert: tls.requireClientCert,
          rejectUnauthorized: tls.requireClientCert,
          ALPNProtocols: ['h2'],
        },
        (socket) => this.#accept(socket, true),
      );
    }
    this.#listener = listener;
    return new Promise((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(port, host, () => {
        listener.off('error', reject);
        const address = listener.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  }

  /**
   * Stops accepting connections and sends every connection GOAWAY: calls
   * already on it finish, new ones are refused (their clients retry
   * elsewhere). `done` runs once the last connection has closed.
   */
  tryShutdown(done: () => void): void {
    this.#listener?.close();
    this.#shutdownDone = done;
    for (const connection of this.#connections) connection.close();
    this.#maybeShutDown();
  }

  /** Ends every connection now; the calls still running are cancelled. */
  forceShutdown(): void {
    this.#listener?.close();
    for (const connection of this.#connections) connection.destroy();
  }

  #maybeShutDown(): void {
    if (this.#shutdownDone === undefined || this.#connections.size > 0) return;
    const done = this.#shutdownDone;
    this.#shutdownDone = undefined;
    done();
  }

  #accept(socket: Socket, tls: boolean): void {
    socket.setNoDelay(true);
    const connection = new Http2Connection(socket, {
      tls,
      onStream: (stream, headers) => this.#serve(stream, headers),
    });
    this.#connections.add(connection);
    // A connection's errors end it, and its calls hear that they are cancelled; nothing else to do.
    connection.on('error', () => {});
    const { maxAgeMs, graceMs } = this.#options.connectionAge;
    let grace: NodeJS.Timeout | undefined;
    const age = setTimeout(
      () => {
        connection.close();
        grace = setTimeout(() => connection.destroy(), graceMs).unref();
      },
      maxAgeMs * (0.9 + Math.random() * 0.2),
    ).unref();
    connection.once('close', () => {
      clearTimeout(age);
      clearTimeout(grace);
      this.#connections.delete(connection);
      this.#maybeShutDown();
    });
    if (this.#shutdownDone !== undefined) connection.close();
  }

  #serve(stream: Http2Stream, headers: Http2Headers): void {
    const contentType = headers['content-type'];
    if (typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
      stream.respond([':status', '415'], true);
      return;
    }
    if (headers[':method'] !== 'POST') {
      stream.respond([':status', '405'], true);
      return;
    }
    const path = headers[':path'];
    const method = typeof path === 'string' ? this.#methods.get(path) : undefined;
    if (method === undefined) {
      stream.respond(trailersOnly(Status.UNIMPLEMENTED, `The server does not implement the method ${path}`), true);
      return;
    }
    const encoding = headers['grpc-encoding'];
    if (encoding !== undefined && encoding !== 'identity') {
      stream.respond(trailersOnly(Status.UNIMPLEMENTED, `Message encoding ${encoding} is not supported`), true);
      return;
    }
    const call = new ServerCall(stream, method, headers, this.#maxReceiveBytes);
    stream.handler = call;
    call.start();
  }
}

/**
 * One call, as grpc-js's call objects show it to an implementation:
 * `request` (unary, server streaming), `metadata`, `cancelled` and the
 * 'cancelled' event; `sendMetadata`, `write` (false: wait for 'drain'),
 * `end`; 'data' and 'end' events of a bidirectional call's requests; and
 * an 'error' emitted on it ends the call with that error's status.
 */
class ServerCall extends EventEmitter implements MessageSink {
  request: unknown;
  readonly metadata: Metadata;
  cancelled = false;
  readonly #stream: Http2Stream;
  readonly #method: Registered;
  readonly #reader: MessageReader;
  #received = 0;
  #requestMessage: Buffer | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #headersSent = false;
  #statusSent = false;
  /** The timeout could not be read: the call ends with INTERNAL (as grpc-js ends it) instead of running. */
  #badTimeout = false;

  constructor(stream: Http2Stream, method: Registered, headers: Http2Headers, maxReceiveBytes: number) {
    super();
    this.#stream = stream;
    this.#method = method;
    this.#reader = new MessageReader(maxReceiveBytes);
    const metadata = Metadata.fromHttp2Headers(headers);
    for (const name of TRANSPORT_HEADERS) metadata.remove(name);
    this.metadata = metadata;
    const timeout = headers['grpc-timeout'];
    if (typeof timeout === 'string') {
      const m = TIMEOUT.exec(timeout);
      if (m === null) this.#badTimeout = true;
      else {
        const ms = Number(m[1]) * (UNIT_MS[m[2] as string] as number);
        this.#deadline = setTimeout(() => this.#deadlineExceeded(), Math.min(ms, 2 ** 31 - 1));
      }
    }
    this.on('error', (error: unknown) => this.#fail(error));
  }

  start(): void {
    if (this.#badTimeout) {
      this.#sendStatus(Status.INTERNAL, 'Invalid grpc-timeout value', undefined);
      return;
    }
    if (this.#method.kind === 'bidi') this.#invoke();
  }

  // --- StreamHandler: the request as it arrives ---

  data(chunk: Buffer): void {
    if (this.#statusSent) return;
    const error = this.#reader.push(chunk, this);
    if (error === 'too-large') {
      this.#sendStatus(Status.RESOURCE_EXHAUSTED, 'Received a message larger than the maximum', undefined);
    } else if (error !== undefined) {
      this.#sendStatus(
        Status.INTERNAL,
        'Received a message the call cannot read (compressed or with an unknown flag)',
        undefined,
      );
    }
  }

  onMessage(message: Buffer): void {
    this.#received++;
    if (this.#method.kind === 'bidi') {
      const request = this.#decode(message);
      if (request !== undefined) this.emit('data', request);
      return;
    }
    if (this.#received > 1) {
      this.#sendStatus(
        Status.UNIMPLEMENTED,
        `Received a second request message for a ${this.#method.kind} method`,
        undefined,
      );
      return;
    }
    // A view of the connection's read buffer, decoded when the request ends (usually in the same read).
    this.#requestMessage = message;
  }

  /** The request is complete. */
  ended(): void {
    if (this.#statusSent) return;
    if (this.#reader.partial) {
      this.#sendStatus(Status.INTERNAL, 'The request ended in the middle of a message', undefined);
      return;
    }
    if (this.#method.kind === 'bidi') {
      this.emit('end');
      return;
    }
    if (this.#requestMessage === undefined) {
      this.#sendStatus(
        Status.UNIMPLEMENTED,
        `Received no request message for a ${this.#method.kind} method`,
        undefined,
      );
      return;
    }
    const request = this.#decode(this.#requestMessage);
    this.#requestMessage = undefined;
    if (request === undefined) return;
    this.request = request;
    this.#invoke();
  }

  drain(): void {
    this.emit('drain');
  }

  closed(): void {
    clearTimeout(this.#deadline);
    // Closed before its status went out: the client reset it, or the connection is gone.
    if (this.#statusSent) return;
    this.#statusSent = true;
    if (!this.cancelled) {
      this.cancelled = true;
      this.emit('cancelled', 'cancelled');
    }
  }

  // --- what an implementation calls ---

  sendMetadata(metadata: Metadata): void {
    if (this.#headersSent || this.#statusSent) return;
    this.#headersSent = true;
    // Most calls send no metadata of their own: the fixed headers as they are.
    this.#stream.respond(
      metadata === EMPTY_METADATA ? RESPONSE_HEADERS : [...RESPONSE_HEADERS, ...metadataPairs(metadata)],
    );
  }

  write(message: unknown): boolean {
    if (this.#statusSent) return true;
    let bytes: Buffer;
    try {
      bytes = this.#method.definition.responseSerialize(message);
    } catch (error) {
      this.#sendStatus(Status.INTERNAL, `Failed to serialize the response: ${(error as Error).message}`, undefined);
      return true;
    }
    if (!this.#headersSent) this.sendMetadata(EMPTY_METADATA);
    return this.#stream.write(frameMessage(bytes));
  }

  /** Ends the call with OK and `trailers`. */
  end(trailers?: Metadata): void {
    this.#sendStatus(Status.OK, 'OK', trailers);
  }

  getPath(): string {
    return this.#method.definition.path;
  }

  // --- running the call ---

  #invoke(): void {
    const fn = this.#method.implementation as (call: ServerCall, callback?: UnaryCallback) => void;
    try {
      if (this.#method.kind === 'unary') fn(this, (error, value, trailers) => this.#unaryDone(error, value, trailers));
      else fn(this);
    } catch (error) {
      this.#fail(error);
    }
  }

  #unaryDone(error: unknown, value: unknown, trailers: Metadata | undefined): void {
    if (this.#statusSent) return;
    if (error !== null && error !== undefined) {
      this.#fail(error);
      return;
    }
    let bytes: Buffer;
    try {
      bytes = this.#method.definition.responseSerialize(value);
    } catch (e) {
      this.#sendStatus(Status.INTERNAL, `Failed to serialize the response: ${(e as Error).message}`, undefined);
      return;
    }
    if (!this.#headersSent) this.sendMetadata(EMPTY_METADATA);
    this.#stream.write(frameMessage(bytes));
    this.#sendStatus(Status.OK, 'OK', trailers);
  }

  #decode(message: Buffer): unknown {
    try {
      return this.#method.definition.requestDeserialize(message);
    } catch (error) {
      this.#sendStatus(Status.INTERNAL, `Error deserializing the request: ${(error as Error).message}`, undefined);
      return undefined;
    }
  }

  /** An implementation's error as grpc-js reads it: its `code`, `details` (or message) and `metadata`. */
  #fail(error: unknown): void {
    const e = (error ?? {}) as { code?: unknown; details?: unknown; message?: unknown; metadata?: unknown };
    const code =
      typeof e.code === 'number' && Number.isInteger(e.code) && e.code >= 0 && e.code <= 16 ? e.code : Status.UNKNOWN;
    const details =
      typeof e.details === 'string' ? e.details : typeof e.message === 'string' ? e.message : 'Unknown error';
    this.#sendStatus(code, details, e.metadata instanceof Metadata ? e.metadata : undefined);
  }

  #deadlineExceeded(): void {
    this.#sendStatus(Status.DEADLINE_EXCEEDED, 'Deadline exceeded', undefined);
    if (!this.cancelled) {
      this.cancelled = true;
      this.emit('cancelled', 'deadline');
    }
  }

  #sendStatus(code: Status, details: string, trailers: Metadata | undefined): void {
    if (this.#statusSent) return;
    this.#statusSent = true;
    clearTimeout(this.#deadline);
    const status = statusPairs(code, details);
    if (trailers !== undefined) status.push(...metadataPairs(trailers));
    if (this.#headersSent) this.#stream.end(status);
    else this.#stream.respond([...TRAILERS_ONLY_HEAD, ...status], true);
  }
}

type UnaryCallback = (error: unknown, value?: unknown, trailers?: Metadata) => void;

const EMPTY_METADATA = new Metadata();

/** What every response starts with; a trailers-only one carries its status in the same block. */
const TRAILERS_ONLY_HEAD: readonly string[] = [':status', '200', 'content-type', 'application/grpc+proto'];
const RESPONSE_HEADERS: readonly string[] = [...TRAILERS_ONLY_HEAD, 'grpc-accept-encoding', 'identity'];

function statusPairs(code: Status, details: string): string[] {
  return ['grpc-status', String(code), 'grpc-message', percentEncode(details)];
}

function trailersOnly(code: Status, details: string): string[] {
  return [...TRAILERS_ONLY_HEAD, ...statusPairs(code, details)];
}

/** Metadata as header pairs: `-bin` values base64, as grpc-js sends them. */
function metadataPairs(metadata: Metadata): string[] {
  const pairs: string[] = [];
  const headers = metadata.toHttp2Headers();
  for (const name in headers) {
    const value = headers[name];
    if (Array.isArray(value)) for (const v of value) pairs.push(name, String(v));
    else if (value !== undefined) pairs.push(name, String(value));
  }
  return pairs;
}

/** `grpc-message`: bytes outside printable ASCII, and `%`, percent-encoded (UTF-8). */
function percentEncode(text: string): string {
  if (/^[ -$&-~]*$/.test(text)) return text;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
