import { join } from 'node:path';
import { FsBlobStore, S3BlobStore } from '@messenger/platform/blob';
import type { GatewayConfig } from '../config.ts';
import type { AvatarOptions } from './avatars.ts';

/**
 * The media options of the gateway's settings; `dir` replaces
 * GATEWAY_MEDIA_DIR (embedded mode keeps media under its data directory).
 * Touches no disk and no network: a bad store shows on the first upload, not
 * at start-up.
 */
export function mediaOptionsOf(config: GatewayConfig, dir: string = config.mediaDir): AvatarOptions {
  const store =
    config.mediaStore === 's3'
      ? new S3BlobStore({
          bucket: requireBucket(config.mediaS3Bucket),
          region: config.mediaS3Region,
          endpoint: config.mediaS3Endpoint,
          accessKeyId: config.mediaS3AccessKeyId,
          secretAccessKey: config.mediaS3SecretAccessKey,
        })
      : new FsBlobStore(dir);
  return {
    store,
    // A name no blob key can have (keys start with [a-z0-9]).
    stagingDir: join(dir, '.staging'),
    maxBytes: config.avatarMaxBytes,
    maxPixels: config.avatarMaxPixels,
  };
}

function requireBucket(bucket: string): string {
  if (bucket === '') throw new Error('GATEWAY_MEDIA_S3_BUCKET must be set when GATEWAY_MEDIA_STORE=s3');
  return bucket;
}
