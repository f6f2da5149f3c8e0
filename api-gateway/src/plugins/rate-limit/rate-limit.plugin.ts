import { Access, RateLimitClass } from '@messenger/gen/messenger/options/v1/options';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { Code, GatewayError } from '../../errors/status.ts';
import { decimal } from '../../marshal/decimal.ts';
import { positiveInt } from '../../options.ts';
import { RedisGuard } from '../../redis-guard.ts';
import { type Counted, type CounterStore, createRateLimitStore } from './rate-limit-store.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route the gateway serves itself for signed-in users, limited like RPCs of this class. */
    signedInRateLimit?: RateLimitClass;
  }
  interface FastifyInstance {
    /**
     * Counts a signed-in user's request to an RPC of this class when that
     * can be done without waiting and stays within budget, and returns the
     * response's rate-limit headers as name, value, name, value…; otherwise
     * counts nothing and returns undefined, leaving it to the route's hook.
     */
    readonly countSignedInNow: (cls: RateLimitClass, userId: string) => string[] | undefined;
  }
}

export interface RateLimitBudget {
  /** Requests allowed per window. */
  readonly max: number;
  readonly windowMs: number;
}

/** Budgets per class (contract option `rate_limit`); configuration, not code. */
export interface RateLimitBudgets {
  readonly default: RateLimitBudget;
  /** Login, register, token refresh: much smaller. */
  readonly strict: RateLimitBudget;
  /** Opening a stream (counted once per stream). */
  readonly stream: RateLimitBudget;
  /**
   * Per client IP: requests to non-public routes whose token must be
   * verified (none, or one not verified before), counted before verification.
   * Default DEFAULT_BUDGETS.unverified.
   */
  readonly unverified?: RateLimitBudget;
}

export const DEFAULT_BUDGETS: Required<RateLimitBudgets> = {
  default: { max: 600, windowMs: 60_000 },
  strict: { max: 10, windowMs: 60_000 },
  stream: { max: 30, windowMs: 60_000 },
  unverified: { max: 120, windowMs: 60_000 },
};

export interface RateLimitPluginOptions {
  /** Default DEFAULT_BUDGETS. */
  readonly budgets?: RateLimitBudgets;
  /** Shared counters for every gateway replica; absent → this process's own (embedded mode). */
  readonly redis?: Redis;
  /** Longest wait for Redis per request before counting locally; default 100 ms. */
  readonly redisTimeoutMs?: number;
  /** After a Redis failure, how long to count locally before trying Redis again; default 1 s. */
  readonly redisRetryMs?: number;
  /** Keys tracked by the local counters; default 10 000. */
  readonly localKeys?: number;
  /** Called on every Redis failure (a metric). */
  readonly onRedisFallback?: () => void;
}

export type BudgetName = Exclude<keyof RateLimitBudgets, 'unverified'>;

function budgetOf(cls: RateLimitClass): BudgetName {
  switch (cls) {
    case RateLimitClass.RATE_LIMIT_CLASS_STRICT:
      return 'strict';
    case RateLimitClass.RATE_LIMIT_CLASS_STREAM:
      return 'stream';
    default:
      return 'default';
  }
}

function validateBudgets(budgets: Required<RateLimitBudgets>): void {
  for (const name of ['default', 'strict', 'stream', 'unverified'] as const) {
    const b = budgets[name];
    if (!b || !Number.isSafeInteger(b.max) || b.max < 1 || !Number.isSafeInteger(b.windowMs) || b.windowMs < 1) {
      throw new TypeError(`gateway: rateLimits.${name} needs positive integer max and windowMs`);
    }
  }
}

/**
 * Each RPC route is limited by the budget of its contract's class, keyed by
 * the caller's user id (the auth plugin has set it by then) or, anonymous,
 * the client IP; the gateway's own endpoints are not limited, but for those
 * declaring `signedInRateLimit`. Every limited response carries the
 * draft-spec `RateLimit-Limit/Remaining/Reset` headers; a 429 also
 * `Retry-After` and a RetryInfo detail.
 *
 * Before that, ahead of even the token check, a non-public route counts
 * per client IP every request whose token the auth plugin does not
 * remember (missing, forged, expired, or new): past the `unverified` budget
 * such requests get 429 without a signature check, so a flood of forged
 * tokens costs a counter increment each, not an ES256 verification. Tokens
 * already verified are not counted: signed-in users behind the same address
 * keep working.
 *
 * Both are callback hooks: with the local counters (embedded mode, or Redis
 * down) a request is counted without a promise. They replace
 * `@fastify/rate-limit`, whose per-request promises and `routeOptions`
 * reads made a cache hit cost 6.5k more instructions (5 %);
 * `test/rate-limit-conformance.test.ts` runs the same requests through both
 * and compares the answers.
 */
