import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect as connectHttp2, constants as httpConstants } from 'node:http2';
import { connect as connectTcp } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Client, credentials, Metadata, makeGenericClientConstructor, status } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { failure, unary } from '../../test/call.ts';
import { bufBin, type EchoFixture, loadEcho, startEchoServer } from '../../test/echo-fixture.ts';
import { createLogger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { GrpcServer, GrpcServerTransport } from './server.ts';
import { fieldViolationsOf, reasonOf } from './status.ts';

const here = dirname(fileURLToPath(import.meta.url));
/** Every suite below runs against both: the platform's own HTTP/2 and grpc-js's server, the reference. */
const TRANSPORTS: readonly GrpcServerTransport[] = ['http2', 'grpc-js'];

describe.each(TRANSPORTS)('gRPC server bootstrap (%s transport)', (transport) => {
  let fx: EchoFixture;
  let server: GrpcServer;
  let metrics: Metrics;
  let port: number;
  let client: Client;

  beforeAll(async () => {
    fx = await loadEcho();
    ({ server, metrics } = startEchoServer(fx, { transport }));
    port = await server.listen('127.0.0.1', 0);
    client = new fx.Client(`127.0.0.1:${port}`, credentials.createInsecure());
  });

  afterAll(async () => {
    client.close();
    await server.shutdown(1000);
  });

  it('answers the standard health service with SERVING', async () => {
    const Health = makeGenericClientConstructor(healthService, 'Health');
    const health = new Health(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const overall = await unary<{ status: string }>(health, 'check', {
        service: '',
      });
      expect(overall.status).toBe('SERVING');
      const echo = await unary<{ status: string }>(health, 'check', {
        service: 'messenger.testing.v1.EchoService',
      });
      expect(echo.status).toBe('SERVING');
    } finally {
      health.close();
    }
  });

  it('serves reflection, so buf curl can list and call methods', async () => {
    const run = promisify(execFile);
    const base = `http://127.0.0.1:${port}`;
    const listed = await run(bufBin, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '--list-methods', base]);
    expect(listed.stdout).toContain('messenger.testing.v1.EchoService/Echo');
    const called = await run(bufBin, [
      'curl',
      '--protocol',
      'grpc',
      '--http2-prior-knowledge',
      '-d',
      '{"text":"through reflection"}',
      `${base}/messenger.testing.v1.EchoService/Echo`,
    ]);
    expect(JSON.parse(called.stdout)).toMatchObject({
      text: 'through reflection',
    });
  });

  it('carries the caller request id into the handler and back in trailers', async () => {
    const md = new Metadata();
    md.set('x-request-id', 'req-123');
    let trailerId: unknown;
    const res = await unary(
      client,
      'Echo',
      { text: 'hi' },
      {
        metadata: md,
        onTrailers: (t) => (trailerId = t.get('x-request-id')[0]),
      },
    );
    expect(res).toEqual({ text: 'hi', request_id: 'req-123' });
    expect(trailerId).toBe('req-123');
  });

  it('makes a fresh request id when the caller sends none or an unsafe one', async () => {
    const md = new Metadata();
    md.set('x-request-id', `${'x'.repeat(200)}<script>`);
    const res = await unary<{ request_id: string }>(client, 'Echo', { text: 'x' }, { metadata: md });
    expect(res.request_id).toMatch(/^[0-9a-f-]{36}$/);
    const none = await unary<{ request_id: string }>(client, 'Echo', {
      text: 'x',
    });
    expect(none.request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(none.request_id).not.toBe(res.request_id);
  });

  it('maps a domain validation error to INVALID_ARGUMENT with field violations', async () => {
    const err = await failure(unary(client, 'Fail', { mode: 'invalid' }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldViolationsOf(err)).toEqual([{ field: 'mode', description: 'must be something else' }]);
    expect(reasonOf(err)).toBe('INVALID_ARGUMENT');
  });

  it('hides an unexpected error behind INTERNAL with an error id', async () => {
    const err = await failure(unary(client, 'Fail', { mode: 'crash' }));
    expect(err.code).toBe(status.INTERNAL);
    expect(err.details).toMatch(/^internal error \(error id [0-9a-f-]{36}\)$/);
    expect(err.details).not.toContain('hunter2');
  });

  it('enforces the declared access level before running the handler', async () => {
    const anonymous = await failure(unary(client, 'Whoami', {}));
    expect(anonymous.code).toBe(status.UNAUTHENTICATED);

    const bad = new Metadata();
    bad.set('authorization', 'Bearer forged!');
    expect((await failure(unary(client, 'Whoami', {}, { metadata: bad }))).code).toBe(status.UNAUTHENTICATED);

    const good = new Metadata();
    good.set('authorization', 'Bearer user:alice');
    expect(await unary(client, 'Whoami', {}, { metadata: good })).toEqual({
      user_id: 'alice',
    });
  });

  it('streams server messages in order, those sent already encoded as they are', async () => {
    const values: number[] = [];
    const stream = (client as unknown as { Count(req: object): NodeJS.ReadableStream }).Count({ n: 5 });
    stream.on('data', (m: { value: number }) => values.push(m.value));
    await once(stream, 'end');
    expect(values).toEqual([1, 2, 3, 4, 5]);
  });

  it('counts every call by method and status code', async () => {
    await unary(client, 'Echo', { text: 'count me' });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/grpc_server_handled_total\{service="echo",method="Echo",code="OK"\} [1-9]/);
    expect(text).toMatch(/grpc_server_handled_total\{service="echo",method="Fail",code="INVALID_ARGUMENT"\} [1-9]/);
  });

  it('logs an unexpected failure once, with the request id and the error id the caller saw', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      level: 'info',
      service: 'echo',
      destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
    });
    const logged = startEchoServer(fx, { logger, transport });
    const loggedPort = await logged.server.listen('127.0.0.1', 0);
    const loggedClient = new fx.Client(`127.0.0.1:${loggedPort}`, credentials.createInsecure());
    try {
      await unary(loggedClient, 'Echo', { text: 'quiet' });
      const md = new Metadata();
      md.set('x-request-id', 'req-crash-1');
      const err = await failure(unary(loggedClient, 'Fail', { mode: 'crash' }, { metadata: md }));
      const errorId = /error id ([0-9a-f-]{36})/.exec(err.details)?.[1];
      expect(lines).toEqual([
        expect.objectContaining({ level: 50, requestId: 'req-crash-1', errorId, msg: 'call failed', service: 'echo' }),
      ]);
    } finally {
      loggedClient.close();
      await logged.server.shutdown(1000);
    }
  });

  it('refuses to start when a method is missing from the catalog', () => {
    const stranger = makeGenericClientConstructor(healthService, 'Health').service;
    expect(() => startEchoServer({ ...fx, definition: stranger })).toThrow(/not in the API catalog/);
  });
});

