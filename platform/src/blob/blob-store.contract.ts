// The behaviour every BlobStore adapter must show; run by fs-blob-store.spec.ts
// and by s3-blob-store.test.ts against the s3rver of scripts/with-test-infra.sh.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { BlobRangeError, type BlobStore, BlobTooLargeError } from './blob-store.ts';

export interface BlobStoreFixture {
  readonly store: BlobStore;
  close(): Promise<void>;
}

/** A stream of `bytes` that then fails, as an upload does when the client disconnects. */
function truncated(bytes: Buffer): Readable {
  return Readable.from(
    (async function* () {
      yield bytes;
      throw new Error('client went away');
    })(),
  );
}

/** A stream yielding `bytes` in chunks, as a network upload arrives. */
function chunked(bytes: Buffer, chunk = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
    })(),
  );
}

export function blobStoreContract(name: string, make: () => Promise<BlobStoreFixture>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let fixture: BlobStoreFixture;
    let store: BlobStore;
    beforeEach(async () => {
      fixture = await make();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.close();
    });
    const key = () => `t/${randomUUID()}`;

    it('returns the bytes it stored, with their size, SHA-256 and content type', async () => {
      const k = key();
      const bytes = randomBytes(200_000);
      const put = await store.put(k, chunked(bytes), { contentType: 'image/png' });
      expect(put).toEqual({ size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
      expect(await store.head(k)).toEqual({ size: bytes.length, contentType: 'image/png' });
      const read = await store.get(k);
      expect(read).toMatchObject({ size: bytes.length, contentType: 'image/png', start: 0, end: bytes.length - 1 });
      expect((await buffer(read?.body ?? Readable.from([]))).equals(bytes)).toBe(true);
    });

    it('stores objects larger than one multipart part intact', async () => {
      const k = key();
      const bytes = randomBytes(6 * 1024 * 1024 + 123);
      const put = await store.put(k, chunked(bytes), { contentType: 'application/octet-stream' });
      expect(put.size).toBe(bytes.length);
      const read = await store.get(k);
      expect((await buffer(read?.body ?? Readable.from([]))).equals(bytes)).toBe(true);
    });

    it('stores and returns an empty object', async () => {
      const k = key();
      await store.put(k, Readable.from([]), { contentType: 'text/plain' });
      const read = await store.get(k);
      expect(read).toMatchObject({ size: 0 });
      expect((await buffer(read?.body ?? Readable.from(['x']))).length).toBe(0);
    });

    it('returns an inclusive byte range, clamping its end to the last byte', async () => {
      const k = key();
      const bytes = Buffer.from('0123456789');
      await store.put(k, Readable.from([bytes]), { contentType: 'text/plain' });
      const mid = await store.get(k, { start: 2, end: 5 });
      expect(mid).toMatchObject({ start: 2, end: 5, size: 10 });
      expect((await buffer(mid?.body ?? Readable.from([]))).toString()).toBe('2345');
      const tail = await store.get(k, { start: 7, end: 1000 });
      expect(tail).toMatchObject({ start: 7, end: 9 });
      expect((await buffer(tail?.body ?? Readable.from([]))).toString()).toBe('789');
      const open = await store.get(k, { start: 8 });
      expect((await buffer(open?.body ?? Readable.from([]))).toString()).toBe('89');
      await expect(store.get(k, { start: 10 })).rejects.toBeInstanceOf(BlobRangeError);
      // The last n bytes, resolved by the store against the object's size.
      const last = await store.get(k, { suffix: 3 });
      expect(last).toMatchObject({ start: 7, end: 9, size: 10 });
      expect((await buffer(last?.body ?? Readable.from([]))).toString()).toBe('789');
      expect(await store.get(k, { suffix: 50 })).toMatchObject({ start: 0, end: 9 });
      await expect(store.get(k, { suffix: 0 })).rejects.toBeInstanceOf(BlobRangeError);
    });

    it('knows nothing of a missing key and deletes idempotently', async () => {
      const k = key();
      expect(await store.head(k)).toBeNull();
      expect(await store.get(k)).toBeNull();
      await store.delete(k);
      await store.put(k, Readable.from([Buffer.from('x')]), { contentType: 'text/plain' });
      await store.delete(k);
      expect(await store.head(k)).toBeNull();
      expect(await store.get(k)).toBeNull();
    });

    it('rejects a stream over the size limit and keeps nothing of it, nor damages the object before', async () => {
      const k = key();
      await store.put(k, Readable.from([Buffer.from('old')]), { contentType: 'text/plain' });
      await expect(
        store.put(k, chunked(randomBytes(300_000)), { contentType: 'text/plain', maxBytes: 100_000 }),
      ).rejects.toBeInstanceOf(BlobTooLargeError);
      const read = await store.get(k);
      expect((await buffer(read?.body ?? Readable.from([]))).toString()).toBe('old');

      const fresh = key();
      await expect(
        store.put(fresh, chunked(randomBytes(300_000)), { contentType: 'text/plain', maxBytes: 100_000 }),
      ).rejects.toBeInstanceOf(BlobTooLargeError);
      expect(await store.head(fresh)).toBeNull();
    });

    it('keeps nothing of a stream that fails half-way', async () => {
      const k = key();
      await expect(store.put(k, truncated(randomBytes(50_000)), { contentType: 'text/plain' })).rejects.toThrow(
        'client went away',
      );
      expect(await store.head(k)).toBeNull();
    });

    it('refuses keys that could leave its namespace', async () => {
      for (const bad of ['../x', 't/../../etc/passwd', '/etc/passwd', 'a b', 'A', '', 't//x', 't/.x', 'x\u0000']) {
        await expect(store.put(bad, Readable.from([]), { contentType: 'text/plain' })).rejects.toBeInstanceOf(
          RangeError,
        );
        await expect(store.get(bad)).rejects.toBeInstanceOf(RangeError);
      }
    });
  });
}
