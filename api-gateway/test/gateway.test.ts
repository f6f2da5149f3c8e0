// The gateway end to end over a real gRPC upstream: errors, auth, headers
// and deadlines (errors and headers through either upstream transport). Its
// own endpoints: operations.test.ts; routes from the contract alone:
// contract-routes.test.ts.
import { createLogger } from '@messenger/platform/logger';
import { UPSTREAM_TRANSPORTS } from '../src/upstream/upstream.ts';
import { type GatewayFixture, startGateway } from './fixture.ts';

function logSink(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return {
    lines,
    logger: createLogger({
      level: 'info',
      service: 'api-gateway',
      destination: { write: (s: string) => void lines.push(s) },
    }),
  };
}

const STATUS_SHAPE = { code: expect.any(Number), message: expect.any(String), details: expect.any(Array) };

describe.each(UPSTREAM_TRANSPORTS)('errors (%s upstream)', (upstreamTransport) => {
  let fx: GatewayFixture;
  const sink = logSink();
  beforeAll(async () => {
    fx = await startGateway({ logger: sink.logger, upstreamTransport });
  });
  afterAll(() => fx.close());

  it.each([
    ['invalid', 400, 3],
    ['not_found', 404, 5],
    ['exists', 409, 6],
    ['unauthenticated', 401, 16],
    ['denied', 403, 7],
    ['exhausted', 429, 8],
    ['precondition', 400, 9],
    ['unavailable', 503, 14],
    ['crash', 500, 13],
  ])('maps %s to HTTP %i with a google.rpc.Status body', async (mode, http, code) => {
    const res = await fx.app.inject({ method: 'POST', url: `/v1/fail/${mode}`, payload: {} });
    expect(res.statusCode).toBe(http);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.json()).toEqual({ ...STATUS_SHAPE, code });
  });

  it('passes field violations and the reason on to the client', async () => {
    const res = await fx.app.inject({ method: 'POST', url: '/v1/fail/invalid', payload: {} });
    expect(res.json()).toEqual({
      code: 3,
      message: 'mode: must be something else',
      details: [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'INVALID_ARGUMENT', domain: 'messenger' },
        {
          '@type': 'type.googleapis.com/google.rpc.BadRequest',
          fieldViolations: [{ field: 'mode', description: 'must be something else' }],
        },
      ],
    });
  });

  it('drops DebugInfo and details of unknown types', async () => {
    const res = await fx.app.inject({ method: 'POST', url: '/v1/fail/details', payload: {} });
    expect(res.statusCode).toBe(404);
    const types = (res.json().details as { '@type': string }[]).map((d) => d['@type']);
    expect(types).toEqual(['type.googleapis.com/google.rpc.ResourceInfo', 'type.googleapis.com/google.rpc.BadRequest']);
    expect(res.body).not.toContain('secret');
  });

  it.each(['crash', 'unavailable'])(
    'never shows internal text on a 5xx (%s); the error id is in the log',
    async (mode) => {
      sink.lines.length = 0;
      const res = await fx.app.inject({
        method: 'POST',
        url: `/v1/fail/${mode}`,
        payload: {},
        headers: { 'x-request-id': `req-${mode}` },
      });
      expect(res.body).not.toMatch(/hunter2|mongodb|10\.0\.0\.7|Fail/);
      const errorId = /error id ([\w-]+)/.exec(res.json().message)?.[1];
      expect(errorId).toBeDefined();
      expect(res.json().details).toEqual([]);
      const line = sink.lines.map((l) => JSON.parse(l)).find((l) => l.errorId === errorId);
      expect(line).toMatchObject({ level: 50, requestId: `req-${mode}`, route: '/v1/fail/:p0' });
      expect(JSON.stringify(line)).toMatch(mode === 'crash' ? /INTERNAL/ : /mongodb/);
    },
  );

  it.each([
    [
      'malformed JSON',
      { method: 'POST', url: '/v1/mirror', payload: '{"a":', headers: { 'content-type': 'application/json' } },
      400,
    ],
    ['an unknown route', { method: 'GET', url: '/v1/nowhere' }, 404],
    ['a method with no route', { method: 'PUT', url: '/v1/mirror' }, 404],
    [
      'a body too large',
      {
        method: 'POST',
        url: '/v1/mirror',
        payload: JSON.stringify({ id: 'x'.repeat(1024 * 1024 + 10) }),
        headers: { 'content-type': 'application/json' },
      },
      413,
    ],
    [
      'a wrong content type',
      {
        method: 'POST',
        url: '/v1/mirror',
        payload: 'id=1',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      },
      415,
    ],
    ['a URL that does not decode', { method: 'GET', url: '/v1/mirror/%E0%A4%A' }, 400],
    ['a path param that is too long', { method: 'GET', url: `/v1/mirror/${'x'.repeat(600)}` }, 414],
  ] as const)('answers %s in the same shape', async (_name, req, status) => {
    const res = await fx.app.inject(req as never);
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.json()).toEqual(STATUS_SHAPE);
  });

  it('accepts an empty body with a JSON content type as no body', async () => {
    const res = await fx.app.inject({
      method: 'POST',
      url: '/v1/mirror',
      payload: '',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.statusCode).toBe(200);
  });
});

