// The presence registry shared by every chat process through Redis (cluster
// mode). Per user, a sorted set of leases (stream id, scored by expiry) and
// a last-seen time; both keys carry the user id as hash tag so each script
// touches one slot. Each operation is one Lua script, so a lease that
// expired is folded into the last seen by whoever looks first, atomically.
import type { Redis } from 'ioredis';
import type { PresenceRecord, PresenceRegistry } from '../domain/presence.ts';

/** A last seen is kept this long after it was written (so are the keys of a user who never returns). */
export const LAST_SEEN_KEPT_MS = 30 * 86_400_000;

// KEYS[1] leases, KEYS[2] last seen; ARGV[1] now. Removes the expired
// leases, raising the last seen to the latest of their expiries.
const FOLD = `
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES')
local last = tonumber(redis.call('GET', KEYS[2]))
if #expired > 0 then
  for i = 2, #expired, 2 do
    local at = tonumber(expired[i])
    if not last or at > last then last = at end
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
  redis.call('SET', KEYS[2], last, 'PX', ARGV[2])
end
`;
// The record: live leases and the last seen (false when none).
const RECORD = `return {redis.call('ZCARD', KEYS[1]), last or false}`;

// ARGV: now, kept ms, stream id, expiry. The record before the lease is added.
const OPEN = `${FOLD}
local live = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {live, last or false}`;

// ARGV: now, kept ms, stream id. Removes the lease; the last seen becomes now.
const CLOSE = `${FOLD}
redis.call('ZREM', KEYS[1], ARGV[3])
if not last or tonumber(ARGV[1]) > last then last = tonumber(ARGV[1]) end
redis.call('SET', KEYS[2], last, 'PX', ARGV[2])
${RECORD}`;

// ARGV: now, kept ms.
const READ = `${FOLD}
${RECORD}`;

export interface RedisPresenceRegistryOptions {
  readonly redis: Redis;
  /** Before every key; tests give each run its own. */
  readonly keyPrefix?: string;
}

export class RedisPresenceRegistry implements PresenceRegistry {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(opts: RedisPresenceRegistryOptions) {
    this.#redis = opts.redis;
    this.#prefix = opts.keyPrefix ?? 'chat:presence:';
  }

  async open(userId: string, streamId: string, nowMs: number, expiresAtMs: number): Promise<PresenceRecord> {
    return recordOf(
      await this.#redis.eval(OPEN, 2, ...this.#keys(userId), nowMs, LAST_SEEN_KEPT_MS, streamId, expiresAtMs),
    );
  }

  async refresh(leases: readonly { userId: string; streamId: string }[], expiresAtMs: number): Promise<void> {
    if (leases.length === 0) return;
    const pipeline = this.#redis.pipeline();
    // XX: a lease someone already found expired and removed is not brought back.
    for (const { userId, streamId } of leases) pipeline.zadd(this.#keys(userId)[0], 'XX', expiresAtMs, streamId);
    for (const [, error] of (await pipeline.exec()) ?? []) if (error) throw error;
  }

  async close(userId: string, streamId: string, nowMs: number): Promise<PresenceRecord> {
    return recordOf(await this.#redis.eval(CLOSE, 2, ...this.#keys(userId), nowMs, LAST_SEEN_KEPT_MS, streamId));
  }

  async records(userIds: readonly string[], nowMs: number): Promise<PresenceRecord[]> {
    if (userIds.length === 0) return [];
    const pipeline = this.#redis.pipeline();
    for (const id of userIds) pipeline.eval(READ, 2, ...this.#keys(id), nowMs, LAST_SEEN_KEPT_MS);
    return ((await pipeline.exec()) ?? []).map(([error, reply]) => {
      if (error) throw error;
      return recordOf(reply);
    });
  }

  #keys(userId: string): [string, string] {
    return [`${this.#prefix}{${userId}}:leases`, `${this.#prefix}{${userId}}:seen`];
  }
}

function recordOf(reply: unknown): PresenceRecord {
  const [live, last] = reply as [number, number | null];
  return { liveStreams: live, lastSeenMs: last ?? undefined };
}
