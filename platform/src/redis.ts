import { Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from './logger.ts';

export interface RedisClientOptions {
  readonly url: string;
  /** What this connection is for, on every log line and as the `client` label of `redis_up`. */
  readonly name: string;
  /** Longest wait for one command's reply before it fails. */
  readonly commandTimeoutMs: number;
  readonly logger: Pick<Logger, 'warn' | 'info'>;
  /** Where `redis_up` is registered; absent, no gauge. */
  readonly registry?: Registry;
}

/**
 * A Redis client for a request path: a command either gets its answer within
 * `commandTimeoutMs` or fails, so a caller can go on without Redis instead of
 * holding the request.
 *
 * - `enableOfflineQueue: false`: while disconnected a command fails at once
 *   rather than waiting in ioredis' queue for a reconnect that may take
 *   seconds (the cause of multi-second requests during an outage).
 * - `maxRetriesPerRequest: 0`: a command in flight when the connection drops
 *   fails instead of being replayed after reconnecting.
 * - `commandTimeout`: bounds a command sent to a Redis that accepts the
 *   connection but does not answer (overloaded, paused, a black-holed link).
 *
 * Reconnecting stays automatic (ioredis' default backoff). Connection errors
 * go to the structured logger once per state change — unreachable once,
 * reachable again once — and `redis_up{client}` shows the state; ioredis'
 * own `Unhandled error event` line never appears because `error` has a
 * listener. The caller connects (`connect()`) and closes the client
 * (`closeRedisClient`).
 */
export function createRedisClient(opts: RedisClientOptions): Redis {
  const client = new Redis(opts.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: opts.commandTimeoutMs,
  });
  const up = opts.registry ? redisUpGauge(opts.registry) : undefined;
  let state: 'unknown' | 'up' | 'down' = 'unknown';
  up?.set({ client: opts.name }, 0);
  client.on('ready', () => {
    if (state === 'down') opts.logger.info({ redis: opts.name }, 'redis reachable again');
    state = 'up';
    up?.set({ client: opts.name }, 1);
  });
  client.on('error', (err: Error) => {
    if (state === 'down') return;
    state = 'down';
    up?.set({ client: opts.name }, 0);
    opts.logger.warn({ redis: opts.name, err: { message: err.message, code: codeOf(err) } }, 'redis unreachable');
  });
  client.on('close', () => {
    if (state !== 'up') return;
    state = 'down';
    up?.set({ client: opts.name }, 0);
    opts.logger.warn({ redis: opts.name }, 'redis connection lost; reconnecting');
  });
  return client;
}

function codeOf(err: Error): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** One gauge per registry, shared by every client registered there. */
function redisUpGauge(registry: Registry): Gauge<'client'> {
  const existing = registry.getSingleMetric('redis_up');
  if (existing) return existing as Gauge<'client'>;
  return new Gauge({
    name: 'redis_up',
    help: '1 while this process has a working connection to Redis, by what the connection is for.',
    labelNames: ['client'],
    // Across the workers of a process group: 0 as soon as one of them has lost Redis.
    aggregator: 'min',
    registers: [registry],
  });
}

/** Quits politely when connected; otherwise (no queue to send QUIT through) just stops reconnecting. */
export async function closeRedisClient(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    await client.quit();
  } else {
    client.disconnect();
  }
}
