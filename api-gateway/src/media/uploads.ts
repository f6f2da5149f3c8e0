// What every media route shares: a request body streamed into a staging file
// under a size limit, an image's header read before anything is decoded, and
// stored objects served whole or by byte range.
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { BlobRangeError, type BlobStore, BlobTooLargeError, type ByteRange, meter } from '@messenger/platform/blob';
import type { FastifyReply, FastifyRequest } from 'fastify';
import sharp, { type Metadata, type Sharp } from 'sharp';
import { Code, GatewayError } from '../errors/status.ts';

/** Limits of one kind of upload. */
export interface UploadLimits {
  /** Largest accepted upload in bytes. */
  readonly maxBytes: number;
  /** Largest accepted image, in pixels (width × height): decompression bombs stop here. */
  readonly maxPixels: number;
}

/** Where one kind of upload goes, and its limits. */
export interface UploadTarget {
  readonly store: BlobStore;
  /** Directory for uploads being checked (each removed as soon as it is). */
  readonly stagingDir: string;
  readonly limits: UploadLimits;
}

/** The image formats kept as images (re-encoded, thumbnailed); libvips names them so. */
export const IMAGE_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif']);

export function tooLarge(maxBytes: number): GatewayError {
  return new GatewayError(Code.RESOURCE_EXHAUSTED, `the upload is larger than ${maxBytes} bytes`, {
    httpStatus: 413,
    // The rest of the body is not read: the connection cannot carry another request.
    headers: { connection: 'close' },
  });
}

/** Refuses at once an upload whose declared length is past the limit. */
export function checkDeclaredLength(req: FastifyRequest, maxBytes: number): void {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
}

/** Streams the request body into a file, failing as soon as it exceeds maxBytes. */
export async function stage(req: FastifyRequest, file: string, maxBytes: number): Promise<void> {
  try {
    await pipeline(req.body as NodeJS.ReadableStream, meter(maxBytes), createWriteStream(file));
  } catch (err) {
    if (err instanceof BlobTooLargeError) throw tooLarge(maxBytes);
    // The client went away or sent less than it declared.
    throw new GatewayError(Code.INVALID_ARGUMENT, 'the upload ended before its declared end', { cause: err });
  }
}

/** What an image's header says: its format and its size as shown (EXIF orientation applied). */
export interface ImageHeader {
  readonly format: string;
  readonly width: number;
  readonly height: number;
}

/**
 * Reads the header of a staged file: undefined when libvips finds no image
 * it keeps; 400 when it has more than `maxPixels` (before any decoding).
 */
export async function readImageHeader(file: string, maxPixels: number): Promise<ImageHeader | undefined> {
  let meta: Metadata;
  try {
    meta = await sharp(file, { limitInputPixels: false }).metadata();
  } catch {
    return undefined;
  }
  if (meta.format === undefined || !IMAGE_FORMATS.has(meta.format)) return undefined;
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width * height > maxPixels) {
    throw new GatewayError(Code.INVALID_ARGUMENT, `the image has more than ${maxPixels} pixels`);
  }
  // Orientations 5–8 turn the image a quarter: shown, its sides swap.
  const turned = (meta.orientation ?? 1) >= 5;
  return { format: meta.format, width: turned ? height : width, height: turned ? width : height };
}

/** A decoder for a staged image, bounded like its header check; decoding fails on truncated data. */
export function decodeImage(file: string, maxPixels: number, animated = false): Sharp {
  return sharp(file, { limitInputPixels: maxPixels, failOn: 'truncated', animated });
}

export function undecodable(cause: unknown): GatewayError {
  return new GatewayError(Code.INVALID_ARGUMENT, 'the image could not be decoded', { cause });
}

/** One `bytes=` range (`a-b`, `a-`, `-n`); anything else is served whole, as RFC 9110 allows. */
function parseRange(header: string | undefined): ByteRange | undefined {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') return { suffix: Number(m[2]) };
  return { start: Number(m[1]), ...(m[2] === '' ? {} : { end: Number(m[2]) }) };
}

/** Sends a stored object, whole or the requested byte range. */
export async function serveBlob(
  store: BlobStore,
  key: string,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const range = parseRange(req.headers.range);
  try {
    const read = await store.get(key, range);
    if (read === null) throw new GatewayError(Code.NOT_FOUND, 'no such object');
    reply.header('content-type', read.contentType).header('content-length', String(read.end - read.start + 1));
    if (range !== undefined) reply.code(206).header('content-range', `bytes ${read.start}-${read.end}/${read.size}`);
    return reply.send(read.body);
  } catch (err) {
    if (!(err instanceof BlobRangeError)) throw err;
    throw new GatewayError(Code.OUT_OF_RANGE, 'the range starts past the end', {
      httpStatus: 416,
      headers: { 'content-range': `bytes */${err.size}` },
    });
  }
}
