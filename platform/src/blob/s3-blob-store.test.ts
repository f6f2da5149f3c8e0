// S3BlobStore against the s3rver started by scripts/with-test-infra.sh.
import { randomUUID } from 'node:crypto';
import { blobStoreContract } from './blob-store.contract.ts';
import { S3BlobStore } from './s3-blob-store.ts';

const endpoint = process.env.S3_ENDPOINT;
if (!endpoint) {
  throw new Error(
    'S3_ENDPOINT is not set. Run the tests under scripts/with-test-infra.sh, e.g. ' +
      '`scripts/with-test-infra.sh npm test -- platform/src/blob`.',
  );
}

blobStoreContract('S3BlobStore', async () => {
  const store = new S3BlobStore({
    endpoint,
    bucket: process.env.S3_BUCKET ?? '',
    region: process.env.S3_REGION ?? '',
    accessKeyId: process.env.S3_ACCESS_KEY_ID ?? '',
    secretAccessKey: process.env.S3_SECRET_ACCESS_KEY ?? '',
    // Every fixture in its own namespace, so tests never see each other's objects.
    prefix: `${randomUUID()}/`,
  });
  return { store, close: async () => store.close() };
});
