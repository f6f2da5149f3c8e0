import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { RedisGuard } from '../../redis-guard.ts';

/** A key's count in its current window, and the milliseconds left of that window. */
export interface Counted {
  readonly current: number;
  readonly ttl: number;
}

/** Called at once when counted locally, later when counted in Redis. */
export type IncrCallback = (...result: [error: null, counted: Counted] | [error: Error, counted: undefined]) => void;

/** Fixed-window request counters. */
export interface CounterStore {
  /** Counts one request against `key` in a window of `windowMs` that its first request starts. */
  incr(key: string, windowMs: number, cb: IncrCallback): void;
  /**
   * The same count, when it can be made without waiting (the counters are
   * this process's) and stays within `max`; otherwise counts nothing and
   * returns undefined, and `incr` decides.
   */
  incrNowWithin(key: string, windowMs: number, max: number): Counted | undefined;
}

// KEYS: the counter; ARGV: the window in ms. One fixed window per key: the
// first hit of a window starts its expiry. Returns {count, ms left}.
const INCR_SCRIPT = `
local current = redis.call('INCR', KEYS[1])
local ttl = tonumber(ARGV[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ttl) else ttl = redis.call('PTTL', KEYS[1]) end
return {current, ttl}
`;

export interface RateLimitStoreOptions {
  /** Shared counters for every gateway replica; absent → this process's own (embedded mode). */
  readonly redis?: Redis;
  /** Bounds each Redis command and leaves Redis alone for a while after a failure. */
  readonly guard: RedisGuard;
  /** Keys tracked by the local counters. */
  readonly localKeys: number;
  /** Redis key prefix. */
  readonly prefix: string;
}

/** Fixed-window counters of this process, bounded by key count (least recently used go first). */
class LocalCounters {
  readonly #windows: LRUCache<string, { count: number; startedAt: number }>;

  constructor(maxKeys: number) {
    this.#windows = new LRUCache({ max: maxKeys });
  }

  /** Counts one request, unless that would take the count past `max`. */
  incr(key: string, windowMs: number, max = Number.POSITIVE_INFINITY): Counted | undefined {
    const now = Date.now();
    const window = this.#windows.get(key);
    if (window === undefined || window.startedAt + windowMs <= now) {
      if (max < 1) return undefined;
      this.#windows.set(key, { count: 1, startedAt: now });
      return { current: 1, ttl: windowMs };
    }
    if (window.count >= max) return undefined;
    window.count++;
    return { current: window.count, ttl: windowMs - (now - window.startedAt) };
  }
}

/**
 * The counters behind every limited route. With Redis, one atomic script
 * per request counts in Redis, shared by all replicas, so a budget holds
 * across instances.
 *
 * When Redis is unreachable or slow (see RedisGuard), the gateway neither
 * fails the request nor lets it through unlimited: it counts locally until
 * Redis is tried again. Budgets then hold per instance — at worst
 * replicas × budget cluster-wide while Redis is down — and the outage of a
 * cache-class dependency never takes the API down with it.
 *
 * One store serves every route, and keys carry the class, so a class's
 * budget is shared by all of its routes.
 */
export function createRateLimitStore(opts: RateLimitStoreOptions): CounterStore {
  const { redis, guard, prefix } = opts;
  const local = new LocalCounters(opts.localKeys);
  // Without a `max`, the local count always counts.
  const countLocally = (key: string, windowMs: number) => local.incr(key, windowMs) as Counted;
  return {
    incr(key, windowMs, cb) {
      if (redis === undefined || !guard.available) {
        cb(null, countLocally(key, windowMs));
        return;
      }
      guard
        .run('incr', () => redis.eval(INCR_SCRIPT, 1, `${prefix}${key}`, windowMs) as Promise<[number, number]>)
        .then(
          ([current, ttl]) => cb(null, { current, ttl }),
          () => cb(null, countLocally(key, windowMs)),
        );
    },
    incrNowWithin(key, windowMs, max) {
      return redis === undefined || !guard.available ? local.incr(key, windowMs, max) : undefined;
    },
  };
}
