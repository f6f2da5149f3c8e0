// Avatar upload and download. The image streams from the request into a
// staging file (size limit enforced while it arrives), libvips reads that file
// to detect the format from the bytes and to render the fixed sizes, which
// stream into the blob store; the original, with its EXIF/metadata, is never
// kept. The profile's avatar_url is then set through the user service's own
// UpdateUser route, so its rules and events apply as to any other update.
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RateLimitClass } from '@messenger/gen/messenger/options/v1/options';
import type { BlobStore } from '@messenger/platform/blob';
import type { FastifyInstance } from 'fastify';
import { Code, GatewayError } from '../errors/status.ts';
import {
  checkDeclaredLength,
  decodeImage,
  readImageHeader,
  serveBlob,
  stage,
  type UploadTarget,
  undecodable,
} from './uploads.ts';

export type AvatarOptions = UploadTarget;

/** Square sizes rendered; the first is what avatar_url names. */
export const AVATAR_SIZES = [512, 128] as const;
const AVATAR_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Ids are never reused, so a stored avatar never changes under its URL. */
const CACHE_CONTROL = 'public, max-age=31536000, immutable';

export const AVATAR_PATH_PREFIX = '/v1/media/avatars/';

const keyOf = (id: string, size: number) => `avatars/${id}/${size}`;

/** Registered by the media plugin, whose raw-body parser hands the image over as a stream. */
export async function avatarRoutes(app: FastifyInstance, opts: AvatarOptions): Promise<void> {
  // Decoding and resizing cost far more than an ordinary request: the small budget of credential methods.
  const limited = { signedInRateLimit: RateLimitClass.RATE_LIMIT_CLASS_STRICT };
  app.put('/v1/users/me/avatar', { onRequest: app.authenticate, config: limited }, async (req, reply) => {
    const caller = req.caller;
    if (caller === null) throw new GatewayError(Code.UNAUTHENTICATED, 'sign in to upload an avatar');
    checkDeclaredLength(req, opts.limits.maxBytes);
    const id = randomUUID();
    const staged = join(opts.stagingDir, id);
    try {
      // Made on first use: a system that never takes an upload writes nothing into its data directory.
      await mkdir(opts.stagingDir, { recursive: true });
      await stage(req, staged, opts.limits.maxBytes);
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

async function render(opts: AvatarOptions, staged: string, id: string): Promise<void> {
  const header = await readImageHeader(staged, opts.limits.maxPixels);
  if (header === undefined) throw notAnImage();
  try {
    for (const size of AVATAR_SIZES) {
      // rotate() applies the EXIF orientation; the output carries no metadata.
      const out = decodeImage(staged, opts.limits.maxPixels).rotate().resize(size, size, { fit: 'cover' }).webp();
      await opts.store.put(keyOf(id, size), out, { contentType: 'image/webp' });
    }
  } catch (err) {
    await removeAvatar(opts.store, id);
    throw undecodable(err);
  }
}

function notAnImage(): GatewayError {
  return new GatewayError(Code.INVALID_ARGUMENT, 'the upload is not a JPEG, PNG, WebP or GIF image', {
    httpStatus: 415,
  });
}

async function removeAvatar(store: BlobStore, id: string): Promise<void> {
  await Promise.all(AVATAR_SIZES.map((size) => store.delete(keyOf(id, size))));
}