describe.each(TRANSPORTS)('connection age (%s transport)', (transport) => {
  // A connection older than its age takes no new calls; a call already on it
  // runs on for the grace, and is cut once the grace is over.
  async function sleepCallPastAge(graceMs: number) {
    const fx = await loadEcho();
    const { server } = startEchoServer(fx, { connectionAge: { maxAgeMs: 100, graceMs }, transport });
    const port = await server.listen('127.0.0.1', 0);
    const client = new fx.Client(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      return await unary(client, 'Sleep', { ms: 600 }).then(
        (res) => ({ ok: res }),
        (error: { code: number }) => ({ code: error.code }),
      );
    } finally {
      client.close();
      await server.shutdown(0);
    }
  }

  it('lets a call outlive the age of its connection within the grace', async () => {
    expect(await sleepCallPastAge(60_000)).toEqual({ ok: { done: true } });
  });

  it('cuts a call still running when the grace is over', async () => {
    expect(await sleepCallPastAge(100)).toEqual({ code: status.UNAVAILABLE });
  });
});

describe.each(TRANSPORTS)('shutdown on SIGTERM (%s transport)', (transport) => {
  it('lets an in-flight call finish, refuses new calls, and exits 0', async () => {
    const fx = await loadEcho();
    const child = spawn(process.execPath, [join(here, '../../test/echo-server-main.ts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ECHO_TRANSPORT: transport },
    });
    const exited = once(child, 'exit');
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const port = Number(/listening (\d+)/.exec(line.toString())?.[1]);
    const client = new fx.Client(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const slow = unary(client, 'Sleep', { ms: 800 });
      await new Promise((r) => setTimeout(r, 200));
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
      const refused = await failure(unary(client, 'Echo', { text: 'too late' }, { deadlineMs: 2000 }));
      expect(refused.code).toBe(status.UNAVAILABLE);
      await expect(slow).resolves.toEqual({ done: true });
      const [code] = (await exited) as [number];
      expect(code).toBe(0);
    } finally {
      client.close();
      child.kill('SIGKILL');
    }
  });
});

/** What a raw HTTP/2 client saw of one request: the response headers, trailers and body. */
interface RawResponse {
  status: number;
  /** grpc-status and grpc-message, from the trailers or from a trailers-only response. */
  grpcStatus: number | undefined;
  grpcMessage: string | undefined;
  body: Buffer;
}

/** One request over node:http2's client, with the body as given: what a misbehaving client can send. */
function rawRequest(
  port: number,
  opts: { path?: string; headers?: Record<string, string>; body?: Buffer[]; resetAfterMs?: number },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    const req = session.request({
      ':method': 'POST',
      ':path': opts.path ?? '/messenger.testing.v1.EchoService/Echo',
      'content-type': 'application/grpc',
      te: 'trailers',
      ...opts.headers,
    });
    let headers: Record<string, unknown> = {};
    let trailers: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      headers = h;
    });
    req.on('trailers', (t) => {
      trailers = t;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => {});
    req.on('close', () => {
      session.close();
      const grpcStatus = trailers['grpc-status'] ?? headers['grpc-status'];
      const grpcMessage = trailers['grpc-message'] ?? headers['grpc-message'];
      if (headers[':status'] === undefined && opts.resetAfterMs === undefined) {
        reject(new Error(`no response (stream closed with code ${req.rstCode})`));
        return;
      }
      resolve({
        status: Number(headers[':status']),
        grpcStatus: grpcStatus === undefined ? undefined : Number(grpcStatus),
        grpcMessage: grpcMessage === undefined ? undefined : decodeURIComponent(String(grpcMessage)),
        body: Buffer.concat(chunks),
      });
    });
    for (const part of opts.body ?? []) req.write(part);
    if (opts.resetAfterMs === undefined) req.end();
    else setTimeout(() => req.close(httpConstants.NGHTTP2_CANCEL), opts.resetAfterMs);
  });
}

