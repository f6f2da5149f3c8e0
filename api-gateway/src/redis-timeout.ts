/** Thrown when a Redis command takes longer than the gateway is willing to wait. */
export class RedisTimeoutError extends Error {
  constructor(ms: number) {
    super(`redis command timed out after ${ms} ms`);
    this.name = 'RedisTimeoutError';
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
