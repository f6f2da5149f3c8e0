// BlobStore on an S3-compatible object store (AWS S3, MinIO, ...). Uploads go
// through @aws-sdk/lib-storage, which sends small objects as one PutObject and
// large ones as a multipart upload it aborts on failure; either way S3 makes an
// object visible only once complete.

import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  NotFound,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  assertBlobKey,
  type BlobInfo,
  BlobRangeError,
  type BlobRead,
  type BlobStore,
  type ByteRange,
  type PutResult,
  resolveRange,
} from './blob-store.ts';
import { meter } from './fs-blob-store.ts';

/** `bytes <start>-<end>/<size>` of a ranged answer. */
const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+)$/;

const httpRange = (range: { start: number; end?: number }): string => `bytes=${range.start}-${range.end ?? ''}`;

export interface S3BlobStoreOptions {
  readonly bucket: string;
  readonly region: string;
  /** Empty for AWS itself; the server's URL for MinIO and other S3-compatible stores. */
  readonly endpoint: string;
  /** Empty: the SDK's default credential chain (instance role, web identity, ...). */
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Key prefix inside the bucket, so one bucket can serve several deployments. */
  readonly prefix?: string;
}

export class S3BlobStore implements BlobStore {
  private readonly s3: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(options: S3BlobStoreOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
    this.s3 = new S3Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
      ...(options.accessKeyId
        ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
        : {}),
    });
  }

  private key(key: string): string {
    assertBlobKey(key);
    return this.prefix + key;
  }

  async put(key: string, body: Readable, options: { contentType: string; maxBytes?: number }): Promise<PutResult> {
    const Key = this.key(key);
    const m = meter(options.maxBytes);
    body.on('error', (err) => m.destroy(err));
    body.pipe(m);
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.bucket, Key, Body: m, ContentType: options.contentType },
      leavePartsOnError: false,
    });
    await upload.done();
    return m.result();
  }

  async head(key: string): Promise<BlobInfo | null> {
    try {
      const out = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return { size: out.ContentLength ?? 0, contentType: out.ContentType ?? 'application/octet-stream' };
    } catch (err) {
      if (err instanceof NotFound || err instanceof NoSuchKey) return null;
      throw err;
    }
  }

  /**
   * One GetObject: S3 clamps a range's end itself, and Content-Range gives
   * back what it returned and the object's size. A suffix range and a refused
   * range cost a HEAD first, for the size: not every S3-compatible server
   * resolves `bytes=-n` (s3rver reads it as `bytes=0-n`), and a 416 must name
   * the size.
   */
  async get(key: string, range?: ByteRange): Promise<BlobRead | null> {
    if (range && ('suffix' in range || (range.end !== undefined && range.end < range.start))) {
      const info = await this.head(key);
      if (!info) return null;
      return this.get(key, resolveRange(info.size, range));
    }
    try {
      const out = await this.s3.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key), Range: range && httpRange(range) }),
      );
      const contentType = out.ContentType ?? 'application/octet-stream';
      const body = out.Body as Readable;
      const returned = out.ContentRange ? CONTENT_RANGE.exec(out.ContentRange) : null;
      if (returned) {
        return { size: Number(returned[3]), contentType, body, start: Number(returned[1]), end: Number(returned[2]) };
      }
      // The whole object: no range asked, or one the server chose to ignore.
      const size = out.ContentLength ?? 0;
      return { size, contentType, body, ...resolveRange(size, undefined) };
    } catch (err) {
      if (err instanceof NoSuchKey || err instanceof NotFound) return null;
      if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 416) {
        const info = await this.head(key);
        if (!info) return null;
        throw new BlobRangeError(info.size);
      }
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
  }

  close(): void {
    this.s3.destroy();
  }
}
