import type { FastifyBaseLogger } from 'fastify';

/** Thrown when a Redis command takes longer than the gateway is willing to wait. */
export class RedisTimeoutError extends Error {
  constructor(ms: number) {
    super(`redis command timed out after ${ms} ms`);
    this.name = 'RedisTimeoutError';
  }
}

/** Thrown instead of trying Redis while it is left alone after a failure. */
export class RedisSkippedError extends Error {
  constructor() {
    super('redis is skipped for a while after a failure');
    this.name = 'RedisSkippedError';
  }
}

/**
 * Bounds a Redis command. ioredis may queue commands while reconnecting
 * (its offline queue), which would hold a request for seconds; the gateway
 * would rather treat the command as failed and degrade.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisTimeoutError(ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface RedisGuardOptions {
  /** What uses Redis, for the warning: `rate-limit store (Redis)`. */
  readonly name: string;
  /** What happens meanwhile, for the warning: `counting locally for now`. */
  readonly meanwhile: string;
  /** Longest wait for one command before it counts as failed; default 100 ms. */
  readonly timeoutMs?: number;
  /** After a failure, how long Redis is left alone before it is tried again; default 1 s. */
  readonly retryMs?: number;
  readonly log?: Pick<FastifyBaseLogger, 'warn'>;
  /** Called on every failure (a metric). */
  readonly onFailure?: () => void;
}

/** A warning at most this often, however many failures there are. */
const WARN_EVERY_MS = 10_000;

/**
 * Redis holds what the gateway can do without for a while (shared
 * rate-limit counters, cached responses). When it is unreachable or slow,
 * requests are neither failed nor made to wait: every command is bounded by
 * `timeoutMs`, and after a failure Redis is left alone for `retryMs`, so
 * only one request in that time pays the timeout; the caller goes on without
 * it meanwhile. Each failure is counted; a warning is logged at most every
 * 10 s.
 */
export class RedisGuard {
  readonly timeoutMs: number;
  readonly #opts: RedisGuardOptions;
  readonly #retryMs: number;
  #downUntil = 0;
  #lastWarn = 0;

  constructor(opts: RedisGuardOptions) {
    this.#opts = opts;
    this.timeoutMs = opts.timeoutMs ?? 100;
    this.#retryMs = opts.retryMs ?? 1000;
  }

  /** False while Redis is left alone after a failure. */
  get available(): boolean {
    return Date.now() >= this.#downUntil;
  }

  /** Runs one command, bounded; rejects at once while Redis is left alone. */
  async run<T>(op: string, command: () => Promise<T>): Promise<T> {
    if (!this.available) throw new RedisSkippedError();
    try {
      return await withTimeout(command(), this.timeoutMs);
    } catch (err) {
      this.#failed(op, err);
      throw err;
    }
  }

  #failed(op: string, err: unknown): void {
    const now = Date.now();
    this.#downUntil = now + this.#retryMs;
    this.#opts.onFailure?.();
    if (now - this.#lastWarn > WARN_EVERY_MS) {
      this.#lastWarn = now;
      this.#opts.log?.warn({ err, op }, `${this.#opts.name} failed; ${this.#opts.meanwhile}`);
    }
  }
}
