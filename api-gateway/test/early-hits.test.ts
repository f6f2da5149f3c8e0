// Cache hits that arrive on a socket are answered before Fastify routes the
// request: a client must not be able to tell, and nothing the full path
// enforces (token, revocation, access level, rate limit) may be skipped.
// Whatever the early answer cannot decide at once goes the full way.
import { Redis } from 'ioredis';
import type { ResponseCache } from '../src/plugins/cache/response-cache.ts';
import {
  type Answer,
  editedDescriptorSet,
  type GatewayFixture,
  injectSender,
  type Send,
  socketSender,
  startGateway,
} from './fixture.ts';

/** Counts the requests the cache serves through Fastify's route (the early answer never calls it). */
function countRouted(cache: ResponseCache | null): { readonly count: number } {
  if (cache === null) throw new Error('the cache is off');
  const counter = { count: 0 };
  const serve = cache.serve;
  (cache as { serve: ResponseCache['serve'] }).serve = (...args) => {
    counter.count++;
    return serve(...args);
  };
  return counter;
}

/** Headers a connection adds on its own (node's server on a socket), not the gateway's answer. */
const TRANSPORT = new Set(['date', 'connection', 'keep-alive']);
/** Headers whose value is the request's own, or moves by the second. */
const PER_REQUEST = new Set(['x-request-id', 'ratelimit-remaining', 'ratelimit-reset', 'cache-control']);

function answered(res: Answer): Record<string, unknown> {
  return Object.fromEntries(Object.entries(res.headers).filter(([name]) => !TRANSPORT.has(name)));
}

