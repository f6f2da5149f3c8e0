import { once } from 'node:events';
import {
  constants,
  createServer,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
  type Settings,
} from 'node:http2';
import { createServer as createTcpServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { frameMessage } from '@messenger/platform/http2';
import { createHttp2Upstream, type Http2UpstreamOptions } from './http2-upstream.ts';
import { runUpstreamContract, startGrpcServer, testCatalog } from './upstream.contract.ts';
import type { Upstream, UpstreamCall } from './upstream.ts';

runUpstreamContract('http2', createHttp2Upstream, { binaryRequestMetadata: 'sent' });

// What the contract cannot see from outside or grpc-js cannot be tuned for.
describe('http2 upstream', () => {
  const catalog = testCatalog();
  const closers: (() => unknown)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  const upstreamTo = (address: string, over: Partial<Http2UpstreamOptions> = {}): Upstream => {
    const upstream = createHttp2Upstream({ addresses: { 'test.v1.Upstream': address }, catalog, ...over });
    closers.push(() => upstream.close());
    return upstream;
  };
  const call = (upstream: Upstream, method: string, over: Partial<UpstreamCall> = {}) =>
    upstream.unary({
      service: 'test.v1.Upstream',
      path: `/test.v1.Upstream/${method}`,
      request: Buffer.from('hi'),
      metadata: {},
      deadline: Date.now() + 5000,
      ...over,
    });

  /** A raw node:http2 server on `host`, port 0, announcing `settings`. */
  const rawServer = async (
    handle: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, n: number) => void,
    host = '127.0.0.1',
    settings: Settings = {},
  ) => {
    const sessions = new Set<ServerHttp2Session>();
    let streams = 0;
    const server = createServer({ settings });
    server.on('session', (s) => {
      sessions.add(s);
      s.on('error', () => {});
      s.on('close', () => sessions.delete(s));
    });
    server.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      handle(stream, headers, ++streams);
    });
    server.listen(0, host);
    await once(server, 'listening');
    let sessionsSeen = 0;
    server.on('session', () => sessionsSeen++);
    closers.push(() => {
      for (const s of sessions) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    });
    const address = server.address();
    return {
      port: typeof address === 'object' && address ? address.port : 0,
      sessions,
      sessionsSeen: () => sessionsSeen,
      streams: () => streams,
    };
  };
  const respond = (stream: ServerHttp2Stream, body: Buffer, flag = 0) => {
    const framed = frameMessage(body);
    framed[0] = flag;
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(framed);
  };
  const tcpServer = async (onSocket: (socket: Socket) => void): Promise<{ port: number; server: Server }> => {
    const sockets = new Set<Socket>();
    const server = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
      onSocket(socket);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    });
    const address = server.address();
    return { port: typeof address === 'object' && address ? address.port : 0, server };
  };

  it('refuses a compressed message and an unknown compressed flag as INTERNAL', async () => {
    const server = await rawServer((stream, headers) =>
      respond(stream, Buffer.from('x'), headers[':path']?.endsWith('/Echo') ? 1 : 7),
    );
    const upstream = upstreamTo(`127.0.0.1:${server.port}`);
    expect((await call(upstream, 'Echo').result).status.code).toBe(13);
    expect((await call(upstream, 'Count').result).status.code).toBe(13);
  });

  it('sends te: trailers and grpc-timeout, and drops metadata HTTP/2 forbids', async () => {
    let seen: IncomingHttpHeaders = {};
    const server = await rawServer((stream, headers) => {
      seen = headers;
      respond(stream, Buffer.from('ok'));
    });
    const upstream = upstreamTo(`127.0.0.1:${server.port}`);
    const res = await call(upstream, 'Count', { metadata: { te: 'gzip', connection: 'close', tenant: 'acme' } }).result;
    expect(res.status.code).toBe(0);
    expect(seen).toMatchObject({ te: 'trailers', 'content-type': 'application/grpc', tenant: 'acme' });
    expect(seen.connection).toBeUndefined();
    expect(seen['grpc-timeout']).toMatch(/^\d{1,8}m$/);
  });

  it('fails a call whose headers HTTP/2 cannot carry with INTERNAL, keeping the session for others', async () => {
    const server = await rawServer((stream) => respond(stream, Buffer.from('ok')));
    const upstream = upstreamTo(`127.0.0.1:${server.port}`);
    expect((await call(upstream, 'Count').result).status.code).toBe(0);
    const bad = await call(upstream, 'Count', { path: '/test.v1.Upstream/Bad\r\nPath' }).result;
    expect(bad.status.code).toBe(13);
    expect((await call(upstream, 'Count').result).status.code).toBe(0);
    expect(server.sessionsSeen()).toBe(1);
  });

  it('retries a refused stream (never processed) once, even when the method is not idempotent', async () => {
    const server = await rawServer((stream, _h, n) =>
      n === 1 ? stream.close(constants.NGHTTP2_REFUSED_STREAM) : respond(stream, Buffer.from('ok')),
    );
    const upstream = upstreamTo(`127.0.0.1:${server.port}`);
    expect((await call(upstream, 'Count').result).status.code).toBe(0);
    expect(server.streams()).toBe(2);

    const always = await rawServer((stream) => stream.close(constants.NGHTTP2_REFUSED_STREAM));
    const refused = await call(upstreamTo(`127.0.0.1:${always.port}`), 'Count').result;
    expect(refused.status.code).toBe(14);
    expect(always.streams()).toBe(2);
  });

  it('on GOAWAY lets the call in flight finish and opens a new session for the next', async () => {
    const server = await rawServer((stream, _h, n) => {
      if (n === 1) {
        stream.session?.goaway(constants.NGHTTP2_NO_ERROR, stream.id);
        setTimeout(() => respond(stream, Buffer.from('first')), 50);
      } else {
        respond(stream, Buffer.from('second'));
      }
    });
    const upstream = upstreamTo(`127.0.0.1:${server.port}`);
    const first = await call(upstream, 'Count').result;
    expect(first.status.code).toBe(0);
    expect(Buffer.from(first.body ?? []).toString()).toBe('first');
    const second = await call(upstream, 'Count').result;
    expect(Buffer.from(second.body ?? []).toString()).toBe('second');
    expect(server.sessionsSeen()).toBe(2);
  });

  it('closes a session whose keepalive pings go unanswered: its call gets UNAVAILABLE, not a hang', async () => {
    const backend = await startGrpcServer();
    closers.push(() => backend.stop());
    let frozen = false;
    const proxy = await tcpServer((client) => {
      const server = tcpConnect(backend.port, '127.0.0.1');
      server.on('error', () => client.destroy());
      client.on('close', () => server.destroy());
      client.on('data', (d) => frozen || server.write(d));
      server.on('data', (d) => frozen || client.write(d));
    });
    const upstream = upstreamTo(`127.0.0.1:${proxy.port}`, {
      connection: { keepaliveMs: 100, keepaliveTimeoutMs: 100, connectTimeoutMs: 300 },
    });
    expect((await call(upstream, 'Count').result).status.code).toBe(0);
    frozen = true;
    const started = Date.now();
    const res = await call(upstream, 'Count').result;
    expect(res.status.code).toBe(14);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('spreads calls round robin over every address of the name, and resolves it again on reconnect', async () => {
    const server = await rawServer(
      (stream) => respond(stream, Buffer.from(stream.session?.socket.localAddress ?? '')),
      '0.0.0.0',
    );
    let addresses = ['127.0.0.1', '127.0.0.2'];
    let lookups = 0;
    const lookup = async () => {
      lookups++;
      return addresses;
    };
    const upstream = upstreamTo(`upstream.test:${server.port}`, { connection: { lookup, reconnectInitialMs: 20 } });
    const seen = async (n: number) => {
      const counts: Record<string, number> = {};
      for (let i = 0; i < n; i++) {
        const res = await call(upstream, 'Count').result;
        expect(res.status.code).toBe(0);
        const at = Buffer.from(res.body ?? []).toString();
        counts[at] = (counts[at] ?? 0) + 1;
      }
      return counts;
    };
    await seen(2); // both sessions open
    const counts = await seen(20);
    expect(counts['127.0.0.1']).toBeGreaterThanOrEqual(8);
    expect(counts['127.0.0.2']).toBeGreaterThanOrEqual(8);

    addresses = ['127.0.0.2'];
    const before = lookups;
    for (const s of server.sessions) s.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(lookups).toBeGreaterThan(before);
    expect(await seen(10)).toEqual({ '127.0.0.2': 10 });
  });

  it('fails at once when the name does not resolve', async () => {
    const lookup = () => Promise.reject(new Error('ENOTFOUND upstream.test'));
    const res = await call(upstreamTo('upstream.test:1', { connection: { lookup } }), 'Count').result;
    expect(res.status).toMatchObject({ code: 14, message: expect.stringContaining('ENOTFOUND') });
  });

  it('cancels, or times out, a call still waiting for its connection', async () => {
    const silent = await tcpServer(() => {}); // accepts, never speaks HTTP/2
    const upstream = upstreamTo(`127.0.0.1:${silent.port}`);
    const pending = call(upstream, 'Count');
    setTimeout(() => pending.cancel(), 50);
    expect((await pending.result).status.code).toBe(1);
    const started = Date.now();
    expect((await call(upstream, 'Count', { deadline: Date.now() + 200 }).result).status.code).toBe(4);
    expect(Date.now() - started).toBeLessThan(1000);
  });
  // The client's own HTTP/2 against node:http2's server (nghttp2): what the contract's small calls do not reach.
  describe('HTTP/2 framing against node:http2', () => {
    const readAll = async (stream: ServerHttp2Stream): Promise<Buffer> => {
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    };

    it('sends a message larger than the peer’s windows and frames, whole and in order', async () => {
      const server = await rawServer(
        async (stream) => {
          const body = await readAll(stream);
          // Echo a digest of what arrived: its length and a checksum of every byte.
          let sum = 0;
          for (const byte of body) sum = (sum * 31 + byte) >>> 0;
          respond(stream, Buffer.from(`${body.length}:${sum}`));
        },
        '127.0.0.1',
        { initialWindowSize: 1000 },
      );
      const message = Buffer.alloc(3 * 1024 * 1024);
      for (let i = 0; i < message.length; i++) message[i] = (i * 7 + (i >> 11)) & 0xff;
      const framed = frameMessage(message);
      let sum = 0;
      for (const byte of framed) sum = (sum * 31 + byte) >>> 0;
      const res = await call(upstreamTo(`127.0.0.1:${server.port}`), 'Count', { request: message }).result;
      expect(res.status.code).toBe(0);
      expect(Buffer.from(res.body ?? []).toString()).toBe(`${framed.length}:${sum}`);
    });

    it('splits request headers over CONTINUATION frames and reads response headers split the same way', async () => {
      const big = 'v'.repeat(40_000);
      let seen: string | undefined;
      const server = await rawServer((stream, headers) => {
        seen = headers['x-big'] as string | undefined;
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc', 'x-echo': big },
          { waitForTrailers: true },
        );
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(frameMessage(Buffer.from('ok')));
      });
      const res = await call(upstreamTo(`127.0.0.1:${server.port}`), 'Count', { metadata: { 'x-big': big } }).result;
      expect(res.status.code).toBe(0);
      expect(seen).toBe(big);
      expect(res.headers).toContainEqual(['x-echo', big]);
    });

    it('keeps to the peer’s limit of concurrent streams, queuing the calls beyond it', async () => {
      let open = 0;
      let most = 0;
      const server = await rawServer(
        (stream) => {
          most = Math.max(most, ++open);
          setTimeout(() => {
            open--;
            respond(stream, Buffer.from('ok'));
          }, 20);
        },
        '127.0.0.1',
        { maxConcurrentStreams: 2 },
      );
      const upstream = upstreamTo(`127.0.0.1:${server.port}`);
      expect((await call(upstream, 'Count').result).status.code).toBe(0); // the peer's SETTINGS are known
      const results = await Promise.all(Array.from({ length: 8 }, () => call(upstream, 'Count').result));
      expect(results.map((r) => r.status.code)).toEqual(new Array(8).fill(0));
      expect(most).toBe(2);
      expect(server.streams()).toBe(9);
    });

    it('follows the peer’s header table as it indexes and evicts entries', async () => {
      const value = (n: number) => `${n}-`.padEnd(300 + (n % 7) * 50, String.fromCharCode(97 + (n % 26)));
      const server = await rawServer((stream, headers) => {
        const n = Number(headers['x-n']);
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc', 'x-value': value(n), 'x-same': 'same' },
          { waitForTrailers: true },
        );
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-trailer': value(n + 1) }));
        stream.end(frameMessage(Buffer.from(String(n))));
      });
      const upstream = upstreamTo(`127.0.0.1:${server.port}`);
      for (let n = 0; n < 60; n++) {
        const res = await call(upstream, 'Count', { metadata: { 'x-n': String(n) } }).result;
        expect(res.status.code).toBe(0);
        expect(Buffer.from(res.body ?? []).toString()).toBe(String(n));
        expect(res.headers).toContainEqual(['x-value', value(n)]);
        expect(res.headers).toContainEqual(['x-same', 'same']);
      }
      expect(server.sessionsSeen()).toBe(1);
    });

    it('answers the peer’s PING', async () => {
      const server = await rawServer((stream) => respond(stream, Buffer.from('ok')));
      expect((await call(upstreamTo(`127.0.0.1:${server.port}`), 'Count').result).status.code).toBe(0);
      const [session] = [...server.sessions];
      const acknowledged = await new Promise<boolean>((resolve) =>
        (session as ServerHttp2Session).ping((err) => resolve(err === null)),
      );
      expect(acknowledged).toBe(true);
    });

    /** One HTTP/2 frame as bytes. */
    const frame = (type: number, flags: number, id: number, payload: Buffer): Buffer => {
      const header = Buffer.alloc(9);
      header.writeUIntBE(payload.length, 0, 3);
      header[3] = type;
      header[4] = flags;
      header.writeUInt32BE(id, 5);
      return Buffer.concat([header, payload]);
    };
    const SETTINGS = frame(4, 0, 0, Buffer.alloc(0));

    // A peer that speaks HTTP/2 and then breaks it once the call's request has
    // arrived: the connection ends, the call fails at once, nothing throws.
    it.each([
      ['a header block HPACK cannot decode', frame(1, 0x5, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]))],
      ['a frame larger than this side accepts', frame(0, 0, 1, Buffer.alloc(20_000))],
      ['a CONTINUATION of nothing', frame(9, 0x4, 1, Buffer.from([0x88]))],
      ['a header block interrupted by another frame', Buffer.concat([frame(1, 0, 1, Buffer.from([0x88])), SETTINGS])],
      ['a PUSH_PROMISE though push is disabled', frame(5, 0x4, 1, Buffer.from([0, 0, 0, 2, 0x88]))],
    ])('ends the connection on %s: UNAVAILABLE, not a hang', async (_name, broken) => {
      const peer = await tcpServer((socket) => {
        let seen = Buffer.alloc(0);
        socket.on('data', (chunk: Buffer) => {
          seen = Buffer.concat([seen, chunk]);
          // The client's preface and SETTINGS come first; answer with ours, then break on its request's HEADERS.
          if (seen.length >= 24 && !socket.readableEnded && seen.includes(Buffer.from([0x01, 0x04, 0, 0, 0, 1]), 24)) {
            socket.write(broken);
            seen = Buffer.alloc(0);
          }
        });
        socket.write(SETTINGS);
      });
      const upstream = upstreamTo(`127.0.0.1:${peer.port}`);
      const started = Date.now();
      const res = await call(upstream, 'Count').result;
      expect(res.status.code).toBe(14);
      expect(res.body).toBeUndefined();
      expect(Date.now() - started).toBeLessThan(1000);
    });
  });
});