async function rateLimit(app: FastifyInstance, opts: RateLimitPluginOptions): Promise<void> {
  const budgets = { ...DEFAULT_BUDGETS, ...opts.budgets };
  validateBudgets(budgets);
  const guard = new RedisGuard({
    name: 'rate-limit store (Redis)',
    meanwhile: 'counting locally for now',
    timeoutMs: positiveInt('rateLimits.redisTimeoutMs', opts.redisTimeoutMs, 100),
    retryMs: positiveInt('rateLimits.redisRetryMs', opts.redisRetryMs, 1000),
    log: app.log,
    onFailure: opts.onRedisFallback,
  });
  const store = createRateLimitStore({
    redis: opts.redis,
    guard,
    localKeys: positiveInt('rateLimits.localKeys', opts.localKeys, 10_000),
    prefix: 'gw:rl:',
  });

  app.decorate('countSignedInNow', (cls: RateLimitClass, userId: string) => {
    const name = budgetOf(cls);
    const { max, windowMs } = budgets[name];
    const counted = store.incrNowWithin(userKey(name, userId), windowMs, max);
    return counted === undefined ? undefined : limitHeaders(max, counted);
  });

  const unverified = unverifiedHook(app, store, budgets.unverified);
  // After the auth plugin's onRoute hook: the unverified budget goes ahead of
  // its token check, and the class budget after it (keys use `req.caller`).
  app.addHook('onRoute', (route) => {
    const rpc = route.config?.rpc;
    const cls = rpc === undefined ? route.config?.signedInRateLimit : rpc.method.rateLimit;
    if (cls === undefined) return;
    const others = route.onRequest === undefined ? [] : [route.onRequest].flat();
    const first = rpc === undefined || rpc.method.access !== Access.ACCESS_PUBLIC ? [unverified] : [];
    route.onRequest = [...first, ...others, classLimitHook(store, budgetOf(cls), budgets)];
  });
}

/**
 * The last `onRequest` hook the rate-limit plugin adds to a route: its
 * class budget, per user or (anonymous) per client IP.
 */
export function classLimitHook(
  store: CounterStore,
  name: BudgetName,
  budgets: Required<RateLimitBudgets>,
): onRequestHookHandler {
  const { max, windowMs } = budgets[name];
  return (req, reply, done) => {
    store.incr(classKey(name, req), windowMs, (error, counted) => {
      if (error !== null) {
        done(error);
        return;
      }
      const headers = limitHeaders(max, counted);
      for (let i = 0; i < headers.length; i += 2) reply.header(headers[i] as string, headers[i + 1]);
      done(counted.current <= max ? undefined : budgetExceeded('rate limit exceeded', counted.ttl));
    });
  };
}

/** What a class budget is counted by: the signed-in user, else the client IP. */
export function classKey(name: BudgetName, req: FastifyRequest): string {
  return req.caller ? userKey(name, req.caller.userId) : `${name}:ip:${req.ip}`;
}

function userKey(name: BudgetName, userId: string): string {
  return `${name}:u:${userId}`;
}

/**
 * The draft-spec headers of a counted request, as name, value, name, value…
 * The remaining count is new on every request under a large budget, so it is
 * written by `decimal`, which keeps it out of the old generation.
 */
function limitHeaders(max: number, counted: Counted): string[] {
  return [
    'ratelimit-limit',
    String(max),
    'ratelimit-remaining',
    decimal(Math.max(0, max - counted.current)),
    'ratelimit-reset',
    String(Math.ceil(counted.ttl / 1000)),
  ];
}

/** The first `onRequest` hook of a non-public route: the per-IP budget of requests needing a token check. */
function unverifiedHook(app: FastifyInstance, store: CounterStore, budget: RateLimitBudget): onRequestHookHandler {
  // A remembered token (nearly every request) passes without counting.
  return (req, _reply, done) => {
    if (app.tokenRemembered(req.headers.authorization)) {
      done();
      return;
    }
    store.incr(`unverified:ip:${req.ip}`, budget.windowMs, (error, counted) => {
      if (error !== null) done(error);
      else if (counted.current <= budget.max) done();
      else done(budgetExceeded('too many requests without a valid token', counted.ttl));
    });
  };
}

/** The 429 of a spent budget: `Retry-After` and RetryInfo in whole seconds, at least one. */
export function budgetExceeded(what: string, ttlMs: number): GatewayError {
  const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
  return new GatewayError(Code.RESOURCE_EXHAUSTED, `${what}; retry in ${seconds}s`, {
    details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${seconds}s` }],
    headers: { 'retry-after': String(seconds) },
  });
}

export const rateLimitPlugin = fp(rateLimit, {
  name: 'messenger-rate-limit',
  fastify: '5.x',
  // Keys use `req.caller`, which the auth plugin's hook sets first.
  dependencies: ['messenger-auth'],
  decorators: { fastify: ['tokenRemembered'], request: ['caller'] },
});
