export * from './blob-store.ts';
export { FsBlobStore, meter } from './fs-blob-store.ts';
export * from './media-store.ts';
export { S3BlobStore, type S3BlobStoreOptions } from './s3-blob-store.ts';
