// Avatar upload and download. The image streams from the request into a
// staging file (size limit enforced while it arrives), libvips reads that file
// to detect the format from the bytes and to render the fixed sizes, which
// stream into the blob store; the original, with its EXIF/metadata, is never
// kept. The profile's avatar_url is then set through the user service's own
// UpdateUser route, so its rules and events apply as to any other update.
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { RateLimitClass } from '@messenger/gen/messenger/options/v1/options';
import { BlobRangeError, type BlobStore, BlobTooLargeError, type ByteRange, meter } from '@messenger/platform/blob';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import sharp from 'sharp';
import { Code, GatewayError } from '../errors/status.ts';

export interface AvatarOptions {
  readonly store: BlobStore;
  /** Directory for uploads being processed (removed as soon as they are). */
  readonly stagingDir: string;
  /** Largest accepted upload. */
  readonly maxBytes: number;
  /** Largest accepted image, in pixels (width × height): decompression bombs stop here. */
  readonly maxPixels: number;
}

/** Square sizes rendered; the first is what avatar_url names. */
export const AVATAR_SIZES = [512, 128] as const;
const ACCEPTED_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif']);
const AVATAR_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Ids are never reused, so a stored avatar never changes under its URL. */
const CACHE_CONTROL = 'public, max-age=31536000, immutable';

export const AVATAR_PATH_PREFIX = '/v1/media/avatars/';

const keyOf = (id: string, size: number) => `avatars/${id}/${size}`;

/** Encapsulated (no fastify-plugin): its raw-body parser stays with its routes. */
export async function avatarPlugin(app: FastifyInstance, opts: AvatarOptions): Promise<void> {
  app.addHook('onClose', async () => opts.store.close());
  // The body is the image itself, handed over as the raw stream (never
  // parsed or buffered by Fastify); only this plugin's routes see this parser.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  // Decoding and resizing cost far more than an ordinary request: the small budget of credential methods.
  const limited = { signedInRateLimit: RateLimitClass.RATE_LIMIT_CLASS_STRICT };
  app.put('/v1/users/me/avatar', { onRequest: app.authenticate, config: limited }, async (req, reply) => {
    const caller = req.caller;
    if (caller === null) throw new GatewayError(Code.UNAUTHENTICATED, 'sign in to upload an avatar');
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    if (declared > opts.maxBytes) throw tooLarge(opts.maxBytes);
    const id = randomUUID();
    const staged = join(opts.stagingDir, id);
    try {
      // Made on first use: a system that never takes an upload writes nothing into its data directory.
      await mkdir(opts.stagingDir, { recursive: true });
      await stage(req, staged, opts.maxBytes);
      await render(opts, staged, id);
    } finally {
      await rm(staged, { force: true });
    }
    const set = await app.inject({
      method: 'PATCH',
      url: `/v1/users/${caller.userId}`,
      headers: { authorization: req.headers.authorization ?? '', 'content-type': 'application/json' },
      payload: JSON.stringify({ user: { avatarUrl: `${AVATAR_PATH_PREFIX}${id}` }, updateMask: 'avatarUrl' }),
    });
    if (set.statusCode !== 200) await removeAvatar(opts.store, id);
    return reply.code(set.statusCode).header('content-type', 'application/json; charset=utf-8').send(set.body);
  });

  app.get<{ Params: { id: string }; Querystring: { size?: string } }>(
    `${AVATAR_PATH_PREFIX}:id`,
    async (req, reply) => {
      const { id } = req.params;
      const size = Number(req.query.size ?? AVATAR_SIZES[0]);
      if (!AVATAR_ID.test(id)) throw new GatewayError(Code.NOT_FOUND, 'no such avatar');
      if (!(AVATAR_SIZES as readonly number[]).includes(size)) {
        throw new GatewayError(Code.INVALID_ARGUMENT, `size must be one of ${AVATAR_SIZES.join(', ')}`);
      }
      const etag = `"${id}-${size}"`;
      reply.header('cache-control', CACHE_CONTROL).header('etag', etag).header('accept-ranges', 'bytes');
      if (req.headers['if-none-match'] === etag) return reply.code(304).send();
      return serveBlob(opts.store, keyOf(id, size), req, reply);
    },
  );
}

function tooLarge(maxBytes: number): GatewayError {
  return new GatewayError(Code.RESOURCE_EXHAUSTED, `the upload is larger than ${maxBytes} bytes`, {
    httpStatus: 413,
    // The rest of the body is not read: the connection cannot carry another request.
    headers: { connection: 'close' },
  });
}

/** Streams the request body into a file, failing as soon as it exceeds maxBytes. */
async function stage(req: FastifyRequest, file: string, maxBytes: number): Promise<void> {
  try {
    await pipeline(req.body as NodeJS.ReadableStream, meter(maxBytes), createWriteStream(file));
  } catch (err) {
    if (err instanceof BlobTooLargeError) throw tooLarge(maxBytes);
    // The client went away or sent less than it declared.
    throw new GatewayError(Code.INVALID_ARGUMENT, 'the upload ended before its declared end', { cause: err });
  }
}

async function render(opts: AvatarOptions, staged: string, id: string): Promise<void> {
  const input = () => sharp(staged, { limitInputPixels: opts.maxPixels, failOn: 'truncated', animated: false });
  let format: string | undefined;
  let pixels = 0;
  try {
    // The header only: the pixel limit is checked below, with its own answer.
    const meta = await sharp(staged, { limitInputPixels: false }).metadata();
    format = meta.format;
    pixels = (meta.width ?? 0) * (meta.height ?? 0);
  } catch (err) {
    throw notAnImage(err);
  }
  if (format === undefined || !ACCEPTED_FORMATS.has(format)) throw notAnImage(undefined);
  if (pixels > opts.maxPixels) {
    throw new GatewayError(Code.INVALID_ARGUMENT, `the image has more than ${opts.maxPixels} pixels`);
  }
  try {
    for (const size of AVATAR_SIZES) {
      // rotate() applies the EXIF orientation; the output carries no metadata.
      const out = input().rotate().resize(size, size, { fit: 'cover' }).webp();
      await opts.store.put(keyOf(id, size), out, { contentType: 'image/webp' });
    }
  } catch (err) {
    await removeAvatar(opts.store, id);
    throw new GatewayError(Code.INVALID_ARGUMENT, 'the image could not be decoded', { cause: err });
  }
}

function notAnImage(cause: unknown): GatewayError {
  return new GatewayError(Code.INVALID_ARGUMENT, 'the upload is not a JPEG, PNG, WebP or GIF image', {
    httpStatus: 415,
    cause,
  });
}

async function removeAvatar(store: BlobStore, id: string): Promise<void> {
  await Promise.all(AVATAR_SIZES.map((size) => store.delete(keyOf(id, size))));
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
