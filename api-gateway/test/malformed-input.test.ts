// Property test: generated malformed requests, sent as raw bytes over TCP
// (so header injection and invalid UTF-8 reach the real HTTP parser), never
// produce a 5xx; every error body is a google.rpc.Status; the gateway still
// answers /healthz afterwards.

import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import fc from 'fast-check';
import { type GatewayFixture, startGateway } from './fixture.ts';

const RUNS = 1200;

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Sends raw bytes on a fresh connection; resolves with the parsed response, or undefined when the server sent none. */
function send(port: number, bytes: Buffer): Promise<RawResponse | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => resolve(parse(Buffer.concat(chunks))));
    socket.write(bytes);
    // Half-close: the server answers and closes (Connection: close).
    socket.end();
  });
}

function parse(raw: Buffer): RawResponse | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head[0] ?? '')?.[1]);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = raw.subarray(end + 4);
  // An injected CRLF pair may have pipelined a second request: keep the first response only.
  if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  if (headers['transfer-encoding'] === 'chunked') body = Buffer.alloc(0); // only static assets stream; not checked
  return { status, headers, body };
}

const FIELD_NAMES = [
  'id',
  'count',
  'big',
  'ubig',
  'flag',
  'ratio',
  'blob',
  'color',
  'colors',
  'tags',
  'numbers',
  'nested',
  'items',
  'counters',
  'when',
  'timeout',
  'mask',
  'maybe',
  'text',
  'number',
  'label',
  'score',
  'displayName',
  'display_name',
  'about',
  'email',
  'userId',
  '__proto__',
  'constructor',
];
const PATHS = [
  '/v1/mirror',
  '/v1/mirror/',
  '/v1/mirror/things/',
  '/v1/users/',
  '/v1/files/',
  '/v1/sign-in',
  '/v1/updates',
  '/v1/contacts',
  '/v1/admin/purge',
  '/v1/inspect',
  '/openapi.json',
  '/docs/',
  '/healthz',
  '/',
  '//',
  '/v1/../v1/mirror',
  '/v1/%2e%2e/',
  '/v1/users/u1/../../',
];

