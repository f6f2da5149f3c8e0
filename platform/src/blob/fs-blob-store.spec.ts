import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { blobStoreContract } from './blob-store.contract.ts';
import { FsBlobStore } from './fs-blob-store.ts';

blobStoreContract('FsBlobStore', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-blob-store-'));
  return { store: new FsBlobStore(dir), close: async () => rmSync(dir, { recursive: true, force: true }) };
});

describe('FsBlobStore files', () => {
  it('leaves no temp file behind when an upload fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fs-blob-store-'));
    try {
      const store = new FsBlobStore(dir);
      const failing = Readable.from(
        (async function* () {
          yield Buffer.alloc(10_000);
          throw new Error('client went away');
        })(),
      );
      await expect(store.put('t/a', failing, { contentType: 'text/plain' })).rejects.toThrow('client went away');
      await expect(
        store.put('t/b', Readable.from([Buffer.alloc(2000)]), { contentType: 'text/plain', maxBytes: 1000 }),
      ).rejects.toThrow();
      expect(readdirSync(join(dir, 't'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