describe('cache hits answered before routing', () => {
  let fx: GatewayFixture;
  let socket: Send;
  let inject: Send;
  let routed: { readonly count: number };
  let alice: string;
  beforeAll(async () => {
    fx = await startGateway({ release: 'blue' });
    socket = await socketSender(fx.app);
    inject = injectSender(fx.app);
    routed = countRouted(fx.app.responseCache);
    alice = `Bearer ${await fx.auth.token('u1')}`;
  });
  afterAll(() => fx.close());

  it('answers a hit without routing it, with the status, body and headers of the full path', async () => {
    const url = '/v1/users/u2';
    const first = await socket({ url, headers: { authorization: alice } });
    expect(first.headers['x-cache']).toBe('MISS');
    const before = routed.count;
    const early = await socket({ url, headers: { authorization: alice } });
    expect(routed.count).toBe(before);
    const full = await inject({ url, headers: { authorization: alice } });
    expect(routed.count).toBe(before + 1);

    expect(early.statusCode).toBe(200);
    expect(early.headers['x-cache']).toBe('HIT');
    expect(full.statusCode).toBe(early.statusCode);
    expect(full.body).toBe(early.body);
    const [e, f] = [answered(early), answered(full)];
    expect(Object.keys(e).sort()).toEqual(Object.keys(f).sort());
    for (const name of Object.keys(e)) if (!PER_REQUEST.has(name)) expect([name, e[name]]).toEqual([name, f[name]]);
    expect(e).toMatchObject({ 'x-messenger-release': 'blue', 'content-type': 'application/json; charset=utf-8' });
    expect(e['cache-control']).toMatch(/^private, max-age=(59|60)$/);
    // One budget: the full path's count follows the early one's.
    expect(Number(f['ratelimit-remaining'])).toBe(Number(e['ratelimit-remaining']) - 1);
  });

  it("echoes the client's request id and observes the request's duration", async () => {
    const url = profileUrl(fx, 'u3');
    await socket({ url, headers: { authorization: alice } });
    const observed = async () => {
      const text = await fx.metrics.registry.getSingleMetricAsString('http_request_duration_seconds');
      const line = text.match(
        /^http_request_duration_seconds_count\{[^}]*route="\/v1\/users\/\{user_id\}"[^}]*status="200"[^}]*\} (\d+)$/m,
      );
      return Number(line?.[1] ?? 0);
    };
    const before = await observed();
    const routedBefore = routed.count;
    const res = await socket({ url, headers: { authorization: alice, 'x-request-id': 'client-chosen-17' } });
    expect(routed.count).toBe(routedBefore);
    expect(res.headers['x-request-id']).toBe('client-chosen-17');
    expect(await observed()).toBe(before + 1);
    const generated = await socket({ url, headers: { authorization: alice } });
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    // Header names in any case.
    const mixed = await socket({ url, headers: { Authorization: alice, 'X-Request-Id': 'Mixed-Case-1' } });
    expect(mixed.headers['x-request-id']).toBe('Mixed-Case-1');
    expect(mixed.headers['x-cache']).toBe('HIT');
    expect(routed.count).toBe(routedBefore);
  });

  it("never takes another payload under a remembered token's signature for that token", async () => {
    const url = profileUrl(fx, 'u8');
    const token = await fx.auth.token('u1', { sessionId: 's-forge' });
    const [head, , signature] = token.split('.');
    expect((await socket({ url, headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
    // Remembered now; the same signature on claims of the attacker's choosing must be verified, and fail.
    const claims = Buffer.from(JSON.stringify({ sub: 'u9', roles: ['admin'], exp: 4102444800 })).toString('base64url');
    const forged = `Bearer ${head}.${claims}.${signature}`;
    for (const send of [socket, inject]) {
      const res = await send({ url, headers: { authorization: forged } });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ code: 16, details: [{ reason: 'TOKEN_INVALID' }] });
    }
    // The genuine token is still remembered and answered early.
    const before = routed.count;
    expect((await socket({ url, headers: { authorization: `Bearer ${token}` } })).headers['x-cache']).toBe('HIT');
    expect(routed.count).toBe(before);
  });

  it('leaves a request that repeats a header it reads to the full path, which answers as it always has', async () => {
    const url = profileUrl(fx, 'u6');
    await socket({ url, headers: { authorization: alice } });
    const before = routed.count;
    const bob = `Bearer ${await fx.auth.token('u7')}`;
    const twice = await socket({ url, headers: { authorization: [alice, bob] } });
    expect(routed.count).toBe(before + 1);
    expect(twice.statusCode).toBe(200);
    const ids = await socket({ url, headers: { authorization: alice, 'x-request-id': ['one-id', 'two-id'] } });
    expect(routed.count).toBe(before + 2);
    expect(ids.statusCode).toBe(200);
  });

  it('leaves to the full path what it cannot answer at once: a 304, a token not yet verified, a revoked session', async () => {
    const url = profileUrl(fx, 'u4');
    const filled = await socket({ url, headers: { authorization: alice } });

    let before = routed.count;
    const notModified = await socket({
      url,
      headers: { authorization: alice, 'if-none-match': filled.headers.etag as string },
    });
    expect(notModified.statusCode).toBe(304);
    expect(routed.count).toBe(before + 1);

    // A new token is verified (its signature checked) by the full path, then remembered.
    const fresh = `Bearer ${await fx.auth.token('u1', { sessionId: 's-fresh' })}`;
    before = routed.count;
    expect((await socket({ url, headers: { authorization: fresh } })).headers['x-cache']).toBe('HIT');
    expect(routed.count).toBe(before + 1);
    expect((await socket({ url, headers: { authorization: fresh } })).headers['x-cache']).toBe('HIT');
    expect(routed.count).toBe(before + 1);

    await fx.auth.revocations.revokeSession('s-fresh', Date.now() / 1000 + 3600);
    const revoked = await socket({ url, headers: { authorization: fresh } });
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json()).toMatchObject({ code: 16 });
    expect(revoked.headers['www-authenticate']).toMatch(/^Bearer realm="messenger", error="invalid_token"/);
    // The other session of the same user still reads.
    expect((await socket({ url, headers: { authorization: alice } })).statusCode).toBe(200);
  });

  it('says Connection: close on a hit once the gateway drains', async () => {
    const url = profileUrl(fx, 'u5');
    await socket({ url, headers: { authorization: alice } });
    const before = routed.count;
    fx.app.drain.begin();
    const res = await socket({ url, headers: { authorization: alice } });
    expect(routed.count).toBe(before);
    expect(res.statusCode).toBe(200);
    expect(res.headers.connection).toBe('close');
  });
});

