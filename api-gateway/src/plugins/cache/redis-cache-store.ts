import type { Redis } from 'ioredis';
import { RedisGuard, type RedisGuardOptions, withTimeout } from '../../redis-guard.ts';
import type { CachedResponse, CacheMark, ResponseCacheStore } from './cache-store.ts';

// KEYS: entry, tag sets…, tag generations… ; ARGV: value, ttl ms, tag count, expected generations…
// Stores only if no tag was invalidated since the fill's mark.
const SET_SCRIPT = `
local n = tonumber(ARGV[3])
for i = 1, n do
  local gen = redis.call('GET', KEYS[1 + n + i]) or ''
  if gen ~= ARGV[3 + i] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
for i = 1, n do
  redis.call('SADD', KEYS[1 + i], KEYS[1])
  local ttl = redis.call('PTTL', KEYS[1 + i])
  if ttl < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1 + i], ARGV[2]) end
end
return 1
`;

// KEYS: tag sets…, tag generations… (same count). Bumps each generation, drops the tagged entries.
const INVALIDATE_SCRIPT = `
local n = #KEYS / 2
for i = 1, n do
  redis.call('INCR', KEYS[n + i])
  redis.call('PEXPIRE', KEYS[n + i], 86400000)
  local members = redis.call('SMEMBERS', KEYS[i])
  for _, key in ipairs(members) do redis.call('DEL', key) end
  redis.call('DEL', KEYS[i])
end
return n
`;

export interface RedisCacheStoreOptions extends Pick<RedisGuardOptions, 'timeoutMs' | 'retryMs' | 'log' | 'onFailure'> {
  /** Key prefix; default `gw:cache:`. */
  readonly prefix?: string;
}

/**
 * Cluster mode: entries shared by every gateway replica. Keys:
 * `<prefix>e:<key>` the entry (`etag \n storedAt \n body`, with a TTL),
 * `<prefix>t:<tag>` the set of entry keys carrying a tag,
 * `<prefix>g:<tag>` the tag's invalidation count (what a fill's mark records).
 * Commands that fail or time out reject, and then Redis is left alone for a
 * while (RedisGuard); the response cache treats a rejection as a miss, so
 * Redis trouble costs latency, never correctness.
 */
export class RedisCacheStore implements ResponseCacheStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #guard: RedisGuard;

  constructor(redis: Redis, opts: RedisCacheStoreOptions = {}) {
    this.#redis = redis;
    this.#prefix = opts.prefix ?? 'gw:cache:';
    this.#guard = new RedisGuard({ ...opts, name: 'response cache store (Redis)', meanwhile: 'serving without it' });
  }

  async get(key: string): Promise<CachedResponse | undefined> {
    const raw = await this.#guard.run('get', () => this.#redis.get(`${this.#prefix}e:${key}`));
    if (raw === null) return undefined;
    const a = raw.indexOf('\n');
    const b = raw.indexOf('\n', a + 1);
    if (a < 0 || b < 0) return undefined;
    return { etag: raw.slice(0, a), storedAt: Number(raw.slice(a + 1, b)), body: raw.slice(b + 1) };
  }

  async mark(tags: readonly string[]): Promise<CacheMark> {
    if (tags.length === 0) return [];
    const gens = await this.#guard.run('mark', () => this.#redis.mget(tags.map((t) => `${this.#prefix}g:${t}`)));
    return gens.map((g) => g ?? '');
  }

  async set(
    key: string,
    value: CachedResponse,
    ttlMs: number,
    tags: readonly string[],
    mark: CacheMark,
  ): Promise<void> {
    const entryKey = `${this.#prefix}e:${key}`;
    const keys = [entryKey, ...tags.map((t) => `${this.#prefix}t:${t}`), ...tags.map((t) => `${this.#prefix}g:${t}`)];
    const args = [
      `${value.etag}\n${value.storedAt}\n${value.body}`,
      String(ttlMs),
      String(tags.length),
      ...(mark as string[]),
    ];
    await this.#guard.run('set', () => this.#redis.eval(SET_SCRIPT, keys.length, ...keys, ...args));
  }

  async invalidate(tags: readonly string[]): Promise<void> {
    if (tags.length === 0) return;
    const keys = [...tags.map((t) => `${this.#prefix}t:${t}`), ...tags.map((t) => `${this.#prefix}g:${t}`)];
    // Not skipped while Redis is left alone, and not counted as a fallback: a
    // failure rejects, so the event bus delivers the event again later. It
    // may touch many keys, hence the longer bound.
    await withTimeout(this.#redis.eval(INVALIDATE_SCRIPT, keys.length, ...keys), this.#guard.timeoutMs * 10);
  }

  async close(): Promise<void> {}
}
