/** One cached response: the JSON text exactly as sent, and its entity tag. */
export interface CachedResponse {
  readonly body: string;
  /** A strong ETag, quotes included. */
  readonly etag: string;
  /** Epoch ms when it was stored (for `max-age` of later hits). */
  readonly storedAt: number;
}

/**
 * Where cached responses live: Redis in cluster mode (shared by every
 * gateway), an in-memory LRU in embedded mode. Entries carry tags (`<method
 * path>|<entity id>`); invalidating a tag drops its entries. A fill that
 * started before an invalidation of one of its tags is not stored, so a
 * response read before an update can never land in the cache after it.
 * Every method is asynchronous and may reject (Redis down or slow): the
 * response cache then answers without the store.
 */
export interface ResponseCacheStore {
  get(key: string): Promise<CachedResponse | undefined>;
  /**
   * The same read, synchronous: offered by stores in this process (memory),
   * so that a cache hit waits for no promise. Remote stores leave it out.
   */
  peek?(key: string): CachedResponse | undefined;
  /** Taken before the upstream call of a fill; passed back to `set`. */
  mark(tags: readonly string[]): Promise<CacheMark>;
  set(key: string, value: CachedResponse, ttlMs: number, tags: readonly string[], mark: CacheMark): Promise<void>;
  invalidate(tags: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** Opaque to callers: what the store needs to detect an invalidation racing a fill. */
export type CacheMark = unknown;
