// The behaviour every ResponseCacheStore adapter must have; run by each
// adapter's tests (memory beside the code, Redis under test/).
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CachedResponse, ResponseCacheStore } from './cache-store.ts';

export function runCacheStoreContract(name: string, make: () => Promise<ResponseCacheStore>): void {
  describe(`${name} (cache store contract)`, () => {
    let store: ResponseCacheStore;
    let ns: string;
    beforeEach(async () => {
      store = await make();
      ns = randomUUID();
    });
    afterEach(() => store.close());
    const entry = (body: string): CachedResponse => ({ body, etag: `"e${body.length}"`, storedAt: 1_700_000_000_000 });
    /** `get`, and `peek` where the store offers it: both must say the same. */
    const read = async (key: string): Promise<CachedResponse | undefined> => {
      const got = await store.get(key);
      if (store.peek !== undefined) expect(store.peek(key)).toEqual(got);
      return got;
    };

    it('returns what was set, until its TTL passes', async () => {
      const mark = await store.mark([`${ns}|a`]);
      await store.set(`${ns}:k`, entry('{"a":1}\nline'), 150, [`${ns}|a`], mark);
      expect(await read(`${ns}:k`)).toEqual(entry('{"a":1}\nline'));
      expect(await read(`${ns}:other`)).toBeUndefined();
      await sleep(250);
      expect(await read(`${ns}:k`)).toBeUndefined();
    });

    it('drops every entry of an invalidated tag, and only those', async () => {
      for (const k of ['k1', 'k2'])
        await store.set(`${ns}:${k}`, entry(k), 10_000, [`${ns}|t`], await store.mark([`${ns}|t`]));
      await store.set(`${ns}:k3`, entry('k3'), 10_000, [`${ns}|u`], await store.mark([`${ns}|u`]));
      await store.invalidate([`${ns}|t`]);
      expect(await read(`${ns}:k1`)).toBeUndefined();
      expect(await read(`${ns}:k2`)).toBeUndefined();
      expect(await read(`${ns}:k3`)).toEqual(entry('k3'));
    });

    it('does not store a fill that an invalidation overtook', async () => {
      const mark = await store.mark([`${ns}|t`]);
      await store.invalidate([`${ns}|t`]);
      await store.set(`${ns}:k`, entry('stale'), 10_000, [`${ns}|t`], mark);
      expect(await read(`${ns}:k`)).toBeUndefined();
      // A fill started after the invalidation is stored.
      await store.set(`${ns}:k`, entry('fresh'), 10_000, [`${ns}|t`], await store.mark([`${ns}|t`]));
      expect(await read(`${ns}:k`)).toEqual(entry('fresh'));
    });

    it('stores entries without tags (TTL only)', async () => {
      await store.set(`${ns}:k`, entry('x'), 10_000, [], await store.mark([]));
      expect(await read(`${ns}:k`)).toEqual(entry('x'));
    });
  });
}
