import fastifyRateLimit, { type FastifyRateLimitStore, type RateLimitOptions } from '@fastify/rate-limit';
import { Access, RateLimitClass } from '@messenger/gen/messenger/options/v1/options';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { Code, GatewayError } from '../../errors/status.ts';
import { positiveInt } from '../../options.ts';
import { RedisGuard } from '../../redis-guard.ts';
import { rateLimitStoreClass } from './rate-limit-store.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route the gateway serves itself for signed-in users, limited like RPCs of this class. */
    signedInRateLimit?: RateLimitClass;
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

type BudgetName = Exclude<keyof RateLimitBudgets, 'unverified'>;

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
 * `@fastify/rate-limit`, not global: each RPC route is limited by the budget
 * of its contract's class, keyed by the caller's user id (the auth plugin
 * has set it by then) or, anonymous, the client IP; the gateway's own
 * endpoints are not limited, but for those declaring `signedInRateLimit`. 429 answers carry `Retry-After` and the
 * draft-spec `RateLimit-Limit/Remaining/Reset` headers, which every limited
 * response carries too.
 *
 * Before that, ahead of even the token check, a non-public route counts
 * per client IP every request whose token the auth plugin does not
 * remember (missing, forged, expired, or new): past the `unverified` budget
 * such requests get 429 without a signature check, so a flood of forged
 * tokens costs a counter increment each, not an ES256 verification. Tokens
 * already verified are not counted: signed-in users behind the same address
 * keep working.
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
  const store = rateLimitStoreClass({
    redis: opts.redis,
    guard,
    localKeys: positiveInt('rateLimits.localKeys', opts.localKeys, 10_000),
    prefix: 'gw:rl:',
  });

  const unverified = unverifiedHook(app, new store({}), budgets.unverified);
  // Runs before the plugin's own onRoute hook (added by the register below), which reads `config.rateLimit`,
  // and after the auth plugin's, whose token check it goes ahead of.
  app.addHook('onRoute', (route) => {
    const rpc = route.config?.rpc;
    const cls = rpc === undefined ? route.config?.signedInRateLimit : rpc.method.rateLimit;
    if (cls === undefined) return;
    route.config = { ...route.config, rateLimit: routeRateLimit(budgets, cls) };
    if (rpc === undefined || rpc.method.access !== Access.ACCESS_PUBLIC) {
      route.onRequest = [unverified, ...(route.onRequest === undefined ? [] : [route.onRequest].flat())];
    }
  });
  await app.register(fastifyRateLimit, {
    global: false,
    hook: 'onRequest',
    enableDraftSpec: true,
    store,
    errorResponseBuilder: (_req, ctx) =>
      new GatewayError(Code.RESOURCE_EXHAUSTED, `rate limit exceeded; retry in ${ctx.after}`, {
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.RetryInfo',
            retryDelay: `${Math.max(1, Math.ceil(ctx.ttl / 1000))}s`,
          },
        ],
      }),
  });
}

/** The first `onRequest` hook of a non-public route: the per-IP budget of requests needing a token check. */
function unverifiedHook(
  app: FastifyInstance,
  store: FastifyRateLimitStore,
  budget: RateLimitBudget,
): onRequestHookHandler {
  // A callback hook, not an async one: a remembered token (nearly every
  // request) passes without a promise.
  return (req, _reply, done) => {
    if (app.tokenRemembered(req.headers.authorization)) {
      done();
      return;
    }
    store.incr(
      `unverified:ip:${req.ip}`,
      (error, counted) => {
        if (error || counted === undefined) done(error ?? new Error('rate-limit store answered without a count'));
        else if (counted.current <= budget.max) done();
        else done(unverifiedExceeded(counted.ttl));
      },
      budget.windowMs,
      budget.max,
    );
  };
}

function unverifiedExceeded(ttlMs: number): GatewayError {
  const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
  return new GatewayError(Code.RESOURCE_EXHAUSTED, `too many requests without a valid token; retry in ${seconds}s`, {
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

/** The per-route `config.rateLimit` of an RPC route of the given class. */
function routeRateLimit(budgets: RateLimitBudgets, cls: RateLimitClass): RateLimitOptions {
  const name = budgetOf(cls);
  const budget = budgets[name];
  return {
    max: budget.max,
    timeWindow: budget.windowMs,
    keyGenerator: (req: FastifyRequest) => (req.caller ? `${name}:u:${req.caller.userId}` : `${name}:ip:${req.ip}`),
  };
}