describe('cache hits answered before routing: budgets', () => {
  it("counts early hits in the caller's budget, and the full path refuses past it", async () => {
    const fx = await startGateway({ rateLimits: budgets(3) });
    try {
      const socket = await socketSender(fx.app);
      const authorization = `Bearer ${await fx.auth.token('u1')}`;
      const answers: Answer[] = [];
      for (let i = 0; i < 4; i++) answers.push(await socket({ url: '/v1/users/u2', headers: { authorization } }));
      expect(answers.map((a) => [a.statusCode, a.headers['ratelimit-remaining']])).toEqual([
        [200, '2'],
        [200, '1'],
        [200, '0'],
        [429, '0'],
      ]);
      expect(answers[3]?.headers['retry-after']).toMatch(/^\d+$/);
      expect(answers[3]?.json()).toMatchObject({ code: 8 });
    } finally {
      await fx.close();
    }
  });
});

describe('cache hits answered before routing: what goes the full way', () => {
  it("refuses a hit to a caller the route's access level does not admit", async () => {
    const descriptorSet = await editedDescriptorSet((source) =>
      source.replace(
        'access: ACCESS_AUTHENTICATED\n      cache: {\n        ttl_seconds: 60',
        'access: ACCESS_ADMIN\n      cache: {\n        ttl_seconds: 60',
      ),
    );
    const fx = await startGateway({ descriptorSet });
    try {
      const socket = await socketSender(fx.app);
      const admin = `Bearer ${await fx.auth.token('root', { roles: ['admin'] })}`;
      const user = `Bearer ${await fx.auth.token('u1')}`;
      expect((await socket({ url: '/v1/users/u2', headers: { authorization: admin } })).statusCode).toBe(200);
      expect((await socket({ url: '/v1/users/u2', headers: { authorization: admin } })).headers['x-cache']).toBe('HIT');
      // The user's token is remembered (verified on another route) before it asks for the cached URL.
      expect((await socket({ url: '/v1/contacts', headers: { authorization: user } })).statusCode).toBe(200);
      const refused = await socket({ url: '/v1/users/u2', headers: { authorization: user } });
      expect(refused.statusCode).toBe(403);
      expect(refused.json()).toMatchObject({ code: 7 });
    } finally {
      await fx.close();
    }
  });

  it('leaves hits of a public route (budgets per client IP) and of a shared store to Fastify', async () => {
    const descriptorSet = await editedDescriptorSet((source) =>
      source.replace(
        'access: ACCESS_AUTHENTICATED\n      cache: {\n        ttl_seconds: 60',
        'access: ACCESS_PUBLIC\n      cache: {\n        ttl_seconds: 60',
      ),
    );
    const redis = new Redis(process.env.REDIS_URL ?? '');
    const publicRoute = await startGateway({ descriptorSet });
    const shared = await startGateway({ redis });
    try {
      for (const fx of [publicRoute, shared]) {
        const socket = await socketSender(fx.app);
        const authorization = `Bearer ${await fx.auth.token('u1')}`;
        const url = profileUrl(fx, `u-${Date.now()}`);
        // The token is remembered, as it is once its user has used any other route.
        expect((await socket({ url: '/v1/contacts', headers: { authorization } })).statusCode).toBe(200);
        const routed = countRouted(fx.app.responseCache);
        await socket({ url, headers: { authorization } });
        const hit = await socket({ url, headers: { authorization } });
        expect(hit.headers['x-cache']).toBe('HIT');
        expect(routed.count).toBe(2);
      }
    } finally {
      await publicRoute.close();
      await shared.close();
      redis.disconnect();
    }
  });
});

/** A profile the test upstream knows, and its URL. */
function profileUrl(fx: GatewayFixture, userId: string): string {
  fx.upstream.state.profiles.set(userId, { nickname: userId, about: '' });
  return `/v1/users/${userId}`;
}

function budgets(max: number) {
  const budget = { max, windowMs: 60_000 };
  return { default: budget, strict: budget, stream: budget };
}

describe('answering before routing, when the early step fails', () => {
  it('leaves the request to Fastify, which answers it, and the gateway keeps serving', async () => {
    const fx = await startGateway();
    try {
      const socket = await socketSender(fx.app);
      fx.app.answerEarly(() => {
        throw new Error('early step failed');
      });
      const authorization = `Bearer ${await fx.auth.token('u1')}`;
      for (let i = 0; i < 2; i++) {
        const res = await socket({ url: profileUrl(fx, 'u2'), headers: { authorization } });
        expect(res.statusCode).toBe(200);
        expect(res.headers['x-cache']).toBe(i === 0 ? 'MISS' : 'HIT');
      }
    } finally {
      await fx.close();
    }
  });
});
