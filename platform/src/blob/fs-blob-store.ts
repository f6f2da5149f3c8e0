// BlobStore on the local filesystem (embedded default, under DATA_DIR). Each
// object is a file named by its key plus a small ".meta" JSON file holding its
// content type. Bytes go to a temp file in the same directory, are fsynced
// and renamed into place, so a reader never sees a partial object.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  assertBlobKey,
  type BlobInfo,
  type BlobRead,
  type BlobStore,
  BlobTooLargeError,
  type ByteRange,
  type PutResult,
  resolveRange,
} from './blob-store.ts';

/** Counts and hashes bytes as they pass, failing once more than maxBytes went by. */
export function meter(maxBytes: number | undefined): Transform & { result(): PutResult } {
  const hash = createHash('sha256');
  let size = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (maxBytes !== undefined && size > maxBytes) return done(new BlobTooLargeError(maxBytes));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  return Object.assign(t, { result: () => ({ size, sha256: hash.digest('hex') }) });
}

export class FsBlobStore implements BlobStore {
  private readonly root: string;
  constructor(root: string) {
    this.root = root;
  }

  private path(key: string): string {
    assertBlobKey(key);
    return join(this.root, key);
  }

  async put(key: string, body: Readable, options: { contentType: string; maxBytes?: number }): Promise<PutResult> {
    const file = this.path(key);
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${randomUUID()}.tmp`;
    const m = meter(options.maxBytes);
    try {
      const out = createWriteStream(tmp, { flush: true });
      await pipeline(body, m, out);
      await writeFile(`${tmp}.meta`, JSON.stringify({ contentType: options.contentType }), { flush: true });
      // Meta first: a data file is only ever visible with its meta in place.
      await rename(`${tmp}.meta`, `${file}.meta`);
      await rename(tmp, file);
      return m.result();
    } catch (err) {
      await rm(tmp, { force: true });
      await rm(`${tmp}.meta`, { force: true });
      throw err;
    }
  }

  async head(key: string): Promise<BlobInfo | null> {
    const file = this.path(key);
    try {
      const [st, meta] = await Promise.all([stat(file), readFile(`${file}.meta`, 'utf8')]);
      return { size: st.size, contentType: (JSON.parse(meta) as { contentType: string }).contentType };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async get(key: string, range?: ByteRange): Promise<BlobRead | null> {
    const info = await this.head(key);
    if (!info) return null;
    const { start, end } = resolveRange(info.size, range);
    // An empty file has no byte 0 to start a read stream at.
    const body = info.size === 0 ? Readable.from([]) : createReadStream(this.path(key), { start, end });
    return { ...info, body, start, end };
  }

  async delete(key: string): Promise<void> {
    const file = this.path(key);
    await rm(file, { force: true });
    await rm(`${file}.meta`, { force: true });
  }

  close(): void {
    // Holds no open files between calls.
  }
}
