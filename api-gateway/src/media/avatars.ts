// Avatar upload and download. The image streams from the request into a
// staging file (size limit enforced while it arrives), libvips reads that file
// to detect the format from the bytes and to render the fixed sizes, which
// stream into the blob store; the original, with its EXIF/metadata, is never
// kept. The user service then makes it the profile's avatar
// (SetUploadedAvatar, which admits the gateway only): the one way an uploaded
// avatar enters a profile, so each belongs to the one profile it was uploaded
// for. Once that profile names another avatar, or is deleted, its
// `user.user.updated` / `user.user.deleted` event has the avatar's files
// removed (avatarRemoval); ids are never reused, so a removed avatar cannot
// come back.
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RateLimitClass } from '@messenger/gen/messenger/options/v1/options';
import { UserDeleted, UserUpdated } from '@messenger/gen/messenger/user/v1/events';
import { SetUploadedAvatarRequest } from '@messenger/gen/messenger/user/v1/user';
import type { BlobStore } from '@messenger/platform/blob';
import type { Subscription } from '@messenger/platform/events';
import type { FastifyInstance } from 'fastify';
import { Code, GatewayError } from '../errors/status.ts';
import { answerMarshaller, callService, type ServiceCallOptions } from './service-call.ts';
import {
  checkDeclaredLength,
  decodeImage,
  readImageHeader,
  serveBlob,
  stage,
  type UploadTarget,
  undecodable,
} from './uploads.ts';

/** SetUploadedAvatar admits the gateway only, on its own credential. */
export interface AvatarOptions extends UploadTarget, ServiceCallOptions {}

const USER = 'messenger.user.v1.UserService';

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
  // The answer is the profile, in the JSON every other route gives.
  const response = answerMarshaller(opts, 'messenger.user.v1.SetUploadedAvatarResponse');
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
    let profile: Uint8Array;
    try {
      profile = await callService(app, opts, req, {
        service: USER,
        method: 'SetUploadedAvatar',
        request: SetUploadedAvatarRequest.encode({ userId: caller.userId, avatarId: id }).finish(),
        as: 'gateway',
      });
    } catch (err) {
      await removeAvatar(opts.store, id);
      throw err;
    }
    return reply.header('content-type', 'application/json; charset=utf-8').send(response.toJsonText(profile));
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

/**
 * Removes an uploaded avatar once its profile no longer names it: on
 * `user.user.updated` whose avatar changed, and on `user.user.deleted`.
 * Shared by the replicas; removing what is already gone succeeds, so a
 * redelivered event does no harm.
 */
export function avatarRemoval(store: BlobStore): Subscription {
  return {
    topics: ['user.events'],
    group: 'api-gateway.avatars',
    delivery: 'shared',
    async handle(event) {
      if (!event.payload) return;
      let previous: string | undefined;
      if (event.type === 'user.user.updated') {
        const { before, after } = UserUpdated.decode(event.payload.value);
        if (before?.avatarUrl !== after?.avatarUrl) previous = before?.avatarUrl;
      } else if (event.type === 'user.user.deleted') {
        previous = UserDeleted.decode(event.payload.value).before?.avatarUrl;
      }
      const id = previous?.startsWith(AVATAR_PATH_PREFIX) ? previous.slice(AVATAR_PATH_PREFIX.length) : '';
      if (AVATAR_ID.test(id)) await removeAvatar(store, id);
    },
  };
}

function notAnImage(): GatewayError {
  return new GatewayError(Code.INVALID_ARGUMENT, 'the upload is not a JPEG, PNG, WebP or GIF image', {
    httpStatus: 415,
  });
}

async function removeAvatar(store: BlobStore, id: string): Promise<void> {
  await Promise.all(AVATAR_SIZES.map((size) => store.delete(keyOf(id, size))));
}