/** A gRPC length-prefixed frame around `message` (flag 0: uncompressed). */
function grpcFrame(message: Buffer, flag = 0): Buffer {
  const header = Buffer.alloc(5);
  header[0] = flag;
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

describe.each(TRANSPORTS)('the gRPC wire, as a client can misuse it (%s transport)', (transport) => {
  let fx: EchoFixture;
  let server: GrpcServer;
  let cancelled: string[];
  let port: number;
  let client: Client;

  beforeAll(async () => {
    fx = await loadEcho();
    ({ server, cancelled } = startEchoServer(fx, { transport }));
    port = await server.listen('127.0.0.1', 0);
    client = new fx.Client(`127.0.0.1:${port}`, credentials.createInsecure());
  });

  afterAll(async () => {
    client.close();
    await server.shutdown(1000);
  });

  const encodeEcho = (text: string) => fx.definition.Echo?.requestSerialize({ text }) as Buffer;
  const encodeSleep = (ms: number, note: string) => fx.definition.Sleep?.requestSerialize({ ms, note }) as Buffer;
  const echoOk = async () =>
    expect(await unary(client, 'Echo', { text: 'still serving' })).toMatchObject({ text: 'still serving' });

  it('answers a well-formed raw request: headers, one message, trailers with OK', async () => {
    const res = await rawRequest(port, { body: [grpcFrame(encodeEcho('raw'))] });
    expect(res).toMatchObject({ status: 200, grpcStatus: status.OK });
    expect(res.body.readUInt32BE(1)).toBe(res.body.length - 5);
    expect(fx.definition.Echo?.responseDeserialize(res.body.subarray(5))).toMatchObject({ text: 'raw' });
  });

  it('answers a method it does not serve with UNIMPLEMENTED', async () => {
    const res = await rawRequest(port, {
      path: '/messenger.testing.v1.EchoService/Nope',
      body: [grpcFrame(Buffer.alloc(0))],
    });
    expect(res).toMatchObject({ status: 200, grpcStatus: status.UNIMPLEMENTED });
  });

  it('refuses a request that is not gRPC with HTTP 415', async () => {
    const res = await rawRequest(port, { headers: { 'content-type': 'application/json' }, body: [Buffer.from('{}')] });
    expect(res.status).toBe(415);
  });

  it('answers a message that is not the request type with INTERNAL, and keeps serving', async () => {
    const res = await rawRequest(port, { body: [grpcFrame(Buffer.from([0xff, 0xff, 0xff]))] });
    expect(res.grpcStatus).toBe(status.INTERNAL);
    await echoOk();
  });

  it('answers a unary request with no message, or with two, with UNIMPLEMENTED', async () => {
    expect((await rawRequest(port, { body: [] })).grpcStatus).toBe(status.UNIMPLEMENTED);
    const two = grpcFrame(encodeEcho('one'));
    expect((await rawRequest(port, { body: [two, two] })).grpcStatus).toBe(status.UNIMPLEMENTED);
  });

  it('answers a message over 4 MiB with RESOURCE_EXHAUSTED, and keeps serving', async () => {
    const res = await rawRequest(port, { body: [grpcFrame(encodeEcho('x'.repeat(5 * 1024 * 1024)))] });
    expect(res.grpcStatus).toBe(status.RESOURCE_EXHAUSTED);
    await echoOk();
  });

  it('reads a message split across many DATA frames', async () => {
    const text = 'y'.repeat(200_000);
    const frame = grpcFrame(encodeEcho(text));
    const parts = [];
    for (let i = 0; i < frame.length; i += 7_777) parts.push(frame.subarray(i, i + 7_777));
    const res = await rawRequest(port, { body: parts });
    expect(res.grpcStatus).toBe(status.OK);
    expect(fx.definition.Echo?.responseDeserialize(res.body.subarray(5))).toMatchObject({ text });
  });

  it('ends a call at the deadline its grpc-timeout sets, with DEADLINE_EXCEEDED, and aborts its handler', async () => {
    const res = await rawRequest(port, {
      path: '/messenger.testing.v1.EchoService/Sleep',
      headers: { 'grpc-timeout': '150m' },
      body: [grpcFrame(encodeSleep(10_000, 'deadline'))],
    });
    expect(res.grpcStatus).toBe(status.DEADLINE_EXCEEDED);
    await waitFor(() => cancelled.includes('deadline'));
  });

  it('answers an unreadable grpc-timeout with INTERNAL', async () => {
    const res = await rawRequest(port, { headers: { 'grpc-timeout': 'soon' }, body: [grpcFrame(encodeEcho('t'))] });
    expect(res.grpcStatus).toBe(status.INTERNAL);
  });

  it('aborts the handler of a call the client resets', async () => {
    await rawRequest(port, {
      path: '/messenger.testing.v1.EchoService/Sleep',
      body: [grpcFrame(encodeSleep(10_000, 'reset'))],
      resetAfterMs: 150,
    });
    await waitFor(() => cancelled.includes('reset'));
  });

  it('ends the connection of a client that sends PINGs without reading the answers', async () => {
    const socket = connectTcp(port, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.pause(); // never reads: the answers pile up on the server's side
    let closed = false;
    const closing = new Promise<void>((resolve) => socket.once('close', () => resolve())).then(() => {
      closed = true;
    });
    const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
    const emptySettings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
    socket.write(Buffer.concat([preface, emptySettings]));
    const ping = Buffer.from([0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => ping));
    const giveUp = Date.now() + 20_000;
    for (let sent = 0; !closed && sent < 5_000_000 && Date.now() < giveUp; sent += 1000) {
      if (!socket.write(batch))
        await Promise.race([once(socket, 'drain').catch(() => {}), closing, sleep(1000, undefined, { ref: false })]);
    }
    await Promise.race([closing, sleep(2000, undefined, { ref: false })]);
    socket.destroy();
    expect(closed).toBe(true);
    await echoOk();
  });

  it('answers every PING of a client that reads, and keeps its connection', async () => {
    const socket = connectTcp(port, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
    });
    const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
    socket.write(Buffer.concat([preface, Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
    const ping = Buffer.from([0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    for (let i = 0; i < 100; i++) {
      socket.write(Buffer.concat(Array.from({ length: 100 }, () => ping)));
      await sleep(2);
    }
    const acks = () => {
      let n = 0;
      for (let p = 0; p + 9 <= received.length; p += 9 + received.readUIntBE(p, 3)) {
        if (received[p + 3] === 6 && received[p + 4] === 1) n++;
      }
      return n;
    };
    await waitFor(() => acks() === 10_000, 5000);
    expect(socket.destroyed).toBe(false);
    socket.destroy();
  });

  it('streams 20,000 messages in order to a reader that stops for a while (flow control)', async () => {
    const values: number[] = [];
    const stream = (client as unknown as { Count(req: object): NodeJS.ReadableStream }).Count({ n: 20_000 });
    stream.pause();
    await new Promise((r) => setTimeout(r, 300));
    stream.on('data', (m: { value: number }) => values.push(m.value));
    stream.resume();
    await once(stream, 'end');
    expect(values.length).toBe(20_000);
    expect(values.every((v, i) => v === i + 1)).toBe(true);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('the condition did not become true in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
