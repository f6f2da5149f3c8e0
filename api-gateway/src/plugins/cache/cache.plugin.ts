import type { EventBus } from '@messenger/platform/events';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { positiveInt } from '../../options.ts';
import type { Route } from '../../routing/route-table.ts';
import { subscribeWhileOpen } from '../event-subscription.ts';
import type { ResponseCacheStore } from './cache-store.ts';
import { MemoryCacheStore } from './memory-cache-store.ts';
import { RedisCacheStore } from './redis-cache-store.ts';
import { createResponseCache, type ResponseCache } from './response-cache.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The response cache of the routes that declare one; null when caching is off. */
    readonly responseCache: ResponseCache | null;
  }
}

export interface CacheOptions {
  /** Default true. */
  readonly enabled?: boolean;
  /** In-memory store size (entries); default 10 000. */
  readonly maxEntries?: number;
  /** Longest wait for Redis per command; default 100 ms. */
  readonly redisTimeoutMs?: number;
}

export interface CachePluginOptions extends CacheOptions {
  readonly routes: readonly Route[];
  /** Shared by every replica; absent → this process's LRU. */
  readonly redis?: Redis;
  /** Where the invalidating events come from; absent, entries expire by TTL only. */
  readonly eventBus?: EventBus;
  /** Called on every Redis failure (a metric). */
  readonly onRedisFallback?: () => void;
  /** Called after each event that dropped entries (a metric). */
  readonly onInvalidated?: (eventType: string) => void;
}

/**
 * Decorates the app with its response cache: Redis when given, else this
 * process's LRU. Invalidating events are subscribed to once the app is
 * ready; when it closes, the subscription ends, then the store closes.
 */
async function cache(app: FastifyInstance, opts: CachePluginOptions): Promise<void> {
  const enabled = opts.enabled ?? true;
  if (typeof enabled !== 'boolean') throw new TypeError('gateway: cache.enabled must be a boolean');
  const maxEntries = positiveInt('cache.maxEntries', opts.maxEntries, 10_000);
  const timeoutMs = positiveInt('cache.redisTimeoutMs', opts.redisTimeoutMs, 100);
  if (!enabled) {
    app.decorate('responseCache', null);
    return;
  }
  const store: ResponseCacheStore = opts.redis
    ? new RedisCacheStore(opts.redis, { timeoutMs, log: app.log, onFailure: opts.onRedisFallback })
    : new MemoryCacheStore(maxEntries);
  const responseCache = createResponseCache({
    store,
    routes: opts.routes,
    onInvalidated: opts.onInvalidated,
    urlsKept: maxEntries,
  });
  app.decorate('responseCache', responseCache);

  app.addHook('onClose', () => store.close());
  const bus = opts.eventBus;
  if (bus === undefined || responseCache.topics.length === 0) return;
  subscribeWhileOpen(app, 'cache events', bus, {
    topics: responseCache.topics,
    // A shared store is invalidated once for all replicas; a local one by each.
    group: 'api-gateway.cache',
    delivery: opts.redis ? 'shared' : 'broadcast',
    handle: (event) => responseCache.onEvent(event),
  });
}

export const cachePlugin = fp(cache, {
  name: 'messenger-cache',
  fastify: '5.x',
  // A cached answer is still only for an admitted caller within its budget.
  dependencies: ['messenger-auth', 'messenger-rate-limit'],
});
