import { LRUCache } from 'lru-cache';
import { positiveInt } from '../../options.ts';
import type { CachedResponse, CacheMark, ResponseCacheStore } from './cache-store.ts';

interface Entry {
  readonly value: CachedResponse;
  readonly tags: readonly string[];
}

/** Embedded mode: one process, one LRU bounded by entry count; TTLs enforced on read. */
export class MemoryCacheStore implements ResponseCacheStore {
  readonly #entries: LRUCache<string, Entry>;
  /** Tag → keys of the live entries carrying it. */
  readonly #byTag = new Map<string, Set<string>>();
  /** Tag → the epoch of its last invalidation; old tags fall out, older than any fill in flight. */
  readonly #invalidatedAt = new LRUCache<string, number>({ max: 100_000 });
  #epoch = 0;

  constructor(maxEntries: number) {
    this.#entries = new LRUCache<string, Entry>({
      max: positiveInt('cache.maxEntries', maxEntries),
      ttlAutopurge: false,
      dispose: (entry, key) => {
        for (const tag of entry.tags) {
          const keys = this.#byTag.get(tag);
          if (!keys) continue;
          keys.delete(key);
          if (keys.size === 0) this.#byTag.delete(tag);
        }
      },
    });
  }

  async get(key: string): Promise<CachedResponse | undefined> {
    return this.peek(key);
  }

  peek(key: string): CachedResponse | undefined {
    return this.#entries.get(key)?.value;
  }

  async mark(): Promise<CacheMark> {
    return this.#epoch;
  }

  async set(
    key: string,
    value: CachedResponse,
    ttlMs: number,
    tags: readonly string[],
    mark: CacheMark,
  ): Promise<void> {
    for (const tag of tags) {
      const at = this.#invalidatedAt.get(tag);
      if (at !== undefined && at > (mark as number)) return;
    }
    this.#entries.set(key, { value, tags }, { ttl: ttlMs });
    for (const tag of tags) {
      let keys = this.#byTag.get(tag);
      if (!keys) {
        keys = new Set();
        this.#byTag.set(tag, keys);
      }
      keys.add(key);
    }
  }

  async invalidate(tags: readonly string[]): Promise<void> {
    const epoch = ++this.#epoch;
    for (const tag of tags) {
      this.#invalidatedAt.set(tag, epoch);
      const keys = this.#byTag.get(tag);
      if (!keys) continue;
      for (const key of [...keys]) this.#entries.delete(key);
      this.#byTag.delete(tag);
    }
  }

  async close(): Promise<void> {
    this.#entries.clear();
    this.#byTag.clear();
  }

  /** Entries held (tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }
}
