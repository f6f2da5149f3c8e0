// The gateway end to end over a real gRPC upstream: errors, auth, headers,
// deadlines, cancellation, operations endpoints, and routes that come from
// the contract alone.
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createApiCatalog, createLogger, createMetrics } from '@messenger/platform';
import { build } from '../src/app.ts';
import {
  createTestAuth,
  editedDescriptorSet,
  type GatewayFixture,
  MIRROR_SERVICE,
  PROFILE_SERVICE,
  startGateway,
  startTestUpstream,
  testCatalog,
} from './fixture.ts';

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

describe('errors', () => {
  let fx: GatewayFixture;
  const sink = logSink();
  beforeAll(async () => {
    fx = await startGateway({ logger: sink.logger });
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

describe('headers and metadata', () => {
  let fx: GatewayFixture;
  beforeAll(async () => {
    fx = await startGateway();
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

describe('over a real socket', () => {
  let fx: GatewayFixture;
  let base: string;
  beforeAll(async () => {
    fx = await startGateway();
    await fx.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(fx.app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => fx.close());

  it('cancels the gRPC call when the client disconnects', async () => {
    const before = fx.upstream.state.cancelled;
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${base}/v1/sleep/5000`);
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 150);
    });
    for (let i = 0; i < 50 && fx.upstream.state.cancelled === before; i++) await sleep(20);
    expect(fx.upstream.state.cancelled).toBe(before + 1);
  });

  it('answers /healthz, /readyz and /metrics', async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'SERVING' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'SERVING',
      closing: false,
      upstreams: { [PROFILE_SERVICE]: 'SERVING', [MIRROR_SERVICE]: 'SERVING' },
    });
    await fetch(`${base}/v1/mirror/m1`);
    await fetch(`${base}/v1/fail/not_found`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(
      /http_request_duration_seconds_count\{method="GET",route="\/v1\/mirror\/\{id\}",status="200"\} 1/,
    );
    expect(metrics).toMatch(
      /http_request_duration_seconds_count\{method="POST",route="\/v1\/fail\/\{mode\}",status="404"\} 1/,
    );
    expect(metrics).toMatch(
      /grpc_client_handling_seconds_count\{target="messenger.gatewaytest.v1.MirrorService",method="Mirror",code="OK"\}/,
    );
  });
});

describe('readiness', () => {
  it('reports 503 when an upstream is not serving', async () => {
    const fx = await startGateway({ readinessTimeoutMs: 300 });
    try {
      await fx.upstream.close();
      const res = await fx.app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ status: 'NOT_SERVING', upstreams: { [PROFILE_SERVICE]: 'NOT_SERVING' } });
      const call = await fx.app.inject({ method: 'GET', url: '/v1/mirror/x' });
      expect(call.statusCode).toBe(503);
      expect(call.body).not.toContain('127.0.0.1');
    } finally {
      await fx.app.close();
    }
  });
});

describe('routes come from the contract alone', () => {
  const PING = `  // Answers a ping: added to prove routes need no gateway code.
  rpc Ping(PingRequest) returns (PingResponse) {
    option (messenger.options.v1.policy) = {access: ACCESS_PUBLIC};
    option (google.api.http) = {get: "/v1/ping/{name}"};
  }`;
  const MESSAGES = `// Ping input.
message PingRequest {
  // Who pings.
  string name = 1;
}

// Ping output.
message PingResponse {
  // Always empty.
  string reply = 1;
}`;

  it('serves and documents an RPC added to the proto, with no gateway change', async () => {
    const before = await startGateway();
    try {
      expect((await before.app.inject({ method: 'GET', url: '/v1/ping/x' })).statusCode).toBe(404);
      expect((await before.app.inject({ method: 'GET', url: '/openapi.json' })).json().paths).not.toHaveProperty(
        '/v1/ping/{name}',
      );
    } finally {
      await before.close();
    }
    const set = await editedDescriptorSet((s) =>
      s.replace('service MirrorService {', `service MirrorService {\n${PING}\n`).concat(`\n${MESSAGES}\n`),
    );
    const after = await startGateway({ descriptorSet: set });
    try {
      const res = await after.app.inject({ method: 'GET', url: '/v1/ping/x' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ reply: '' });
      const doc = (await after.app.inject({ method: 'GET', url: '/openapi.json' })).json();
      expect(doc.paths['/v1/ping/{name}'].get).toMatchObject({
        operationId: 'MirrorService_Ping',
        summary: 'Answers a ping: added to prove routes need no gateway code.',
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
      });
    } finally {
      await after.close();
    }
  });

  it('refuses to start when two RPCs claim one route, or a routed service has no address', async () => {
    const set = await editedDescriptorSet((s) =>
      s
        .replace(
          'service MirrorService {',
          `service MirrorService {\n${PING.replace('/v1/ping/{name}', '/v1/users/{name}')}\n`,
        )
        .concat(`\n${MESSAGES}\n`),
    );
    const auth = await createTestAuth();
    const base = {
      upstreams: { [PROFILE_SERVICE]: '127.0.0.1:1', [MIRROR_SERVICE]: '127.0.0.1:1' },
      auth: { verifier: auth.verifier },
      logger: createLogger({ level: 'silent', service: 'gw' }),
      metrics: createMetrics({ defaultMetrics: false }),
    };
    await expect(build({ ...base, catalog: createApiCatalog(set) })).rejects.toThrow(/duplicate route GET \/v1\/users/);
    await expect(
      build({ ...base, catalog: await testCatalog(), upstreams: { [PROFILE_SERVICE]: '127.0.0.1:1' } }),
    ).rejects.toThrow(`no upstream address for ${MIRROR_SERVICE}`);
    auth.revocations.close();
  });

  it('shares one upstream fixture across gateways (sanity)', async () => {
    const catalog = await testCatalog();
    const auth = await createTestAuth();
    const upstream = await startTestUpstream(catalog, auth);
    try {
      const a = await startGateway({ catalog, testAuth: auth, upstreamFixture: upstream });
      const res = await a.app.inject({ method: 'GET', url: '/v1/mirror/shared' });
      expect(res.statusCode).toBe(200);
      await a.app.close();
    } finally {
      await upstream.close();
      auth.revocations.close();
    }
  });
});
