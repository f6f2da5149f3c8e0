// Attachments: files sent in a chat. The gateway checks and stores their
// bytes in the media store; the chat service keeps what is known of them
// and their life: reserved, uploaded, sent with a message, and garbage once
// that message is deleted or when they were never sent. A collector removes
// garbage bytes; it can never remove a sent attachment's, because claiming
// and sending are each one atomic step of the store from `uploaded`.
import { randomUUID } from 'node:crypto';
import { callerId, canonicalId, throwIfInvalid, violation } from '@messenger/platform/domain';
import {
  ATTACHMENT_CLAIM_LEASE_MS,
  type Attachment,
  type Chat,
  MAX_MESSAGE_ATTACHMENTS,
  MAX_UNSENT_ATTACHMENTS,
  PENDING_ATTACHMENT_TTL_MS,
  UNSENT_ATTACHMENT_TTL_MS,
} from './chat.ts';
import { attachmentLimit, attachmentNotFound, attachmentNotUploaded } from './chat-errors.ts';
import type { ChatStorage } from './chat-storage.ts';
import type { CallMeta, UseCaseContext } from './use-case-context.ts';
import { uuidProblem } from './validation.ts';

/** What the media store holds for an attachment, read by the chat service itself (never a caller's claim). */
export interface StoredContent {
  readonly mediaType: string;
  readonly sizeBytes: number;
  readonly hasThumbnail: boolean;
}

/** The chat service's view of the media store. */
export interface MediaContent {
  /** What is stored for the attachment; undefined when its content is not there. */
  describe(attachmentId: string): Promise<StoredContent | undefined>;
  /** Removes its content and thumbnail; removing what is not there is not an error. */
  remove(attachmentId: string): Promise<void>;
}

const MAX_FILE_NAME_LENGTH = 255;
/** The pixel side an image may claim: well above any image the gateway accepts. */
const MAX_SIDE = 1_000_000;

/** Why a file name cannot be kept, or undefined: it is shown and offered as a download name, never used as a path. */
export function fileNameProblem(name: string): string | undefined {
  if ([...name].length > MAX_FILE_NAME_LENGTH) return `must be at most ${MAX_FILE_NAME_LENGTH} characters`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f/\\]/.test(name)) return 'must not contain path separators or control characters';
  if (name === '.' || name === '..') return 'must name a file';
  return undefined;
}

export function attachmentUseCases(ctx: UseCaseContext, media: MediaContent | undefined) {
  const { store, now } = ctx;

  /** The attachment if it is in the chat and the caller may see it: once sent, every member; before, its uploader. */
  const visibleAttachment = async (me: string, chat: Chat, attachmentId: string): Promise<Attachment> => {
    const found = await store.getAttachment(canonicalId(attachmentId));
    const visible =
      found !== undefined &&
      found.chatId === chat.id &&
      (found.state === 'sent' ||
        (found.uploaderId === me && (found.state === 'pending' || found.state === 'uploaded')));
    if (!visible) throw attachmentNotFound();
    return found;
  };

  return {
    /** Reserves an id for a file the caller is about to upload to a chat they are a member of. */
    async beginAttachment(meta: CallMeta, chatId: string, fileName: string): Promise<Attachment> {
      const me = callerId(meta.actor);
      throwIfInvalid([violation('chat_id', uuidProblem(chatId)), violation('file_name', fileNameProblem(fileName))]);
      const chat = await ctx.visibleChat(me, chatId);
      const attachment: Attachment = {
        id: randomUUID(),
        chatId: chat.id,
        uploaderId: me,
        fileName,
        createTime: now(),
        state: 'pending',
        messageId: '',
        mediaType: '',
        sizeBytes: 0,
        width: 0,
        height: 0,
        hasThumbnail: false,
      };
      if ((await store.putAttachment(attachment, MAX_UNSENT_ATTACHMENTS)) === 'limit') {
        throw attachmentLimit(MAX_UNSENT_ATTACHMENTS);
      }
      return attachment;
    },

    /** Marks the caller's reservation uploaded, from what the media store holds. Idempotent. */
    async completeAttachment(
      meta: CallMeta,
      input: { chatId: string; attachmentId: string; width: number; height: number },
    ): Promise<Attachment> {
      const me = callerId(meta.actor);
      throwIfInvalid([
        violation('chat_id', uuidProblem(input.chatId)),
        violation('attachment_id', uuidProblem(input.attachmentId)),
        violation('width', input.width < 0 || input.width > MAX_SIDE ? `must be 0–${MAX_SIDE}` : undefined),
        violation('height', input.height < 0 || input.height > MAX_SIDE ? `must be 0–${MAX_SIDE}` : undefined),
      ]);
      const chat = await ctx.visibleChat(me, input.chatId);
      const found = await visibleAttachment(me, chat, input.attachmentId);
      if (found.uploaderId !== me) throw attachmentNotFound();
      if (found.state !== 'pending') return found;
      const content = await media?.describe(found.id);
      if (content === undefined) throw attachmentNotUploaded();
      const uploaded: Attachment = {
        ...found,
        state: 'uploaded',
        mediaType: content.mediaType,
        sizeBytes: content.sizeBytes,
        hasThumbnail: content.hasThumbnail,
        width: input.width,
        height: input.height,
      };
      if (await store.completeAttachment(uploaded)) return uploaded;
      // Completed (or collected) meanwhile: what is stored now says which.
      return visibleAttachment(me, chat, found.id);
    },

    async getAttachment(meta: CallMeta, chatId: string, attachmentId: string): Promise<Attachment> {
      const me = callerId(meta.actor);
      throwIfInvalid([
        violation('chat_id', uuidProblem(chatId)),
        violation('attachment_id', uuidProblem(attachmentId)),
      ]);
      return visibleAttachment(me, await ctx.visibleChat(me, chatId), attachmentId);
    },
  };
}

