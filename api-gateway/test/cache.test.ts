// The response cache: only declared-cacheable GETs, ETag/304, Cache-Control,
// per-user keys for private data, one upstream call for concurrent misses,
// invalidation by events through the event bus; in memory and in Redis.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createEnvelope, type EventBus, InProcessEventBus, packPayload } from '@messenger/platform/events';
import type { Metrics } from '@messenger/platform/metrics';
import { Redis } from 'ioredis';
import {
  createTestAuth,
  type GatewayFixture,
  injectSender,
  type Send,
  socketSender,
  startGateway,
  startTestUpstream,
  testCatalog,
} from './fixture.ts';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
  throw new Error('REDIS_URL is not set. Run the tests under scripts/with-test-infra.sh.');
}

async function invalidations(metrics: Metrics): Promise<number> {
  const text = await metrics.registry.getSingleMetricAsString('gateway_cache_invalidations_total');
  return [...text.matchAll(/^gateway_cache_invalidations_total\{[^}]*\} (\d+)$/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );
}

/** Publishes an event and waits until every given gateway has applied it to its cache. */
async function publishAndApply(
  bus: EventBus,
  gateways: readonly GatewayFixture[],
  type: string,
  key: string,
): Promise<void> {
  const before = await Promise.all(gateways.map((g) => invalidations(g.metrics)));
  const [service] = type.split('.');
  await bus.publish(`${service}.events`, [
    createEnvelope({ type, source: service ?? 'x', key, payload: packPayload('x.Y', new Uint8Array()) }),
  ]);
  for (let i = 0; i < 200; i++) {
    const now = await Promise.all(gateways.map((g) => invalidations(g.metrics)));
    // With a shared store one replica applies the event for all.
    if (now.some((n, j) => n > (before[j] ?? 0))) return;
    await sleep(10);
  }
  throw new Error(`event ${type} was not applied`);
}

// Through a socket, hits are answered before Fastify routes them; the same
// behaviour is asked of both ways in.
const WAYS_IN = [
  ['inject()', async (fx: GatewayFixture) => injectSender(fx.app)],
  ['a socket', async (fx: GatewayFixture) => socketSender(fx.app)],
] as const;