describe('authentication at the gateway', () => {
  let fx: GatewayFixture;
  beforeAll(async () => {
    fx = await startGateway();
  });
  afterAll(() => fx.close());
  const calls = () => fx.upstream.state.calls.get('GetProfile') ?? 0;

  it('refuses a missing token with 401 and a bare Bearer challenge, before any upstream call', async () => {
    const before = calls();
    const res = await fx.app.inject({ method: 'GET', url: '/v1/users/u1' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="messenger"');
    expect(res.json()).toMatchObject({ code: 16, details: [{ reason: 'CREDENTIALS_MISSING' }] });
    expect(calls()).toBe(before);
  });

  it.each([
    ['a malformed header', 'Basic dXNlcjpwYXNz', 'CREDENTIALS_MALFORMED'],
    ['a forged signature', 'TAMPER', 'TOKEN_INVALID'],
    ['garbage', 'Bearer not.a.jwt', 'TOKEN_INVALID'],
  ])('refuses %s with 401 invalid_token', async (_name, header, reason) => {
    let value = header;
    if (header === 'TAMPER') {
      const [h, p, s] = (await fx.auth.token('u1')).split('.');
      value = `Bearer ${h}.${p}.${s?.startsWith('A') ? `B${s.slice(1)}` : `A${s?.slice(1)}`}`;
    }
    const res = await fx.app.inject({ method: 'GET', url: '/v1/users/u1', headers: { authorization: value } });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="messenger", error="invalid_token"/);
    expect(res.json()).toMatchObject({ code: 16, details: [{ reason }] });
  });

  it('stops honouring a token the moment its session is revoked, even once verified', async () => {
    const token = await fx.auth.token('u9', { sessionId: 'sess-revoke' });
    fx.upstream.state.profiles.set('u9', { nickname: 'n9', about: '' });
    const ok = await fx.app.inject({
      method: 'GET',
      url: '/v1/users/u9',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(ok.statusCode).toBe(200);
    await fx.auth.revocations.revokeSession('sess-revoke', Date.now() / 1000 + 3600);
    const res = await fx.app.inject({
      method: 'GET',
      url: '/v1/users/u9',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ details: [{ reason: 'TOKEN_REVOKED' }] });
  });

  it('answers 503 with Retry-After, not 500, when the revocation list cannot answer', async () => {
    const broken = await startGateway({
      testAuth: fx.auth,
      auth: {
        verifier: fx.auth.verifier,
        revocations: {
          isRevoked: async () => {
            throw new Error('redis down');
          },
        },
      },
    });
    try {
      const token = await fx.auth.token('u10');
      broken.upstream.state.profiles.set('u10', { nickname: 'n10', about: '' });
      const headers = { authorization: `Bearer ${token}` };
      // The first request verifies the token; the next, served from the remembered verification, asks the list.
      expect((await broken.app.inject({ method: 'GET', url: '/v1/users/u10', headers })).statusCode).toBe(200);
      const res = await broken.app.inject({ method: 'GET', url: '/v1/users/u10', headers });
      expect([res.statusCode, res.headers['retry-after']]).toEqual([503, '1']);
      expect(res.json()).toMatchObject({ code: 14 });
      expect(res.body).not.toContain('redis down');
    } finally {
      await broken.close();
    }
  });

  it('enforces the declared access level: admin only', async () => {
    const user = await fx.app.inject({
      method: 'POST',
      url: '/v1/admin/purge',
      payload: {},
      headers: { authorization: `Bearer ${await fx.auth.token('u1')}` },
    });
    expect(user.statusCode).toBe(403);
    expect(user.json()).toMatchObject({ code: 7 });
    const admin = await fx.app.inject({
      method: 'POST',
      url: '/v1/admin/purge',
      payload: {},
      headers: { authorization: `Bearer ${await fx.auth.token('root', { roles: ['admin'] })}` },
    });
    expect(admin.statusCode).toBe(200);
  });

  it('lets public methods through without a token', async () => {
    const res = await fx.app.inject({ method: 'POST', url: '/v1/sign-in', payload: { email: 'a@b.c' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true });
  });
});

describe.each(UPSTREAM_TRANSPORTS)('headers and metadata (%s upstream)', (upstreamTransport) => {
  let fx: GatewayFixture;
  beforeAll(async () => {
    fx = await startGateway({ upstreamTransport });
  });
  afterAll(() => fx.close());

  it('forwards authorization, the request id, the client address and Grpc-Metadata-* (not reserved keys)', async () => {
    const token = await fx.auth.token('u1');
    const res = await fx.app.inject({
      method: 'GET',
      url: '/v1/inspect',
      headers: {
        authorization: `Bearer ${token}`,
        'x-request-id': 'trace-42',
        'grpc-metadata-tenant': 'acme',
        'grpc-metadata-authorization': 'Bearer forged',
        'grpc-metadata-x-user-id': 'admin',
        'grpc-metadata-grpc-timeout': '1S',
        'grpc-metadata-blob-bin': 'AAAA',
      },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-request-id']).toBe('trace-42');
    const { metadata, callerId } = res.json();
    expect(callerId).toBe('u1');
    expect(metadata).toMatchObject({
      authorization: `Bearer ${token}`,
      'x-request-id': 'trace-42',
      tenant: 'acme',
      'x-forwarded-for': '127.0.0.1',
    });
    expect(metadata).not.toHaveProperty('x-user-id');
    expect(metadata).not.toHaveProperty('blob-bin');
  });

  it('generates a request id when none (or an unsafe one) is sent', async () => {
    const res = await fx.app.inject({
      method: 'GET',
      url: '/v1/inspect',
      headers: { 'x-request-id': 'bad id\twith spaces' },
    });
    const id = res.headers['x-request-id'] as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.json().metadata['x-request-id']).toBe(id);
  });

  it('applies a default deadline and honours Grpc-Timeout (504, generic)', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/v1/sleep/2000', headers: { 'grpc-timeout': '50m' } });
    expect(res.statusCode).toBe(504);
    expect(res.json()).toMatchObject({ code: 4, message: expect.stringMatching(/^the request timed out \(error id /) });
  });
});

describe('default deadline', () => {
  it('times out upstream calls after deadlines.defaultMs', async () => {
    const fx = await startGateway({ deadlines: { defaultMs: 100 } });
    try {
      const started = Date.now();
      const res = await fx.app.inject({ method: 'GET', url: '/v1/sleep/3000' });
      expect(res.statusCode).toBe(504);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await fx.close();
    }
  });
});
