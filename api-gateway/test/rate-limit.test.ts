// Rate limits per class from the contract, keyed by user (or client IP when
// anonymous), counted in Redis shared by every gateway (in the process in
// embedded mode), and what happens without Redis.
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { loadGatewayConfig } from '../src/config.ts';
import type { RateLimitBudgets } from '../src/plugins/rate-limit/rate-limit.plugin.ts';
import { createTestAuth, type GatewayFixture, startGateway, startTestUpstream, testCatalog } from './fixture.ts';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
  throw new Error('REDIS_URL is not set. Run the tests under scripts/with-test-infra.sh.');
}

const BUDGETS: RateLimitBudgets = {
  default: { max: 5, windowMs: 60_000 },
  strict: { max: 3, windowMs: 60_000 },
  stream: { max: 2, windowMs: 60_000 },
};

/** A client address no other test uses, so counters never collide across tests or runs. */
function freshIp(): string {
  const b = randomUUID().replace(/-/g, '');
  return `10.${Number.parseInt(b.slice(0, 2), 16)}.${Number.parseInt(b.slice(2, 4), 16)}.${Number.parseInt(b.slice(4, 6), 16)}`;
}

async function signIn(fx: GatewayFixture, ip: string) {
  return fx.app.inject({ method: 'POST', url: '/v1/sign-in', payload: { email: 'a@b.c' }, remoteAddress: ip });
}

describe('rate limits (local store, embedded mode)', () => {
  let fx: GatewayFixture;
  beforeAll(async () => {
    fx = await startGateway({ rateLimits: BUDGETS });
  });
  afterAll(() => fx.close());

  it('answers 429 with Retry-After, RateLimit-* headers and a Status body once the class budget is spent', async () => {
    const ip = freshIp();
    const first = await signIn(fx, ip);
    expect(first.statusCode).toBe(200);
    expect(first.headers).toMatchObject({ 'ratelimit-limit': '3', 'ratelimit-remaining': '2' });
    await signIn(fx, ip);
    await signIn(fx, ip);
    const limited = await signIn(fx, ip);
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.headers).toMatchObject({ 'ratelimit-limit': '3', 'ratelimit-remaining': '0' });
    expect(limited.json()).toEqual({
      code: 8,
      message: expect.stringMatching(/^rate limit exceeded/),
      details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: expect.stringMatching(/^\d+s$/) }],
    });
    // Another client address has its own budget.
    expect((await signIn(fx, freshIp())).statusCode).toBe(200);
  });

  it('keys signed-in callers by user id, and each class has its own budget', async () => {
    const alice = `Bearer ${await fx.auth.token(`alice-${randomUUID()}`)}`;
    const bob = `Bearer ${await fx.auth.token(`bob-${randomUUID()}`)}`;
    const ip = freshIp();
    const get = (auth: string) =>
      fx.app.inject({ method: 'GET', url: '/v1/contacts', headers: { authorization: auth }, remoteAddress: ip });
    for (let i = 0; i < BUDGETS.default.max; i++) expect((await get(alice)).statusCode).toBe(200);
    expect((await get(alice)).statusCode).toBe(429);
    // Same address, other user: not limited.
    expect((await get(bob)).statusCode).toBe(200);
    // The strict class is counted apart from the default one.
    expect((await signIn(fx, ip)).statusCode).toBe(200);
  });

  it('counts a stream once, when it is opened', async () => {
    const auth = `Bearer ${await fx.auth.token(`streamer-${randomUUID()}`)}`;
    const open = () =>
      fx.app.inject({ method: 'GET', url: '/v1/updates?resumeAfter=bad', headers: { authorization: auth } });
    expect((await open()).statusCode).toBe(400);
    expect((await open()).statusCode).toBe(400);
    expect((await open()).statusCode).toBe(429);
  });

  it('does not limit the gateway’s own endpoints', async () => {
    for (let i = 0; i < 10; i++) expect((await fx.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});

describe('behind trusted proxies (GATEWAY_TRUSTED_PROXIES)', () => {
  // The test client connects from 127.0.0.1, standing in for the proxy.
  let fx: GatewayFixture;
  let base: string;
  beforeAll(async () => {
    const config = loadGatewayConfig({ GATEWAY_TRUSTED_PROXIES: '10.255.0.0/16, 127.0.0.1' });
    fx = await startGateway({ rateLimits: BUDGETS, trustProxy: config.trustedProxies });
    await fx.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(fx.app.server.address() as { port: number }).port}`;
  });
  afterAll(() => fx.close());

  const signInVia = (forwardedFor: string) =>
    fetch(`${base}/v1/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
      body: JSON.stringify({ email: 'a@b.c' }),
    });

  it('keys a client by the right-most untrusted X-Forwarded-For entry, whatever it prepends', async () => {
    const client = freshIp();
    for (let i = 0; i < BUDGETS.strict.max; i++) {
      // A forged left-most entry, and a trusted inner proxy after the client.
      expect((await signInVia(`${freshIp()}, ${client}, 10.255.0.7`)).status).toBe(200);
    }
    const limited = await signInVia(`${freshIp()}, ${client}`);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another client behind the same proxy has its own budget.
    expect((await signInVia(freshIp())).status).toBe(200);
  });
});

describe('requests whose token needs verifying, per client IP', () => {
  let fx: GatewayFixture;
  let base: string;
  let verifications = 0;
  beforeAll(async () => {
    const auth = await createTestAuth();
    const verifier = auth.verifier;
    fx = await startGateway({
      testAuth: auth,
      rateLimits: { ...BUDGETS, unverified: { max: 3, windowMs: 60_000 } },
      auth: {
        revocations: auth.revocations,
        verifier: {
          clockToleranceSeconds: verifier.clockToleranceSeconds,
          verifyAccessToken: (token) => {
            verifications++;
            return verifier.verifyAccessToken(token);
          },
        },
      },
    });
    await fx.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(fx.app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await fx.close();
    fx.auth.revocations.close();
  });

  const contacts = (token: string) => fetch(`${base}/v1/contacts`, { headers: { authorization: `Bearer ${token}` } });

  it('are refused with 429 past the budget, before any signature check, while remembered tokens still work', async () => {
    const signedIn = await fx.auth.token(`known-${randomUUID()}`);
    expect((await contacts(signedIn)).status).toBe(200);
    verifications = 0;
    // Forged: a real header and claims (a known kid), another signature.
    const forge = async () => {
      const [header, payload, signature] = (await fx.auth.token(`victim-${randomUUID()}`)).split('.');
      const flipped = `${signature?.[0] === 'A' ? 'B' : 'A'}${signature?.slice(1)}`;
      return `${header}.${payload}.${flipped}`;
    };
    // The first request above spent one of the budget's 3.
    for (let i = 0; i < 2; i++) expect((await contacts(await forge())).status).toBe(401);
    for (let i = 0; i < 5; i++) {
      const refused = await contacts(await forge());
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await refused.json()).toEqual({
        code: 8,
        message: expect.stringMatching(/^too many requests without a valid token/),
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: expect.stringMatching(/^\d+s$/) }],
      });
    }
    expect(verifications).toBe(2);
    // Missing credentials count alike.
    expect((await fetch(`${base}/v1/contacts`)).status).toBe(429);
    // The token verified before is remembered: it costs no check and is not refused.
    expect((await contacts(signedIn)).status).toBe(200);
  });
});

