import { runCacheStoreContract } from './cache-store.contract.ts';
import { MemoryCacheStore } from './memory-cache-store.ts';

runCacheStoreContract('MemoryCacheStore', async () => new MemoryCacheStore(100));

describe('MemoryCacheStore', () => {
  it('is bounded, and forgets the tags of evicted entries', async () => {
    const store = new MemoryCacheStore(2);
    for (const k of ['a', 'b', 'c'])
      await store.set(k, { body: k, etag: '"e"', storedAt: 0 }, 10_000, [`t-${k}`], await store.mark());
    expect(store.size).toBe(2);
    expect(await store.get('a')).toBeUndefined();
    await store.invalidate(['t-b']);
    expect(store.size).toBe(1);
  });

  it('refuses a bad size at start-up', () => {
    expect(() => new MemoryCacheStore(0)).toThrow('cache.maxEntries');
  });
});
