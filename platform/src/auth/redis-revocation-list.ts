import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RevocationList } from './revocation.ts';

export interface RedisRevocationListOptions {
  /** A connected client; the caller owns it (and quits it). */
  readonly redis: Redis;
  /** Prepended to the session id to form the key; default `revoked:`. */
  readonly keyPrefix?: string;
  /** Clock in epoch milliseconds (tests). */
  readonly now?: () => number;
}

// Extend, never shorten: a second revocation with an earlier time must not
// cut the first one short. The deadline (epoch ms) is the value, so the
// comparison needs no clock; PEXPIREAT lets Redis drop the key at that time.
const REVOKE_SCRIPT = `
local deadline = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]))
if current ~= nil and current >= deadline then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], deadline)
return 1
`;
const REVOKE_SCRIPT_SHA = createHash('sha1').update(REVOKE_SCRIPT).digest('hex');

/**
 * Revoked sessions in Redis, shared by every replica that verifies tokens:
 * one key per session, `<prefix><sessionId>`, expiring when the revocation
 * does, so the set never outgrows the validity horizon. A lookup is one
 * `EXISTS`; Redis never returns a key past its expiry.
 */
export class RedisRevocationList implements RevocationList {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #now: () => number;

  constructor(opts: RedisRevocationListOptions) {
    if (!opts.redis) throw new TypeError('redis is required');
    this.#redis = opts.redis;
    this.#prefix = opts.keyPrefix ?? 'revoked:';
    if (typeof this.#prefix !== 'string') throw new TypeError('keyPrefix must be a string');
    this.#now = opts.now ?? Date.now;
  }

  async revokeSession(sessionId: string, untilEpochSeconds: number): Promise<void> {
    if (typeof sessionId !== 'string' || sessionId === '') throw new TypeError('sessionId is required');
    if (!Number.isFinite(untilEpochSeconds)) throw new TypeError('untilEpochSeconds must be a finite number');
    // Milliseconds, rounded up: `until` may be fractional and is exclusive.
    const untilMs = Math.ceil(untilEpochSeconds * 1000);
    if (untilMs <= this.#now()) return;
    await this.#eval(this.#key(sessionId), String(untilMs));
  }

  async isRevoked(sessionId: string): Promise<boolean> {
    if (typeof sessionId !== 'string' || sessionId === '') return false;
    return (await this.#redis.exists(this.#key(sessionId))) === 1;
  }

  #key(sessionId: string): string {
    return `${this.#prefix}${sessionId}`;
  }

  /** EVALSHA, loading the script on a server that does not have it yet (new, restarted, flushed). */
  async #eval(key: string, untilMs: string): Promise<void> {
    try {
      await this.#redis.evalsha(REVOKE_SCRIPT_SHA, 1, key, untilMs);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      await this.#redis.eval(REVOKE_SCRIPT, 1, key, untilMs);
    }
  }
}
