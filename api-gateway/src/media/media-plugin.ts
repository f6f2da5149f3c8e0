// The media routes the gateway serves itself: avatars and chat attachments.
// Bytes arrive over HTTP here and go straight to the media store; a media
// service behind gRPC would carry each byte a second time.
import type { Registry } from '@bufbuild/protobuf';
import type { ServiceTokenSource } from '@messenger/platform/auth';
import type { BlobStore } from '@messenger/platform/blob';
import type { EventBus } from '@messenger/platform/events';
import type { FastifyInstance } from 'fastify';
import { subscribeWhileOpen } from '../plugins/event-subscription.ts';
import type { Upstream } from '../upstream/upstream.ts';
import { attachmentRoutes } from './attachments.ts';
import { avatarRemoval, avatarRoutes } from './avatars.ts';
import type { UploadLimits } from './uploads.ts';

/** What the deployment configures (media-config.ts). */
export interface MediaOptions {
  readonly store: BlobStore;
  /** Directory for uploads being checked (each removed as soon as it is). */
  readonly stagingDir: string;
  readonly avatars: UploadLimits;
  readonly attachments: UploadLimits;
}

/** Encapsulated (no fastify-plugin): its raw-body parser stays with its routes. */
export async function mediaPlugin(
  app: FastifyInstance,
  opts: MediaOptions & {
    readonly upstream: Upstream;
    readonly registry: Registry;
    readonly deadlineMs: number;
    readonly serviceToken: ServiceTokenSource;
    /** Without one, replaced avatars are not removed (a gateway with no bus is a test's). */
    readonly eventBus?: EventBus;
  },
): Promise<void> {
  app.addHook('onClose', async () => opts.store.close());
  const bus = opts.eventBus;
  if (bus !== undefined) subscribeWhileOpen(app, 'avatar removal', bus, avatarRemoval(opts.store));
  // The body is the file itself, handed over as the raw stream (never parsed
  // or buffered by Fastify); only this plugin's routes see this parser.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  const calls = {
    upstream: opts.upstream,
    registry: opts.registry,
    deadlineMs: opts.deadlineMs,
    serviceToken: opts.serviceToken,
  };
  await avatarRoutes(app, { store: opts.store, stagingDir: opts.stagingDir, limits: opts.avatars, ...calls });
  await attachmentRoutes(app, { store: opts.store, stagingDir: opts.stagingDir, limits: opts.attachments, ...calls });
}