/** Why a post's attachment ids are refused, as field violations; none when they may be sent. */
export function attachmentIdsProblems(ids: readonly string[]): { field: string; description: string | undefined }[] {
  if (ids.length > MAX_MESSAGE_ATTACHMENTS) {
    return [{ field: 'attachment_ids', description: `must hold at most ${MAX_MESSAGE_ATTACHMENTS} ids` }];
  }
  const seen = new Set<string>();
  return ids.map((id, i) => {
    const problem = uuidProblem(id);
    if (problem !== undefined) return { field: `attachment_ids[${i}]`, description: problem };
    const key = canonicalId(id);
    if (seen.has(key)) return { field: `attachment_ids[${i}]`, description: 'is given twice' };
    seen.add(key);
    return { field: `attachment_ids[${i}]`, description: undefined };
  });
}

/** The sender's unsent uploads to the chat that a post names, in order; a violation for any that is not. */
export async function attachmentsToSend(
  store: ChatStorage,
  me: string,
  chat: Chat,
  ids: readonly string[],
): Promise<Attachment[]> {
  const found = await Promise.all(ids.map((id) => store.getAttachment(canonicalId(id))));
  throwIfInvalid(
    found.map((a, i) =>
      violation(
        `attachment_ids[${i}]`,
        a !== undefined && a.chatId === chat.id && a.uploaderId === me && a.state === 'uploaded'
          ? undefined
          : 'is not a file you uploaded to this chat and have not sent',
      ),
    ),
  );
  return found as Attachment[];
}

/** How many garbage attachments one pass of the collector claims at most. */
const GARBAGE_BATCH = 100;

/**
 * One pass of the collector: claims what is garbage now, removes its bytes,
 * then forgets it. Returns how many attachments it removed. An attachment
 * whose bytes could not be removed stays claimed, for a later pass once its
 * lease runs out.
 */
export async function collectAttachmentGarbage(
  store: ChatStorage,
  media: MediaContent,
  now: Date,
  onError: (attachmentId: string, error: unknown) => void,
): Promise<number> {
  const t = now.getTime();
  let removed = 0;
  for (;;) {
    const claimed = await store.claimAttachmentGarbage(
      now,
      {
        pendingBefore: new Date(t - PENDING_ATTACHMENT_TTL_MS),
        uploadedBefore: new Date(t - UNSENT_ATTACHMENT_TTL_MS),
        claimedBefore: new Date(t - ATTACHMENT_CLAIM_LEASE_MS),
      },
      GARBAGE_BATCH,
    );
    const gone: string[] = [];
    await Promise.all(
      claimed.map(async (a) => {
        try {
          await media.remove(a.id);
          gone.push(a.id);
        } catch (error) {
          onError(a.id, error);
        }
      }),
    );
    if (gone.length > 0) await store.deleteAttachments(gone);
    removed += gone.length;
    if (claimed.length < GARBAGE_BATCH) return removed;
  }
}