describe.each(WAYS_IN)('response cache (in memory, through %s)', (_way, senderOf) => {
  let fx: GatewayFixture;
  let bus: InProcessEventBus;
  let send: Send;
  let alice: string;
  let bob: string;
  beforeAll(async () => {
    bus = new InProcessEventBus();
    fx = await startGateway({ eventBus: bus });
    send = await senderOf(fx);
    alice = `Bearer ${await fx.auth.token('u1')}`;
    bob = `Bearer ${await fx.auth.token('u2')}`;
  });
  afterAll(async () => {
    await fx.close();
    await bus.close();
  });
  const getUser = (id: string, headers: Record<string, string> = {}) =>
    send({ url: `/v1/users/${id}`, headers: { authorization: alice, ...headers } });

  it('serves a second read from the cache, with an ETag and Cache-Control', async () => {
    const first = await getUser('u2');
    expect(first.statusCode).toBe(200);
    expect(first.headers).toMatchObject({ 'x-cache': 'MISS', 'cache-control': 'private, max-age=60' });
    expect(first.headers.etag).toMatch(/^"[\w-]+"$/);
    const second = await getUser('u2');
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.body).toBe(first.body);
    expect(second.headers.etag).toBe(first.headers.etag);
    expect(second.json().profile.reads).toBe(first.json().profile.reads);
  });

  it('answers If-None-Match with 304 and no body', async () => {
    const { etag } = (await getUser('u2')).headers;
    const notModified = await getUser('u2', { 'if-none-match': etag as string });
    expect(notModified.statusCode).toBe(304);
    expect(notModified.body).toBe('');
    expect(notModified.headers.etag).toBe(etag);
    expect((await getUser('u2', { 'if-none-match': `W/${etag}, "other"` })).statusCode).toBe(304);
    expect((await getUser('u2', { 'if-none-match': '"stale"' })).statusCode).toBe(200);
  });

  it('still checks the token on a cached read', async () => {
    await getUser('u2');
    const res = await send({ url: '/v1/users/u2' });
    expect(res.statusCode).toBe(401);
  });

  it('never caches methods that do not declare it', async () => {
    const res = await send({ url: '/v1/mirror/x' });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.etag).toBeUndefined();
    expect(res.headers['x-cache']).toBeUndefined();
  });

  it('keys private responses by user', async () => {
    const mine = await send({ url: '/v1/contacts', headers: { authorization: alice } });
    const theirs = await send({ url: '/v1/contacts', headers: { authorization: bob } });
    expect(mine.json().ownerId).toBe('u1');
    expect(theirs.json().ownerId).toBe('u2');
    expect(mine.headers).toMatchObject({ 'cache-control': 'private, max-age=30', vary: 'authorization' });
    const again = await send({ url: '/v1/contacts', headers: { authorization: bob } });
    expect(again.headers['x-cache']).toBe('HIT');
    expect(again.json().ownerId).toBe('u2');
  });

  it('makes one upstream call for many concurrent misses of one key', async () => {
    fx.upstream.state.profiles.set('u-many', { nickname: 'many', about: '' });
    fx.upstream.state.profileDelayMs = 150;
    try {
      const before = fx.upstream.state.calls.get('GetProfile') ?? 0;
      const results = await Promise.all(Array.from({ length: 25 }, () => getUser('u-many')));
      expect(results.map((r) => r.statusCode)).toEqual(Array(25).fill(200));
      expect(new Set(results.map((r) => r.body)).size).toBe(1);
      expect((fx.upstream.state.calls.get('GetProfile') ?? 0) - before).toBe(1);
    } finally {
      fx.upstream.state.profileDelayMs = 0;
    }
  });

  it('shares errors of a fill but never caches them', async () => {
    const missing = await getUser('nobody');
    expect(missing.statusCode).toBe(404);
    fx.upstream.state.profiles.set('nobody', { nickname: 'late', about: '' });
    expect((await getUser('nobody')).statusCode).toBe(200);
  });

  it('shows a profile update on the very next read once its event is applied', async () => {
    fx.upstream.state.profiles.set('u3', { nickname: 'carol', about: 'before' });
    expect((await getUser('u3')).json().profile.about).toBe('before');
    expect((await getUser('u3')).headers['x-cache']).toBe('HIT');
    // The service changes the profile and publishes user.user.updated (key: the user id).
    (fx.upstream.state.profiles.get('u3') as { about: string }).about = 'after';
    expect((await getUser('u3')).json().profile.about).toBe('before');
    await publishAndApply(bus, [fx], 'user.user.updated', 'u3');
    const next = await getUser('u3');
    expect(next.headers['x-cache']).toBe('MISS');
    expect(next.json().profile.about).toBe('after');
    // Other users' entries are untouched.
    expect((await getUser('u2')).headers['x-cache']).toBe('HIT');
  });

  it('serves an upper-case id URL the fresh profile once the event (lowercase id) is applied', async () => {
    // Services store and name ids in lowercase; a client may type them in any case.
    const id = randomUUID();
    const upper = id.toUpperCase();
    fx.upstream.state.profiles.set(id, { nickname: 'dave', about: 'before' });
    expect((await getUser(upper)).json().profile.about).toBe('before');
    expect((await getUser(upper)).headers['x-cache']).toBe('HIT');
    (fx.upstream.state.profiles.get(id) as { about: string }).about = 'after';
    await publishAndApply(bus, [fx], 'user.user.updated', id);
    for (const spelling of [upper, id]) {
      const res = await getUser(spelling);
      expect(res.statusCode).toBe(200);
      expect(res.json().profile.about).toBe('after');
    }
  });

  it('invalidates private entries of both users named in a pair key', async () => {
    for (const auth of [alice, bob]) await send({ url: '/v1/contacts', headers: { authorization: auth } });
    await publishAndApply(bus, [fx], 'subscriber.friendship.confirmed', 'u1:u2');
    for (const auth of [alice, bob]) {
      const res = await send({ url: '/v1/contacts', headers: { authorization: auth } });
      expect(res.headers['x-cache']).toBe('MISS');
    }
  });
});

describe('response cache (Redis, shared by replicas)', () => {
  it('is shared by two gateways and invalidated once for both', async () => {
    const catalog = await testCatalog();
    const auth = await createTestAuth();
    const upstream = await startTestUpstream(catalog, auth);
    const bus = new InProcessEventBus();
    const redisA = new Redis(redisUrl);
    const redisB = new Redis(redisUrl);
    const common = { catalog, testAuth: auth, upstreamFixture: upstream, eventBus: bus };
    const a = await startGateway({ ...common, redis: redisA });
    const b = await startGateway({ ...common, redis: redisB });
    const id = `u-${Date.now()}`;
    upstream.state.profiles.set(id, { nickname: 'shared', about: 'v1' });
    const token = `Bearer ${await auth.token('u1')}`;
    const read = (g: GatewayFixture) =>
      g.app.inject({ method: 'GET', url: `/v1/users/${id}`, headers: { authorization: token } });
    try {
      const first = await read(a);
      expect(first.headers['x-cache']).toBe('MISS');
      const other = await read(b);
      expect(other.headers['x-cache']).toBe('HIT');
      expect(other.headers.etag).toBe(first.headers.etag);
      (upstream.state.profiles.get(id) as { about: string }).about = 'v2';
      await publishAndApply(bus, [a, b], 'user.user.updated', id);
      const afterA = await read(a);
      expect(afterA.json().profile.about).toBe('v2');
      expect((await read(b)).headers['x-cache']).toBe('HIT');
    } finally {
      await a.app.close();
      await b.app.close();
      await bus.close();
      redisA.disconnect();
      redisB.disconnect();
      await upstream.close();
      auth.revocations.close();
    }
  });
});
