// What the media tests share: the S3 settings of the test infrastructure's
// s3rver (scripts/with-test-infra.sh) and a view of what a media store holds,
// wherever it keeps it.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

if (!process.env.S3_ENDPOINT) {
  throw new Error('S3_ENDPOINT is not set. Run the tests under scripts/with-test-infra.sh.');
}

/** The gateway's settings for the s3rver bucket. */
export const S3_ENV = {
  GATEWAY_MEDIA_S3_ENDPOINT: process.env.S3_ENDPOINT,
  GATEWAY_MEDIA_S3_BUCKET: process.env.S3_BUCKET,
  GATEWAY_MEDIA_S3_REGION: process.env.S3_REGION,
  GATEWAY_MEDIA_S3_ACCESS_KEY_ID: process.env.S3_ACCESS_KEY_ID,
  GATEWAY_MEDIA_S3_SECRET_ACCESS_KEY: process.env.S3_SECRET_ACCESS_KEY,
};

export type MediaStoreKind = 'filesystem' | 's3';

/** The objects a system's media store holds, and the uploads it is still checking. */
export interface StoredMedia {
  /** Every object key under `prefix` (`avatars/`, `attachments/`), sorted. */
  keys(prefix: string): Promise<string[]>;
  /** The files in the staging directory. */
  staged(): Promise<string[]>;
  close(): void;
}

/** `dataDir`: the embedded system's DATA_DIR (media under `media/`). */
export function storedMedia(kind: MediaStoreKind, dataDir: string): StoredMedia {
  const s3 = new S3Client({
    endpoint: S3_ENV.GATEWAY_MEDIA_S3_ENDPOINT,
    region: S3_ENV.GATEWAY_MEDIA_S3_REGION,
    forcePathStyle: true,
    credentials: {
      accessKeyId: S3_ENV.GATEWAY_MEDIA_S3_ACCESS_KEY_ID ?? '',
      secretAccessKey: S3_ENV.GATEWAY_MEDIA_S3_SECRET_ACCESS_KEY ?? '',
    },
  });
  return {
    async keys(prefix) {
      if (kind === 's3') {
        const out = await s3.send(new ListObjectsV2Command({ Bucket: S3_ENV.GATEWAY_MEDIA_S3_BUCKET, Prefix: prefix }));
        return (out.Contents ?? []).map((o) => o.Key ?? '').sort();
      }
      const files = await readdir(join(dataDir, 'media'), { recursive: true }).catch(() => []);
      // Objects are `<prefix><id>/<name>`; the filesystem store keeps a `.meta` file beside each.
      return files.filter((f) => f.startsWith(prefix) && !f.endsWith('.meta') && f.split('/').length === 3).sort();
    },
    staged: () => readdir(join(dataDir, 'media', '.staging')).catch(() => []),
    close: () => s3.destroy(),
  };
}
