// The media store as a deployment configures it: one set of settings, read by
// the gateway (which writes and serves media) and the chat service (which
// describes and removes attachments) under their own prefixes, so that both
// point at the same filesystem directory or bucket.
import { type ConfigOf, setting } from '../config.ts';
import type { BlobStore } from './blob-store.ts';
import { FsBlobStore } from './fs-blob-store.ts';
import { S3BlobStore } from './s3-blob-store.ts';

/** The settings of a media store, named `<PREFIX>_MEDIA_*`; `dirUse` says what else the directory holds. */
export function mediaStoreSettings(prefix: string, dirUse: string) {
  const v = (name: string) => `${prefix}_MEDIA_${name}`;
  return {
    mediaStore: setting.oneOf(v('STORE'), ['filesystem', 's3'], 'filesystem', {
      description: `Where uploaded media (avatars, attachments) is kept: filesystem (${v('DIR')}; one host, or a volume every replica shares) or s3 (${v('S3_*')}: AWS S3, MinIO or any S3-compatible store; what several hosts need). The gateway and the chat service must name the same store.`,
    }),
    mediaDir: setting.string(v('DIR'), './.data/media', {
      description: `A writable directory: the media files with ${v('STORE')}=filesystem${dirUse}. Created when missing. Embedded mode uses DATA_DIR/media instead (a temp dir with EMBEDDED_STORAGE=memory).`,
    }),
    mediaS3Bucket: setting.optionalString(v('S3_BUCKET'), {
      description: `With ${v('STORE')}=s3: the bucket (it must exist).`,
    }),
    mediaS3Region: setting.string(v('S3_REGION'), 'us-east-1', {
      description: `With ${v('STORE')}=s3: the bucket's region.`,
    }),
    mediaS3Endpoint: setting.optionalString(v('S3_ENDPOINT'), {
      description: `With ${v('STORE')}=s3: the URL of an S3-compatible server (e.g. http://minio:9000, path-style requests); empty: AWS S3.`,
    }),
    mediaS3AccessKeyId: setting.optionalString(v('S3_ACCESS_KEY_ID'), {
      description: `With ${v('STORE')}=s3: access key id; empty: the AWS SDK's default credentials (instance or pod role, AWS_* variables).`,
    }),
    mediaS3SecretAccessKey: setting.optionalString(v('S3_SECRET_ACCESS_KEY'), {
      description: `With ${v('S3_ACCESS_KEY_ID')}: its secret key.`,
      secret: true,
    }),
  };
}

export type MediaStoreConfig = ConfigOf<ReturnType<typeof mediaStoreSettings>>;

/**
 * The configured store; `dir` replaces the configured directory (embedded
 * mode keeps media under its data directory). Touches no disk and no
 * network: a bad store shows on first use, not at start-up.
 */
export function openMediaStore(config: MediaStoreConfig, dir: string = config.mediaDir): BlobStore {
  if (config.mediaStore !== 's3') return new FsBlobStore(dir);
  if (config.mediaS3Bucket === '') throw new Error('a media bucket must be set when the media store is s3');
  return new S3BlobStore({
    bucket: config.mediaS3Bucket,
    region: config.mediaS3Region,
    endpoint: config.mediaS3Endpoint,
    accessKeyId: config.mediaS3AccessKeyId,
    secretAccessKey: config.mediaS3SecretAccessKey,
  });
}

/** Where an attachment's bytes are kept: written by the gateway, described and removed by the chat service. */
export function attachmentKeys(attachmentId: string): { readonly content: string; readonly thumbnail: string } {
  return { content: `attachments/${attachmentId}/content`, thumbnail: `attachments/${attachmentId}/thumbnail` };
}

/**
 * Removes an attachment's bytes; removing what is not there is not an error.
 * The thumbnail goes first: content without a thumbnail is still whole, a
 * thumbnail without its content is not.
 */
export async function removeAttachmentFiles(store: BlobStore, attachmentId: string): Promise<void> {
  const keys = attachmentKeys(attachmentId);
  await store.delete(keys.thumbnail);
  await store.delete(keys.content);
}
