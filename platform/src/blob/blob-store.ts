// The port through which media bytes are stored: a flat namespace of objects
// under keys the server generates, written as a stream and read back whole or
// by byte range. Adapters: the local filesystem (embedded default) and S3.
import type { Readable } from 'node:stream';

/** Keys are server-generated (ids, optionally prefixed: "avatars/<id>/512"): never a client's file name. */
const KEY = /^[a-z0-9][a-z0-9_-]*(\/[a-z0-9][a-z0-9_-]*){0,3}$/;

export function assertBlobKey(key: string): void {
  if (key.length > 200 || !KEY.test(key)) throw new RangeError(`invalid blob key: ${JSON.stringify(key)}`);
}

export interface BlobInfo {
  readonly size: number;
  readonly contentType: string;
}

export interface PutResult {
  readonly size: number;
  /** Hex SHA-256 of the stored bytes, computed while they stream through. */
  readonly sha256: string;
}

/**
 * A byte range as HTTP Range has it: from `start` to `end` inclusive (end
 * clamped to the object's last byte), or the last `suffix` bytes — resolved
 * by the store against the object's size, so a caller need not ask for it.
 */
export type ByteRange = { readonly start: number; readonly end?: number } | { readonly suffix: number };

export interface BlobRead extends BlobInfo {
  readonly body: Readable;
  /** The range actually returned (inclusive), or the whole object. */
  readonly start: number;
  readonly end: number;
}

/** The stream held more than the allowed bytes; nothing was stored. */
export class BlobTooLargeError extends Error {
  readonly maxBytes: number;
  constructor(maxBytes: number) {
    super(`blob larger than ${maxBytes} bytes`);
    this.maxBytes = maxBytes;
    this.name = 'BlobTooLargeError';
  }
}

/** The requested range starts past the object's end (HTTP 416). */
export class BlobRangeError extends Error {
  readonly size: number;
  constructor(size: number) {
    super(`range not satisfiable for a blob of ${size} bytes`);
    this.size = size;
    this.name = 'BlobRangeError';
  }
}

export interface BlobStore {
  /**
   * Stores the stream under key, replacing any object there. The object
   * becomes visible only once complete: a failing, oversized or aborted
   * stream leaves nothing (and no previous object is damaged).
   */
  put(key: string, body: Readable, options: { contentType: string; maxBytes?: number }): Promise<PutResult>;
  /** The object or a byte range of it; null when there is none. */
  get(key: string, range?: ByteRange): Promise<BlobRead | null>;
  head(key: string): Promise<BlobInfo | null>;
  /** Removes the object; removing a missing one is not an error. */
  delete(key: string): Promise<void>;
  /** Releases connections; the store is not used afterwards. */
  close(): void;
}

/** Resolves an HTTP-style range against an object of `size` bytes. */
export function resolveRange(size: number, range: ByteRange | undefined): { start: number; end: number } {
  if (!range) return { start: 0, end: size - 1 };
  const { start, end } = 'suffix' in range ? { start: Math.max(0, size - range.suffix), end: undefined } : range;
  if (start >= size || (end !== undefined && end < start)) throw new BlobRangeError(size);
  return { start, end: Math.min(end ?? size - 1, size - 1) };
}