describe('rate limits shared through Redis', () => {
  it('hold across two gateway instances sharing one Redis', async () => {
    const catalog = await testCatalog();
    const auth = await createTestAuth();
    const upstream = await startTestUpstream(catalog, auth);
    const redisA = new Redis(redisUrl);
    const redisB = new Redis(redisUrl);
    const a = await startGateway({
      catalog,
      testAuth: auth,
      upstreamFixture: upstream,
      redis: redisA,
      rateLimits: BUDGETS,
    });
    const b = await startGateway({
      catalog,
      testAuth: auth,
      upstreamFixture: upstream,
      redis: redisB,
      rateLimits: BUDGETS,
    });
    try {
      const ip = freshIp();
      expect((await signIn(a, ip)).statusCode).toBe(200);
      expect((await signIn(b, ip)).statusCode).toBe(200);
      expect((await signIn(a, ip)).statusCode).toBe(200);
      const limitedOnB = await signIn(b, ip);
      expect(limitedOnB.statusCode).toBe(429);
      expect((await signIn(a, ip)).statusCode).toBe(429);
      // The counter lives in Redis, under the gateway's rate-limit prefix.
      const keys = await redisA.keys(`gw:rl:*strict:ip:${ip}`);
      expect(keys).toHaveLength(1);
      expect(Number(await redisA.get(keys[0] as string))).toBe(5);
    } finally {
      await a.app.close();
      await b.app.close();
      redisA.disconnect();
      redisB.disconnect();
      await upstream.close();
      auth.revocations.close();
    }
  });
});

describe('when Redis is unreachable', () => {
  // Decision (see plugins/rate-limit/): requests are neither refused nor let
  // through unlimited. Each gateway counts locally while Redis is down, tries
  // Redis again after a second, and counts each fallback in a metric.
  let blackHole: Server;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    // Accepts connections and never answers: a hung Redis.
    blackHole = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => blackHole.close(resolve));
  });

  it.each([
    [
      'refused (nothing listening)',
      () =>
        new Redis({
          host: '127.0.0.1',
          port: 1,
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          enableOfflineQueue: false,
          retryStrategy: () => null,
        }),
    ],
    [
      'hung (no reply)',
      () =>
        new Redis({ host: '127.0.0.1', port: (blackHole.address() as { port: number }).port, connectTimeout: 60_000 }),
    ],
  ])('Redis %s: requests are served and limits still hold per instance', async (_name, makeClient) => {
    const redis = makeClient();
    redis.on('error', () => {});
    const fx = await startGateway({ redis, rateLimits: BUDGETS, cache: { redisTimeoutMs: 50 } });
    try {
      const ip = freshIp();
      const started = Date.now();
      for (let i = 0; i < BUDGETS.strict.max; i++) expect((await signIn(fx, ip)).statusCode).toBe(200);
      expect((await signIn(fx, ip)).statusCode).toBe(429);
      // Bounded: at most one Redis timeout before falling back for a while.
      expect(Date.now() - started).toBeLessThan(1500);
      // Cached reads work too: the cache is bypassed, never an error.
      const token = `Bearer ${await fx.auth.token('u1')}`;
      const read = await fx.app.inject({ method: 'GET', url: '/v1/users/u1', headers: { authorization: token } });
      expect(read.statusCode).toBe(200);
      const metrics = await fx.metrics.registry.getSingleMetricAsString('gateway_redis_fallback_total');
      expect(metrics).toMatch(/gateway_redis_fallback_total\{store="rate-limit"\} [1-9]/);
      expect(metrics).toMatch(/gateway_redis_fallback_total\{store="cache"\} [1-9]/);
    } finally {
      await fx.close();
      redis.disconnect();
    }
  });
});
