import { createRequire } from 'node:module';
import fastifyRateLimit, { type FastifyRateLimitOptions, type RateLimitPluginOptions } from '@fastify/rate-limit';
import { RateLimitClass } from '@messenger/gen/messenger/options/v1/options';
import type { Logger } from '@messenger/platform';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { Code, GatewayError } from '../errors/status.ts';
import { withTimeout } from '../redis-timeout.ts';

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
}

export const DEFAULT_BUDGETS: RateLimitBudgets = {
  default: { max: 600, windowMs: 60_000 },
  strict: { max: 10, windowMs: 60_000 },
  stream: { max: 30, windowMs: 60_000 },
};

export interface RateLimitOptions {
  readonly budgets: RateLimitBudgets;
  /** Shared counters for every gateway replica; absent → this process's own (embedded mode). */
  readonly redis?: Redis;
  /** Longest wait for Redis per request before falling back; default 100 ms. */
  readonly redisTimeoutMs?: number;
  /** After a Redis failure, how long to use local counters before trying Redis again; default 1 s. */
  readonly redisRetryMs?: number;
  /** Keys tracked by the local store; default 10 000. */
  readonly localKeys?: number;
  readonly log: Logger;
  readonly onFallback?: () => void;
}

export type BudgetName = keyof RateLimitBudgets;

export function budgetOf(cls: RateLimitClass): BudgetName {
  switch (cls) {
    case RateLimitClass.RATE_LIMIT_CLASS_STRICT:
      return 'strict';
    case RateLimitClass.RATE_LIMIT_CLASS_STREAM:
      return 'stream';
    default:
      return 'default';
  }
}

export function validateBudgets(budgets: RateLimitBudgets): void {
  for (const name of ['default', 'strict', 'stream'] as const) {
    const b = budgets[name];
    if (!b || !Number.isSafeInteger(b.max) || b.max < 1 || !Number.isSafeInteger(b.windowMs) || b.windowMs < 1) {
      throw new TypeError(`rateLimits.${name} needs positive integer max and windowMs`);
    }
  }
}

type StoreResult = { current: number; ttl: number };
type StoreCallback = (err: Error | null, res?: StoreResult) => void;
interface StoreLike {
  incr(key: string, cb: StoreCallback, timeWindow: number, max: number): void;
}
type StoreCtor = new (...args: unknown[]) => StoreLike;

// The plugin's own two stores, composed below rather than re-implemented.
const require = createRequire(import.meta.url);
const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as StoreCtor;
const RedisStore = require('@fastify/rate-limit/store/RedisStore.js') as StoreCtor;

/**
 * The store behind every limited route. With Redis: the plugin's RedisStore
 * (one atomic Lua INCR per request), shared by all replicas, so a budget
 * holds across instances.
 *
 * When Redis is unreachable or slow (a command failing or exceeding
 * `redisTimeoutMs`), the gateway neither fails the request nor lets it
 * through unlimited: it counts in the plugin's LocalStore for `redisRetryMs`,
 * then tries Redis again. Budgets then hold per instance — at worst
 * replicas × budget cluster-wide while Redis is down — and the outage of a
 * cache-class dependency never takes the API down with it. Each fallback is
 * counted (metric) and logged at most every 10 s.
 *
 * One store serves every route (`child` returns it), and keys carry the
 * class, so a class's budget is shared by all of its routes.
 */
function fallbackStoreClass(opts: RateLimitOptions): new (params: unknown) => StoreLike & { child(): StoreLike } {
  const timeoutMs = opts.redisTimeoutMs ?? 100;
  const retryMs = opts.redisRetryMs ?? 1000;
  return class FallbackStore {
    readonly local = new LocalStore(false, false, opts.localKeys ?? 10_000);
    readonly redis = opts.redis ? new RedisStore(false, false, opts.redis, 'gw:rl:') : undefined;
    redisDownUntil = 0;
    lastWarn = 0;

    incr(key: string, cb: StoreCallback, timeWindow: number, max: number): void {
      const redis = this.redis;
      if (redis === undefined || Date.now() < this.redisDownUntil) {
        this.local.incr(key, cb, timeWindow, max);
        return;
      }
      const viaRedis = new Promise<StoreResult>((resolve, reject) =>
        redis.incr(
          key,
          (err, res) => (err || !res ? reject(err ?? new Error('no result')) : resolve(res)),
          timeWindow,
          max,
        ),
      );
      withTimeout(viaRedis, timeoutMs).then(
        (res) => cb(null, res),
        (err: unknown) => {
          this.redisDownUntil = Date.now() + retryMs;
          opts.onFallback?.();
          const now = Date.now();
          if (now - this.lastWarn > 10_000) {
            this.lastWarn = now;
            opts.log.warn({ err }, 'rate-limit store (Redis) failed; counting locally for now');
          }
          this.local.incr(key, cb, timeWindow, max);
        },
      );
    }

    child(): StoreLike {
      return this;
    }
  };
}

/**
 * Registers `@fastify/rate-limit` (not global: only RPC routes opt in, via
 * `routeRateLimit`). 429 answers carry `Retry-After` and the draft-spec
 * `RateLimit-Limit/Remaining/Reset` headers, which every limited response
 * carries too.
 */
export async function registerRateLimit(app: FastifyInstance, opts: RateLimitOptions): Promise<void> {
  validateBudgets(opts.budgets);
  const settings: RateLimitPluginOptions = {
    global: false,
    hook: 'onRequest',
    enableDraftSpec: true,
    store: fallbackStoreClass(opts) as unknown as RateLimitPluginOptions['store'],
    errorResponseBuilder: (_req, ctx) =>
      new GatewayError(Code.RESOURCE_EXHAUSTED, `rate limit exceeded; retry in ${ctx.after}`, {
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.RetryInfo',
            retryDelay: `${Math.max(1, Math.ceil(ctx.ttl / 1000))}s`,
          },
        ],
      }),
  };
  await app.register(fastifyRateLimit, settings);
}

/** The per-route `config.rateLimit` of an RPC route of the given class. */
export function routeRateLimit(budgets: RateLimitBudgets, cls: RateLimitClass): FastifyRateLimitOptions {
  const name = budgetOf(cls);
  const budget = budgets[name];
  return {
    max: budget.max,
    timeWindow: budget.windowMs,
    keyGenerator: (req: FastifyRequest) => (req.caller ? `${name}:u:${req.caller.userId}` : `${name}:ip:${req.ip}`),
  };
}
