// The chat service's view of the media store (domain/attachments.ts's
// MediaContent) over the blob store port, at the keys the gateway writes.
import { attachmentKeys, type BlobStore, removeAttachmentFiles } from '@messenger/platform/blob';
import type { MediaContent, StoredContent } from '../domain/attachments.ts';

export function blobMediaContent(store: BlobStore): MediaContent {
  return {
    async describe(attachmentId): Promise<StoredContent | undefined> {
      const keys = attachmentKeys(attachmentId);
      const [content, thumbnail] = await Promise.all([store.head(keys.content), store.head(keys.thumbnail)]);
      if (content === null) return undefined;
      return { mediaType: content.contentType, sizeBytes: content.size, hasThumbnail: thumbnail !== null };
    },
    remove: (attachmentId) => removeAttachmentFiles(store, attachmentId),
  };
}