const weirdString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '%',
    '%zz',
    '%00',
    '%ff%fe',
    '../',
    '..%2f',
    '\u0000',
    '\ud800',
    '\u202e',
    ';',
    '?',
    '#',
    '{id}',
    '*',
    '**',
    ':cancel',
  ),
  fc.nat({ max: 2000 }).map((n) => 'x'.repeat(n)),
);
/** Percent-encodes the UTF-8 bytes of a string (lone surrogates included), leaving unreserved characters. */
function pct(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${b.toString(16).padStart(2, '0').toUpperCase()}`;
  }
  return out;
}
/** A path segment: encoded anything, or raw characters that are legal on the wire but odd (a bare `%`, `%zz`). */
const segmentArb = fc.oneof(weirdString.map(pct), fc.stringMatching(/^[A-Za-z0-9%:@!$&'()*+,;=._~-]{0,30}$/));
/** Mostly real routes (so bodies and queries reach the marshaller), some odd paths. */
const pathArb = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '/v1/mirror',
      '/v1/mirror/abc',
      '/v1/mirror/things/t1:inspect',
      '/v1/files/a/b',
      '/v1/sign-in',
      '/v1/users/u1',
      '/v1/contacts',
      '/v1/inspect',
      '/v1/updates',
    ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(...PATHS), fc.array(segmentArb, { maxLength: 3 }))
      .map(([p, rest]) => p + rest.join('/')),
  },
  { weight: 1, arbitrary: fc.nat({ max: 20_000 }).map((n) => `/v1/mirror/${'z'.repeat(n)}`) },
);
const queryArb = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom(...FIELD_NAMES),
        fc.constantFrom(
          'nested.name',
          'nested.child.level',
          'a.b.c.d.e.f.g.h.i',
          '__proto__.x',
          'constructor.prototype',
        ),
        fc.string({ maxLength: 10 }),
      ),
      weirdString,
    ),
    { maxLength: 5 },
  )
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${pct(k)}=${pct(v)}`).join('&')}`));

const jsonValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.bigInt().map(String),
    weirdString,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...FIELD_NAMES), tie('value'), { maxKeys: 4 }),
  ),
})).value;
const bodyArb: fc.Arbitrary<Buffer> = fc.oneof(
  jsonValue.map((v) => Buffer.from(JSON.stringify(v) ?? '')),
  fc.dictionary(fc.constantFrom(...FIELD_NAMES), jsonValue, { maxKeys: 6 }).map((o) => Buffer.from(JSON.stringify(o))),
  fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc
    .constantFrom(
      '{',
      '{"id":',
      '[[[[[[[[',
      '{"id":"\\ud800"}',
      '{"count":1e400}',
      '{"__proto__":{"x":1}}',
      'null',
      '"x"',
      '1',
    )
    .map((s) => Buffer.from(s)),
  fc.nat({ max: 3000 }).map((n) => Buffer.from(`${'['.repeat(n)}${']'.repeat(n)}`)),
  fc.constant(Buffer.from(`{"id":"${'y'.repeat(2 * 1024 * 1024)}"}`)),
  fc.constant(Buffer.from([0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0xff, 0x22, 0x7d])), // {"id":"<invalid UTF-8>"}
);
const headerValue = fc.oneof(
  weirdString.map((s) => s.replace(/[\r\n]/g, ' ')),
  fc.constantFrom(
    'x\r\nInjected: yes',
    'x\r\n\r\nGET /healthz HTTP/1.1',
    'x\nTransfer-Encoding: chunked',
    'Bearer ',
    'Bearer a.b.c',
    'Basic Zm9vOmJhcg==',
    `Bearer ${'A'.repeat(9000)}`,
    `Bearer ${'A'.repeat(20_000)}`,
    '\u00ff\u00fe',
  ),
);
const headersArb = fc.array(
  fc.tuple(
    fc.constantFrom(
      'content-type',
      'authorization',
      'x-request-id',
      'grpc-metadata-foo',
      'grpc-metadata-authorization',
      'grpc-timeout',
      'last-event-id',
      'accept',
      'if-none-match',
      'x-forwarded-for',
      'transfer-encoding',
      'expect',
      'te',
      'host',
    ),
    fc.oneof(
      headerValue,
      fc.constantFrom(
        'application/json',
        'application/json; charset=latin1',
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/x-ndjson',
        'multipart/form-data; boundary=x',
        '*/*',
        '99999999H',
        '1n',
        'chunked',
        '100-continue',
      ),
    ),
  ),
  { maxLength: 5 },
);
const methodArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('GET', 'POST') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('PATCH', 'DELETE', 'PUT', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'G E T', 'get'),
  },
);

const requestArb = fc.record({
  method: methodArb,
  path: pathArb,
  query: queryArb,
  headers: headersArb,
  body: bodyArb,
  withBody: fc.boolean(),
});

describe('malformed input', () => {
  let fx: GatewayFixture;
  let port: number;
  beforeAll(async () => {
    fx = await startGateway({
      rateLimits: {
        default: { max: 1e6, windowMs: 60_000 },
        strict: { max: 1e6, windowMs: 60_000 },
        stream: { max: 1e6, windowMs: 60_000 },
      },
    });
    await fx.app.listen({ host: '127.0.0.1', port: 0 });
    port = (fx.app.server.address() as AddressInfo).port;
  });
  afterAll(() => fx.close());

  it(`survives ${RUNS} generated malformed requests: no 5xx, every error a Status`, async () => {
    let answered = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        const body = r.withBody ? r.body : Buffer.alloc(0);
        const head =
          `${r.method} ${r.path}${r.query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n` +
          r.headers.map(([k, v]) => `${k}: ${v}\r\n`).join('') +
          (r.withBody ? `Content-Length: ${body.length}\r\n` : '') +
          '\r\n';
        const res = await send(port, Buffer.concat([Buffer.from(head, 'latin1'), body]));
        if (res === undefined) return; // the parser dropped the connection: not a 5xx
        answered++;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect(res.status).toBeLessThan(500);
        if (
          res.status >= 400 &&
          (res.headers['content-type'] ?? '').startsWith('application/json') &&
          res.body.length > 0 &&
          r.method !== 'HEAD'
        ) {
          const status = JSON.parse(res.body.toString('utf8'));
          expect(status).toEqual({ code: expect.any(Number), message: expect.any(String), details: expect.any(Array) });
          expect(Object.keys(status).sort()).toEqual(['code', 'details', 'message']);
        }
      }),
      { numRuns: RUNS, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31), endOnFailure: true },
    );
    if (process.env.FUZZ_STATS) console.log(Object.fromEntries(statuses));
    expect(answered).toBeGreaterThan(RUNS / 2);
    const health = await fx.app.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(200);
    const socketHealth = await send(port, Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    expect(socketHealth?.status).toBe(200);
  }, 180_000);
});
