// The gateway's class budgets are its own callback hook; they replaced
// `@fastify/rate-limit` (configured as the gateway configured it: per route,
// draft-spec headers, the gateway's store and 429 body). The same requests
// go through a route limited by each, and every answer must be the same:
// status, rate-limit headers and body — with the local counters and with
// the counters in Redis.
import { randomUUID } from 'node:crypto';
import fastifyRateLimit, { type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { UserCaller } from '@messenger/platform/auth';
import { createLogger } from '@messenger/platform/logger';
import { BoundHistogram } from '@messenger/platform/metrics';
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { createInstance } from '../src/instance.ts';
import {
  budgetExceeded,
  classKey,
  classLimitHook,
  DEFAULT_BUDGETS,
  type RateLimitBudgets,
} from '../src/plugins/rate-limit/rate-limit.plugin.ts';
import { type CounterStore, createRateLimitStore } from '../src/plugins/rate-limit/rate-limit-store.ts';
import { RedisGuard } from '../src/redis-guard.ts';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
  throw new Error('REDIS_URL is not set. Run the tests under scripts/with-test-infra.sh.');
}

const BUDGETS: Required<RateLimitBudgets> = { ...DEFAULT_BUDGETS, default: { max: 3, windowMs: 60_000 } };
const log = createLogger({ level: 'silent', service: 'rate-limit-conformance' });

function store(redis: Redis | undefined, prefix: string): CounterStore {
  const guard = new RedisGuard({ name: 'rate-limit store (Redis)', meanwhile: 'counting locally', log });
  return createRateLimitStore({ redis, guard, localKeys: 1000, prefix });
}

function instance(): FastifyInstance {
  const requestDuration = new BoundHistogram({
    name: 'd',
    help: 'h',
    labelNames: ['method', 'route', 'status'],
    buckets: [1],
    registry: new Registry(),
  });
  const app = createInstance({ logger: log, requestDuration });
  app.decorateRequest('caller', null);
  return app;
}

/** Stands in for the auth plugin's hook: the caller named by `x-user`, none without it. */
const signIn: onRequestHookHandler = (req, _reply, done) => {
  const user = req.headers['x-user'];
  req.caller = typeof user === 'string' ? ({ userId: user } as UserCaller) : null;
  done();
};

/** The library, as the gateway configured it, counting in `counters`. */
async function libraryLimited(counters: CounterStore): Promise<FastifyInstance> {
  const app = instance();
  // The library's store shape: a class, `incr(key, cb, window)`.
  const Store = class {
    incr(key: string, cb: (error: Error | null, counted?: { current: number; ttl: number }) => void, window: number) {
      counters.incr(key, window, (error, counted) => cb(error, counted));
    }
    child() {
      return this;
    }
  } as unknown as FastifyRateLimitStoreCtor;
  await app.register(fastifyRateLimit, {
    global: false,
    hook: 'onRequest',
    enableDraftSpec: true,
    store: Store,
    errorResponseBuilder: (_req, ctx) => budgetExceeded('rate limit exceeded', ctx.ttl),
  });
  app.get(
    '/r',
    {
      onRequest: signIn,
      config: {
        rateLimit: {
          max: BUDGETS.default.max,
          timeWindow: BUDGETS.default.windowMs,
          keyGenerator: (req) => classKey('default', req),
        },
      },
    },
    async () => ({ ok: true }),
  );
  return app;
}

async function ownLimited(counters: CounterStore): Promise<FastifyInstance> {
  const app = instance();
  app.get('/r', { onRequest: [signIn, classLimitHook(counters, 'default', BUDGETS)] }, async () => ({ ok: true }));
  return app;
}

/** Users and client addresses taking turns, each past its budget. */
function requests(): { user?: string; ip: string }[] {
  const run = randomUUID();
  const out: { user?: string; ip: string }[] = [];
  for (let round = 0; round < 5; round++) {
    out.push({ user: `alice-${run}`, ip: '10.0.0.1' });
    out.push({ user: `bob-${run}`, ip: '10.0.0.1' });
    // Anonymous: by address, so a fresh address per run.
    out.push({ ip: `10.1.${round % 2}.${Number.parseInt(run.slice(0, 2), 16)}` });
    if (round % 2 === 0) out.push({ user: `alice-${run}`, ip: '10.0.0.2' });
  }
  return out;
}

const COMPARED = ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'retry-after', 'content-type'];

async function answers(app: FastifyInstance, sequence: { user?: string; ip: string }[]) {
  const out = [];
  for (const r of sequence) {
    const res = await app.inject({
      method: 'GET',
      url: '/r',
      remoteAddress: r.ip,
      headers: r.user === undefined ? {} : { 'x-user': r.user },
    });
    out.push({
      status: res.statusCode,
      headers: Object.fromEntries(COMPARED.map((h) => [h, res.headers[h]])),
      body: res.json(),
    });
  }
  return out;
}

describe.each([
  ['local counters', () => undefined],
  ['counters in Redis', () => new Redis(redisUrl, { lazyConnect: false })],
])('class budgets against @fastify/rate-limit, %s', (_name, connect) => {
  let redis: Redis | undefined;
  beforeAll(() => {
    redis = connect();
  });
  afterAll(() => redis?.quit());

  it('answers every request as the library does', async () => {
    const sequence = requests();
    const library = await libraryLimited(store(redis, `conf:lib:${randomUUID()}:`));
    const own = await ownLimited(store(redis, `conf:own:${randomUUID()}:`));
    try {
      const expected = await answers(library, sequence);
      const actual = await answers(own, sequence);
      // The sequence reaches every outcome: allowed with budget left, the last allowed, refused.
      expect(expected.map((a) => a.headers['ratelimit-remaining'])).toEqual(expect.arrayContaining(['2', '1', '0']));
      expect(expected.filter((a) => a.status === 429).length).toBeGreaterThanOrEqual(4);
      expect(expected.find((a) => a.status === 429)).toMatchObject({
        headers: { 'ratelimit-limit': '3', 'ratelimit-remaining': '0', 'retry-after': '60' },
        body: { code: 8, message: 'rate limit exceeded; retry in 60s' },
      });
      expect(actual).toEqual(expected);
    } finally {
      await Promise.all([library.close(), own.close()]);
    }
  });
});
