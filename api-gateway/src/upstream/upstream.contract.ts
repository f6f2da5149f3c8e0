// The behaviour every Upstream transport must show, run by grpc-upstream.spec.ts
// and http2-upstream.spec.ts against real servers on loopback port 0: a
// grpc-js server with hand-registered byte-level handlers, and a raw
// node:http2 server answering what no gRPC server would (garbage).
import { once } from 'node:events';
import { createServer as createHttp2Server, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { create, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema, MethodOptions_IdempotencyLevel } from '@bufbuild/protobuf/wkt';
import {
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServerWritableStream,
  status as Status,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { type ApiCatalog, createApiCatalog } from '@messenger/platform/api-catalog';
import { createMetrics, type Metrics } from '@messenger/platform/metrics';
import type { GrpcUpstreamOptions } from './grpc-upstream.ts';
import type { UnaryResponse, Upstream, UpstreamCall } from './upstream.ts';

/** Where a transport may differ from the others, each difference documented by the spec that declares it. */
export interface UpstreamContractOptions {
  /** What happens to a `-bin` request metadata entry (its value base64): sent as bytes, or dropped. */
  readonly binaryRequestMetadata: 'sent' | 'dropped';
}

export type UpstreamFactory = (opts: GrpcUpstreamOptions) => Upstream;

const SERVICE = 'test.v1.Upstream';
const SICK = 'test.v1.Sick';
const GARBAGE = 'test.v1.Garbage';
const { IDEMPOTENT, NO_SIDE_EFFECTS, IDEMPOTENCY_UNKNOWN } = MethodOptions_IdempotencyLevel;
const METHODS: Record<string, Record<string, MethodOptions_IdempotencyLevel>> = {
  [SERVICE]: {
    Echo: IDEMPOTENT,
    BinEcho: NO_SIDE_EFFECTS,
    Fail: IDEMPOTENCY_UNKNOWN,
    FailTrailersOnly: IDEMPOTENCY_UNKNOWN,
    Slow: IDEMPOTENT,
    Big: IDEMPOTENT,
    Unavailable: IDEMPOTENT,
    UnavailableWrite: IDEMPOTENCY_UNKNOWN,
    UnavailableOnce: IDEMPOTENT,
    UnavailableAfterHeaders: IDEMPOTENT,
    Count: IDEMPOTENCY_UNKNOWN,
  },
  [SICK]: {},
  [GARBAGE]: {
    Compressed: IDEMPOTENT,
    Truncated: IDEMPOTENT,
    Oversized: IDEMPOTENT,
    NoTrailers: IDEMPOTENT,
    NoStatus: IDEMPOTENT,
    Html404: IDEMPOTENT,
    Html503: IDEMPOTENCY_UNKNOWN,
    Html200: IDEMPOTENT,
    Reset: IDEMPOTENT,
    Percent: IDEMPOTENT,
    BadPercent: IDEMPOTENT,
    Drop: IDEMPOTENT,
    DropWrite: IDEMPOTENCY_UNKNOWN,
  },
};

/** A real catalog (createApiCatalog) over a descriptor set built here: which test methods are idempotent. */
export function testCatalog(): ApiCatalog {
  const bytes = { name: 'Bytes', field: [{ name: 'b', number: 1, type: 12, label: 1, jsonName: 'b' }] };
  const set = create(FileDescriptorSetSchema, {
    file: [
      {
        name: 'test/v1/upstream.proto',
        package: 'test.v1',
        syntax: 'proto3',
        messageType: [bytes],
        service: Object.entries(METHODS).map(([full, methods]) => ({
          name: full.slice('test.v1.'.length),
          method: Object.entries(methods).map(([name, level]) => ({
            name,
            inputType: '.test.v1.Bytes',
            outputType: '.test.v1.Bytes',
            options: { idempotencyLevel: level },
          })),
        })),
      },
    ],
  });
  return createApiCatalog(toBinary(FileDescriptorSetSchema, set));
}

const identity = (b: Buffer): Buffer => b;
type Unary = (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => void;

export interface GrpcTestServer {
  readonly port: number;
  /** Calls received, by method name. */
  readonly calls: Map<string, number>;
  /** The last `Slow` call: its deadline as the server saw it, and whether it was cancelled. */
  readonly slow: { deadline: number; cancelled: boolean; started: boolean };
  /** The last `StreamForever` call: whether the server saw it cancelled. */
  readonly stream: { cancelled: boolean };
  stop(): Promise<void>;
}

/** A grpc-js server of test.v1.Upstream (and the health service) on 127.0.0.1. */
export async function startGrpcServer(port = 0): Promise<GrpcTestServer> {
  const server = new Server();
  const calls = new Map<string, number>();
  const slow = { deadline: 0, cancelled: false, started: false };
  const streamState = { cancelled: false };
  const count = (name: string) => {
    const n = (calls.get(name) ?? 0) + 1;
    calls.set(name, n);
    return n;
  };
  const fail = (code: Status, details: string, detailsBin?: Buffer) => {
    const metadata = new Metadata();
    if (detailsBin) metadata.set('grpc-status-details-bin', detailsBin);
    return { code, details, metadata };
  };
  const unary: Record<string, Unary> = {
    Echo: (call, cb) => {
      const md = new Metadata();
      md.set('x-trace', 'abc');
      md.add('x-multi', 'a');
      md.add('x-multi', 'b');
      md.set('trace-bin', Buffer.from([1, 2, 3]));
      const tenant = call.metadata.get('tenant')[0];
      if (typeof tenant === 'string') md.set('x-tenant', tenant);
      call.sendMetadata(md);
      cb(null, call.request);
    },
    BinEcho: (call, cb) => {
      const value = call.metadata.get('trace-bin')[0];
      cb(null, Buffer.isBuffer(value) ? value : Buffer.alloc(0));
    },
    Fail: (call, cb) => {
      const md = new Metadata();
      md.set('x-trace', 'abc');
      call.sendMetadata(md);
      cb(fail(Status.NOT_FOUND, 'café: 100% sure', Buffer.from([8, 5, 0xff])));
    },
    FailTrailersOnly: (_call, cb) => cb(fail(Status.PERMISSION_DENIED, 'nope', Buffer.from([8, 7]))),
    Slow: (call) => {
      slow.started = true;
      slow.cancelled = false;
      const d = call.getDeadline();
      slow.deadline = d instanceof Date ? d.getTime() : Number(d);
      call.on('cancelled', () => {
        slow.cancelled = true;
      });
    },
    Big: (call, cb) => cb(null, Buffer.alloc(call.request.readUInt32BE(0), 0x61)),
    Unavailable: (_call, cb) => cb(fail(Status.UNAVAILABLE, 'try again')),
    UnavailableWrite: (_call, cb) => cb(fail(Status.UNAVAILABLE, 'try again')),
    UnavailableOnce: (_call, cb) =>
      calls.get('UnavailableOnce') === 1 ? cb(fail(Status.UNAVAILABLE, 'try again')) : cb(null, Buffer.from('ok')),
    UnavailableAfterHeaders: (call, cb) => {
      call.sendMetadata(new Metadata());
      cb(fail(Status.UNAVAILABLE, 'try again'));
    },
    Count: (_call, cb) => cb(null, Buffer.from(String(calls.get('Count')))),
  };
  for (const [name, handler] of Object.entries(unary)) {
    const counted: Unary = (call, cb) => {
      count(name);
      handler(call, cb);
    };
    server.register(`/${SERVICE}/${name}`, counted, identity, identity, 'unary');
  }
  server.register(
    `/${SERVICE}/Stream`,
    (call: ServerWritableStream<Buffer, Buffer>) => {
      for (let i = 0; i < 3; i++) call.write(Buffer.from([i]));
      if (call.request.length > 0) call.emit('error', fail(Status.ABORTED, 'stopped'));
      else call.end();
    },
    identity,
    identity,
    'serverStream',
  );
  const streams: Record<string, (call: ServerWritableStream<Buffer, Buffer>) => void> = {
    // Response headers first, then one message a little later.
    StreamHeaders: (call) => {
      const md = new Metadata();
      md.set('x-greeting', 'hi');
      call.sendMetadata(md);
      setTimeout(() => {
        call.write(Buffer.from([7]));
        call.end();
      }, 50);
    },
    // Refused at once: the status is the only HEADERS frame.
    StreamRefused: (call) => call.emit('error', fail(Status.PERMISSION_DENIED, 'nope', Buffer.from([8, 7]))),
    // A message every 20 ms until the client goes away.
    StreamForever: (call) => {
      streamState.cancelled = false;
      let n = 0;
      const timer = setInterval(() => call.write(Buffer.from([n++ % 256])), 20);
      call.on('cancelled', () => {
        streamState.cancelled = true;
        clearInterval(timer);
      });
    },
    // Ten messages at once, the stream kept open a while.
    StreamBurst: (call) => {
      for (let i = 0; i < 10; i++) call.write(Buffer.from([i]));
      setTimeout(() => call.end(), 300);
    },
  };
  for (const [name, handler] of Object.entries(streams)) {
    server.register(`/${SERVICE}/${name}`, handler, identity, identity, 'serverStream');
  }
  const health: Unary = (call, cb) => {
    const name = call.request.subarray(2).toString();
    cb(null, Buffer.from([0x08, name === SERVICE ? 1 : 2]));
  };
  server.register('/grpc.health.v1.Health/Check', health, identity, identity, 'unary');
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    port: bound,
    calls,
    slow,
    stream: streamState,
    stop: async () => {
      server.forceShutdown();
    },
  };
}

/** Answers test.v1.Garbage/* with what a broken or foreign peer might send. */
function garbageHandler(calls: Map<string, number>) {
  return (stream: ServerHttp2Stream, headers: Record<string, unknown>) => {
    const name = String(headers[':path']).split('/').pop() ?? '';
    calls.set(name, (calls.get(name) ?? 0) + 1);
    stream.on('error', () => {});
    const grpc = { ':status': 200, 'content-type': 'application/grpc' };
    const frame = (flag: number, length: number, body: Buffer) => {
      const head = Buffer.alloc(5);
      head[0] = flag;
      head.writeUInt32BE(length, 1);
      return Buffer.concat([head, body]);
    };
    const withTrailers = (body: Buffer, trailers: Record<string, string>) => {
      stream.respond(grpc, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers(trailers));
      stream.end(body);
    };
    switch (name) {
      case 'Compressed':
        return withTrailers(frame(1, 2, Buffer.from('hi')), { 'grpc-status': '0' });
      case 'Truncated':
        return withTrailers(frame(0, 100, Buffer.from('abc')), { 'grpc-status': '0' });
      case 'Oversized':
        // Announces 2 GiB and keeps the stream open: the client must stop at the header.
        stream.respond(grpc);
        stream.write(frame(0, 0x7fffffff, Buffer.alloc(1000)));
        return;
      case 'NoTrailers':
        stream.respond(grpc);
        return stream.end(frame(0, 2, Buffer.from('hi')));
      case 'NoStatus':
        return withTrailers(frame(0, 2, Buffer.from('hi')), { 'x-other': '1' });
      case 'Html404':
        stream.respond({ ':status': 404, 'content-type': 'text/html' });
        return stream.end('<html><body>Not Found</body></html>');
      case 'Html503':
        stream.respond({ ':status': 503, 'content-type': 'text/plain' });
        return stream.end('upstream connect error');
      case 'Html200':
        stream.respond({ ':status': 200, 'content-type': 'text/html' });
        return stream.end('<html><body>Welcome</body></html>');
      case 'Reset':
        return stream.close(2 /* INTERNAL_ERROR */);
      case 'Percent':
        stream.respond(
          { ...grpc, 'grpc-status': '3', 'grpc-message': 'caf%C3%A9%20%E2%9C%93%20100%25' },
          { endStream: true },
        );
        return;
      case 'BadPercent':
        stream.respond({ ...grpc, 'grpc-status': '3', 'grpc-message': 'bad %E2%zz' }, { endStream: true });
        return;
      case 'Drop':
      case 'DropWrite':
        // The request arrived, then the connection dies: possibly processed.
        stream.on('data', () => {});
        stream.on('end', () => stream.session?.destroy());
        return;
      default:
        stream.respond({ ':status': 404 }, { endStream: true });
    }
  };
}

interface Listening {
  port: number;
  close(): Promise<void>;
}

async function listen(server: Http2Server | TcpServer): Promise<Listening> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const deadlineIn = (ms: number) => Date.now() + ms;

async function waitUntil(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function runUpstreamContract(name: string, factory: UpstreamFactory, options: UpstreamContractOptions): void {
  describe(`Upstream contract: ${name}`, () => {
    let grpc: GrpcTestServer;
    let garbage: Listening;
    let garbageSessions: Set<{ destroy(): void }>;
    let garbageCalls: Map<string, number>;
    let tcpJunk: Listening;
    let upstream: Upstream;
    let metrics: Metrics;
    const catalog = testCatalog();

    beforeAll(async () => {
      grpc = await startGrpcServer();
      garbageCalls = new Map();
      garbageSessions = new Set();
      const h2 = createHttp2Server();
      h2.on('stream', garbageHandler(garbageCalls));
      h2.on('session', (s) => {
        garbageSessions.add(s);
        s.on('close', () => garbageSessions.delete(s));
        s.on('error', () => {});
      });
      garbage = await listen(h2);
      // Not HTTP/2 at all: an HTTP/1.1 error, then the connection closes.
      tcpJunk = await listen(
        createTcpServer((socket) => {
          socket.on('error', () => {});
          socket.resume();
          socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
        }),
      );
    });
    afterAll(async () => {
      await grpc.stop();
      for (const s of garbageSessions) s.destroy();
      await garbage.close();
      await tcpJunk.close();
    });
    beforeEach(() => {
      metrics = createMetrics({ defaultMetrics: false });
      upstream = factory({
        addresses: {
          [SERVICE]: `127.0.0.1:${grpc.port}`,
          [SICK]: `127.0.0.1:${grpc.port}`,
          [GARBAGE]: `127.0.0.1:${garbage.port}`,
          'test.v1.Junk': `127.0.0.1:${tcpJunk.port}`,
        },
        catalog,
        metrics,
      });
    });
    afterEach(() => {
      upstream.close();
    });

    const call = (method: string, over: Partial<UpstreamCall> = {}): Promise<UnaryResponse> => {
      const service = over.service ?? SERVICE;
      return upstream.unary({
        service,
        path: `/${service}/${method}`,
        request: Buffer.from('hello'),
        metadata: {},
        deadline: deadlineIn(5000),
        ...over,
      }).result;
    };
    const garbageCall = (method: string) => call(method, { service: GARBAGE });
    const countOf = async (method: string, code: string): Promise<number> => {
      const { values } = await metrics.grpcClientDuration.get();
      const row = values.find(
        (v) =>
          v.metricName === 'grpc_client_handling_seconds_count' && v.labels.method === method && v.labels.code === code,
      );
      return row?.value ?? 0;
    };

    it('returns the response and the service’s ASCII response headers as grpc-js’s Metadata.getMap() shows them', async () => {
      const res = await call('Echo', { metadata: { tenant: 'acme' } });
      expect(res.status).toEqual({ code: 0, message: '', details: undefined });
      expect(Buffer.from(res.body ?? []).toString()).toBe('hello');
      expect(Object.fromEntries(res.headers)).toEqual({
        'content-type': 'application/grpc+proto',
        date: expect.any(String),
        'x-trace': 'abc',
        'x-multi': 'a, b',
        'x-tenant': 'acme',
      });
      expect(res.headers.length).toBe(5);
      expect(await countOf('Echo', 'OK')).toBe(1);
    });

    it('returns the status, percent-decoded message, details and headers of a failed call', async () => {
      const res = await call('Fail');
      expect(res.status.code).toBe(Status.NOT_FOUND);
      expect(res.status.message).toBe('café: 100% sure');
      expect(Buffer.from(res.status.details ?? [])).toEqual(Buffer.from([8, 5, 0xff]));
      expect(res.body).toBeUndefined();
      expect(Object.fromEntries(res.headers)).toMatchObject({ 'x-trace': 'abc' });
      expect(await countOf('Fail', 'NOT_FOUND')).toBe(1);
    });

    it('reads a trailers-only response (the status in the only HEADERS frame)', async () => {
      const res = await call('FailTrailersOnly');
      expect(res.status).toEqual({ code: Status.PERMISSION_DENIED, message: 'nope', details: Buffer.from([8, 7]) });
      expect(res.headers).toEqual([]);
    });

    it('percent-decodes grpc-message as UTF-8, and keeps a malformed one as received', async () => {
      expect((await garbageCall('Percent')).status).toMatchObject({ code: 3, message: 'café ✓ 100%' });
      expect((await garbageCall('BadPercent')).status).toMatchObject({ code: 3, message: 'bad %E2%zz' });
    });

    it('sends the deadline as grpc-timeout and ends with DEADLINE_EXCEEDED when it passes', async () => {
      const deadline = deadlineIn(300);
      const started = Date.now();
      const res = await call('Slow', { deadline });
      expect(res.status.code).toBe(Status.DEADLINE_EXCEEDED);
      expect(Date.now() - started).toBeLessThan(2000);
      // The server knew the deadline (grpc-timeout), give or take the timer granularity.
      expect(Math.abs(grpc.slow.deadline - deadline)).toBeLessThan(250);
      expect(await countOf('Slow', 'DEADLINE_EXCEEDED')).toBe(1);
    });

    it('cancels: CANCELLED at once, and the server sees the stream reset', async () => {
      grpc.slow.started = false;
      const pending = upstream.unary({
        service: SERVICE,
        path: `/${SERVICE}/Slow`,
        request: Buffer.alloc(0),
        metadata: {},
        deadline: deadlineIn(10_000),
      });
      await waitFor(() => grpc.slow.started);
      pending.cancel();
      pending.cancel();
      const res = await pending.result;
      expect(res.status.code).toBe(Status.CANCELLED);
      await waitFor(() => grpc.slow.cancelled);
    });

    it(`${options.binaryRequestMetadata === 'sent' ? 'sends' : 'drops'} -bin request metadata, and never shows binary response headers`, async () => {
      const res = await call('BinEcho', { metadata: { 'trace-bin': Buffer.from([0, 1, 0xff]).toString('base64') } });
      expect(res.status.code).toBe(0);
      const expected = options.binaryRequestMetadata === 'sent' ? [0, 1, 0xff] : [];
      expect([...(res.body ?? [])]).toEqual(expected);
      const echo = await call('Echo');
      expect(echo.headers.some(([k]) => k.endsWith('-bin'))).toBe(false);
    });

    it('drops request metadata that is not legal gRPC metadata instead of failing the call', async () => {
      const res = await call('Echo', { metadata: { 'Bad Key': 'x', tenant: 'caf\u00e9' } });
      expect(res.status.code).toBe(0);
      expect(Object.fromEntries(res.headers)['x-tenant']).toBeUndefined();
    });

    it('reads a response split over many DATA frames up to the 4 MiB limit, and refuses one byte more', async () => {
      const size = (n: number) => {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(n);
        return b;
      };
      const max = 4 * 1024 * 1024;
      // A generous deadline: this is about sizes, and 4 MiB through grpc-js on a busy machine took over 5 s.
      const deadline = deadlineIn(25_000);
      const ok = await call('Big', { request: size(max), deadline });
      expect(ok.status.code).toBe(0);
      expect(ok.body?.length).toBe(max);
      expect(ok.body?.every((b) => b === 0x61)).toBe(true);
      const tooBig = await call('Big', { request: size(max + 1), deadline });
      expect(tooBig.status.code).toBe(Status.RESOURCE_EXHAUSTED);
      expect(tooBig.body).toBeUndefined();
    });

    it('retries an idempotent method on UNAVAILABLE up to maxAttempts, observing the call once', async () => {
      grpc.calls.delete('Unavailable');
      const res = await call('Unavailable');
      expect(res.status.code).toBe(Status.UNAVAILABLE);
      expect(grpc.calls.get('Unavailable')).toBe(3);
      expect(await countOf('Unavailable', 'UNAVAILABLE')).toBe(1);

      grpc.calls.delete('UnavailableOnce');
      const second = await call('UnavailableOnce');
      expect(second.status.code).toBe(0);
      expect(grpc.calls.get('UnavailableOnce')).toBe(2);
    });

    it('never retries a non-idempotent method, nor one whose response headers had arrived', async () => {
      grpc.calls.delete('UnavailableWrite');
      expect((await call('UnavailableWrite')).status.code).toBe(Status.UNAVAILABLE);
      expect(grpc.calls.get('UnavailableWrite')).toBe(1);
      grpc.calls.delete('UnavailableAfterHeaders');
      expect((await call('UnavailableAfterHeaders')).status.code).toBe(Status.UNAVAILABLE);
      expect(grpc.calls.get('UnavailableAfterHeaders')).toBe(1);
    });

    it('retries a call the connection died under (possibly processed) only when idempotent', async () => {
      garbageCalls.clear();
      const started = Date.now();
      expect((await garbageCall('Drop')).status.code).toBe(Status.UNAVAILABLE);
      expect(garbageCalls.get('Drop')).toBe(3);
      expect((await garbageCall('DropWrite')).status.code).toBe(Status.UNAVAILABLE);
      expect(garbageCalls.get('DropWrite')).toBe(1);
      expect(Date.now() - started).toBeLessThan(4000);
    });

    it('serves many concurrent calls over one upstream', async () => {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => call('Echo', { request: Buffer.from(`m${i}`) })),
      );
      results.forEach((r, i) => {
        expect(r.status.code).toBe(0);
        expect(Buffer.from(r.body ?? []).toString()).toBe(`m${i}`);
      });
    });

    it('reports health: SERVING → true, NOT_SERVING, unreachable or unknown → false', async () => {
      await expect(upstream.health(SERVICE, 2000)).resolves.toBe(true);
      await expect(upstream.health(SICK, 2000)).resolves.toBe(false);
      await expect(upstream.health('test.v1.Junk', 2000)).resolves.toBe(false);
      await expect(upstream.health('test.v1.Unknown', 2000)).resolves.toBe(false);
    });

    it('streams server messages and the final status', async () => {
      const run = (request: Buffer) =>
        new Promise<{ messages: number[]; code: number }>((resolve) => {
          const messages: number[] = [];
          upstream.serverStream(
            { service: SERVICE, path: `/${SERVICE}/Stream`, request, metadata: {}, deadline: deadlineIn(5000) },
            {
              onMessage: (m) => messages.push(m[0] ?? -1),
              onEnd: (s) => resolve({ messages, code: s.code }),
            },
          );
        });
      await expect(run(Buffer.alloc(0))).resolves.toEqual({ messages: [0, 1, 2], code: 0 });
      await expect(run(Buffer.from([1]))).resolves.toMatchObject({ code: Status.ABORTED });
    });

    /** Opens a stream of test.v1.Upstream/`method`, recording what the observer sees, in order. */
    const openStream = (method: string, over: Partial<UpstreamCall> = {}) => {
      const seen: string[] = [];
      const messages: number[] = [];
      let headers: readonly (readonly [string, string])[] | undefined;
      let resolveEnd: (status: { code: number; details: Uint8Array | undefined }) => void = () => {};
      const ended = new Promise<{ code: number; details: Uint8Array | undefined }>((resolve) => {
        resolveEnd = resolve;
      });
      const pending = upstream.serverStream(
        {
          service: SERVICE,
          path: `/${SERVICE}/${method}`,
          request: Buffer.alloc(0),
          metadata: {},
          deadline: Number.POSITIVE_INFINITY,
          ...over,
        },
        {
          onHeaders: (h) => {
            seen.push('headers');
            headers = h;
          },
          onMessage: (m) => {
            seen.push('message');
            messages.push(m[0] ?? -1);
          },
          onEnd: (status) => {
            seen.push('end');
            resolveEnd(status);
          },
        },
      );
      return { pending, seen, messages, ended, headers: () => headers };
    };

    it('hands a stream’s response headers over before its first message', async () => {
      const s = openStream('StreamHeaders');
      await expect(s.ended).resolves.toMatchObject({ code: 0 });
      expect(s.seen).toEqual(['headers', 'message', 'end']);
      expect(s.headers()).toContainEqual(['x-greeting', 'hi']);
      expect(s.messages).toEqual([7]);
    });

    it('ends a stream refused at once with its status and details, and no headers', async () => {
      const s = openStream('StreamRefused');
      const status = await s.ended;
      expect(status.code).toBe(Status.PERMISSION_DENIED);
      expect(Buffer.from(status.details ?? [])).toEqual(Buffer.from([8, 7]));
      expect(s.seen).toEqual(['end']);
    });

    it('cancels a stream: CANCELLED, once, and the service sees it cancelled', async () => {
      const s = openStream('StreamForever');
      await waitUntil(() => s.messages.length >= 2);
      s.pending.cancel();
      await expect(s.ended).resolves.toMatchObject({ code: Status.CANCELLED });
      await waitUntil(() => grpc.stream.cancelled);
      const count = s.seen.length;
      await new Promise((r) => setTimeout(r, 100));
      expect(s.seen.length).toBe(count);
      expect(s.seen.filter((e) => e === 'end')).toHaveLength(1);
    });

    it('holds a stream’s messages back while paused and hands them over on resume', async () => {
      const s = openStream('StreamBurst', {});
      s.pending.pause();
      await new Promise((r) => setTimeout(r, 150));
      const whilePaused = s.messages.length;
      s.pending.resume();
      await expect(s.ended).resolves.toMatchObject({ code: 0 });
      expect(whilePaused).toBeLessThan(10);
      expect(s.messages).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it('ends a stream with DEADLINE_EXCEEDED when its deadline passes', async () => {
      const s = openStream('StreamForever', { deadline: deadlineIn(200) });
      await expect(s.ended).resolves.toMatchObject({ code: Status.DEADLINE_EXCEEDED });
      expect(s.messages.length).toBeGreaterThan(0);
    });

    it('ends a stream only after serverStream has returned, even one whose deadline has passed', async () => {
      let returned = false;
      const status = await new Promise<{ code: number }>((resolve) => {
        upstream.serverStream(
          {
            service: SERVICE,
            path: `/${SERVICE}/StreamBurst`,
            request: Buffer.alloc(0),
            metadata: {},
            deadline: Date.now() - 1,
          },
          {
            onMessage: () => {},
            onEnd: (s) => {
              expect(returned).toBe(true);
              resolve(s);
            },
          },
        );
        returned = true;
      });
      expect(status.code).toBe(Status.DEADLINE_EXCEEDED);
    });

    it('ends a stream to an upstream that is down with UNAVAILABLE', async () => {
      const down = factory({ addresses: { [SERVICE]: '127.0.0.1:1' }, catalog });
      try {
        const status = await new Promise<{ code: number }>((resolve) => {
          down.serverStream(
            {
              service: SERVICE,
              path: `/${SERVICE}/StreamBurst`,
              request: Buffer.alloc(0),
              metadata: {},
              deadline: deadlineIn(5000),
            },
            { onMessage: () => {}, onEnd: resolve },
          );
        });
        expect(status.code).toBe(Status.UNAVAILABLE);
      } finally {
        down.close();
      }
    });

    describe('against a peer that answers garbage: a clean status, never a hang', () => {
      it.each([
        // A compressed message nobody asked for; grpc-js: UNKNOWN (it fails to inflate it).
        ['Compressed', [Status.INTERNAL, Status.UNKNOWN]],
        // A body ending inside a message: grpc-js sees "no message" (UNIMPLEMENTED).
        ['Truncated', [Status.INTERNAL, Status.UNIMPLEMENTED]],
        ['Oversized', [Status.RESOURCE_EXHAUSTED]],
        ['NoTrailers', [Status.INTERNAL]],
        ['NoStatus', [Status.UNKNOWN]],
        ['Html404', [Status.UNIMPLEMENTED]],
        ['Html503', [Status.UNAVAILABLE]],
        // 200 text/html: not gRPC. grpc-js reads the HTML as framing (a huge length).
        ['Html200', [Status.UNKNOWN, Status.RESOURCE_EXHAUSTED]],
        ['Reset', [Status.INTERNAL]],
      ])('%s', async (method, codes) => {
        const started = Date.now();
        const res = await garbageCall(method as string);
        expect(codes).toContain(res.status.code);
        expect(res.body).toBeUndefined();
        expect(Date.now() - started).toBeLessThan(3000);
      });

      it('a peer that is not HTTP/2: UNAVAILABLE before the deadline', async () => {
        const started = Date.now();
        const res = await call('Echo', { service: 'test.v1.Junk' });
        expect(res.status.code).toBe(Status.UNAVAILABLE);
        expect(Date.now() - started).toBeLessThan(3000);
      });
    });

    it('survives an upstream restart: UNAVAILABLE while it is down, answers again once it is back', async () => {
      const first = await startGrpcServer();
      const port = first.port;
      const local = factory({ addresses: { [SERVICE]: `127.0.0.1:${port}` }, catalog });
      let second: GrpcTestServer | undefined;
      try {
        expect((await local.unary(echoCall()).result).status.code).toBe(0);
        await first.stop();
        // Down: refused connections fail calls fast (no waiting for the deadline), also while in backoff.
        for (let i = 0; i < 2; i++) {
          const started = Date.now();
          const down = await local.unary({ ...echoCall(), deadline: deadlineIn(3000) }).result;
          expect(down.status.code).toBe(Status.UNAVAILABLE);
          expect(Date.now() - started).toBeLessThan(1000);
        }
        second = await startGrpcServer(port);
        const until = Date.now() + 10_000;
        let code = -1;
        while (code !== 0 && Date.now() < until) {
          code = (await local.unary(echoCall()).result).status.code;
          if (code !== 0) await sleep(100);
        }
        expect(code).toBe(0);
      } finally {
        local.close();
        await second?.stop();
      }
    });
  });
}

function echoCall(): UpstreamCall {
  return {
    service: SERVICE,
    path: `/${SERVICE}/Count`,
    request: Buffer.from('x'),
    metadata: {},
    deadline: deadlineIn(2000),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(10);
  }
}
