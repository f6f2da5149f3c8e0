// Chat attachments. An upload is one request whose body is the file: the
// chat service reserves an id for it (BeginAttachment, which checks that the
// caller is a member), the body streams into a staging file under the size
// limit, its type is found in its bytes (libvips for images, file-type for
// other formats, UTF-8 text as a last resort; never the client's claim), an
// image is re-encoded without its metadata (EXIF) and gets a thumbnail, the
// result goes to the media store under the reserved id, and the chat service
// records what the store holds (CompleteAttachment). A download asks the
// chat service whether the caller may read the attachment (GetAttachment)
// before a byte is sent.
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Attachment,
  BeginAttachmentRequest,
  BeginAttachmentResponse,
  CompleteAttachmentRequest,
  GetAttachmentRequest,
  GetAttachmentResponse,
} from '@messenger/gen/messenger/chat/v1/chat';
import { RateLimitClass } from '@messenger/gen/messenger/options/v1/options';
import { attachmentKeys, removeAttachmentFiles } from '@messenger/platform/blob';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { fileTypeFromBuffer } from 'file-type';
import { badRequestDetail, Code, GatewayError } from '../errors/status.ts';
import { answerMarshaller, type Credential, callService, type ServiceCallOptions } from './service-call.ts';
import {
  checkDeclaredLength,
  decodeImage,
  type ImageHeader,
  readImageHeader,
  serveBlob,
  stage,
  type UploadTarget,
  undecodable,
} from './uploads.ts';

/** BeginAttachment and CompleteAttachment admit the gateway only, on its own credential. */
export interface AttachmentOptions extends UploadTarget, ServiceCallOptions {}

/** Formats other than images that are kept, as file-type names them; anything else is refused (415). */
const OTHER_TYPES = new Set([
  'application/pdf',
  'application/zip',
  'application/gzip',
  'application/x-7z-compressed',
  'audio/mpeg',
  'audio/ogg',
  'audio/opus',
  'audio/wav',
  'audio/x-m4a',
  'audio/aac',
  'audio/flac',
  'video/mp4',
  'video/webm',
  'video/quicktime',
  'video/ogg',
]);
/** Served inline (a browser may show them); everything else is a download. */
const INLINE = /^(image|audio|video)\//;
/** A thumbnail's longer side. */
const THUMBNAIL_SIDE = 320;
/** How much of a file's head is read to find its type (signature, or text). */
const TEXT_SNIFF_BYTES = 64 * 1024;
/** Attachment ids never change their bytes; still, only members may read them, so no shared cache. */
const CACHE_CONTROL = 'private, max-age=86400, immutable';

const CHAT = 'messenger.chat.v1.ChatService';

export async function attachmentRoutes(app: FastifyInstance, opts: AttachmentOptions): Promise<void> {
  // Sending files is ordinary use (an album is ten uploads); what one upload
  // costs is bounded by the size and pixel limits and by the chat service's
  // cap on uploads not yet sent.
  const ordinary = { signedInRateLimit: RateLimitClass.RATE_LIMIT_CLASS_DEFAULT };
  // The upload's answer, `{"attachment": …}`, in the JSON every other route gives.
  const completed = answerMarshaller(opts, 'messenger.chat.v1.CompleteAttachmentResponse');
  /** Calls a chat RPC; `as: 'gateway'` for the internal ones, which name the user in the request. */
  const chatCall = async <Req, Res>(
    req: FastifyRequest,
    method: string,
    codec: { encode(r: Req): { finish(): Uint8Array } },
    decode: (bytes: Uint8Array) => Res,
    request: Req,
    as: Credential = 'caller',
  ): Promise<Res> =>
    decode(await callService(app, opts, req, { service: CHAT, method, request: codec.encode(request).finish(), as }));

  app.post<{ Params: { chatId: string }; Querystring: { file_name?: string } }>(
    '/v1/chats/:chatId/attachments',
    { onRequest: app.authenticate, config: ordinary },
    async (req, reply) => {
      checkDeclaredLength(req, opts.limits.maxBytes);
      const fileName: unknown = req.query.file_name ?? '';
      if (typeof fileName !== 'string') {
        throw new GatewayError(Code.INVALID_ARGUMENT, 'file_name may be given once', {
          details: [badRequestDetail([{ field: 'file_name', description: 'must be given at most once' }])],
        });
      }
      const userId = req.caller?.userId ?? '';
      const begun = await chatCall(
        req,
        'BeginAttachment',
        BeginAttachmentRequest,
        BeginAttachmentResponse.decode,
        { chatId: req.params.chatId, fileName, userId },
        'gateway',
      );
      const id = begun.attachment?.attachmentId ?? '';
      const staged = join(opts.stagingDir, randomUUID());
      let size = { width: 0, height: 0 };
      try {
        // Made on first use: a system that never takes an upload writes nothing into its data directory.
        await mkdir(opts.stagingDir, { recursive: true });
        await stage(req, staged, opts.limits.maxBytes);
        size = await store(opts, staged, id);
      } finally {
        await rm(staged, { force: true });
      }
      try {
        const done = await callService(app, opts, req, {
          service: CHAT,
          method: 'CompleteAttachment',
          request: CompleteAttachmentRequest.encode({
            chatId: req.params.chatId,
            attachmentId: id,
            userId,
            ...size,
          }).finish(),
          as: 'gateway',
        });
        return reply
          .header('cache-control', 'no-store')
          .header('content-type', 'application/json; charset=utf-8')
          .send(completed.toJsonText(done));
      } catch (err) {
        await removeAttachmentFiles(opts.store, id);
        throw err;
      }
    },
  );

  const download = (which: 'content' | 'thumbnail') =>
    app.get<{ Params: { chatId: string; attachmentId: string } }>(
      `/v1/chats/:chatId/attachments/:attachmentId/${which}`,
      { onRequest: app.authenticate, config: ordinary },
      async (req, reply) => {
        const { attachment } = await chatCall(
          req,
          'GetAttachment',
          GetAttachmentRequest,
          GetAttachmentResponse.decode,
          req.params,
        );
        if (attachment === undefined) throw new GatewayError(Code.NOT_FOUND, 'no such attachment');
        if (which === 'thumbnail' && !attachment.hasThumbnail) {
          throw new GatewayError(Code.NOT_FOUND, 'this attachment has no thumbnail');
        }
        const etag = `"${attachment.attachmentId}-${which}"`;
        reply
          .header('cache-control', CACHE_CONTROL)
          .header('etag', etag)
          .header('accept-ranges', 'bytes')
          // Whatever the bytes are, the browser neither guesses another type nor runs them in this origin.
          .header('x-content-type-options', 'nosniff')
          .header('content-security-policy', "default-src 'none'; sandbox")
          .header('content-disposition', dispositionOf(attachment, which));
        if (req.headers['if-none-match'] === etag) return reply.code(304).send();
        return serveBlob(opts.store, attachmentKeys(attachment.attachmentId)[which], req, reply);
      },
    );
  download('content');
  download('thumbnail');
}

/**
 * Stores a staged upload under the attachment's keys, as what its bytes
 * are: an image re-encoded without metadata plus a thumbnail; another kept
 * format as it came. Returns an image's size (0 × 0 otherwise).
 */
async function store(opts: AttachmentOptions, staged: string, id: string): Promise<{ width: number; height: number }> {
  const keys = attachmentKeys(id);
  const image = await readImageHeader(staged, opts.limits.maxPixels);
  if (image !== undefined) {
    try {
      await putImage(opts, staged, image, keys);
    } catch (err) {
      await removeAttachmentFiles(opts.store, id);
      throw undecodable(err);
    }
    return { width: image.width, height: image.height };
  }
  const type = await typeOf(staged);
  if (type === undefined) {
    throw new GatewayError(Code.INVALID_ARGUMENT, 'this kind of file cannot be attached', { httpStatus: 415 });
  }
  await opts.store.put(keys.content, createReadStream(staged), { contentType: type });
  return { width: 0, height: 0 };
}

async function putImage(
  opts: AttachmentOptions,
  staged: string,
  image: ImageHeader,
  keys: { content: string; thumbnail: string },
): Promise<void> {
  const { maxPixels } = opts.limits;
  // rotate() applies the EXIF orientation; libvips writes no metadata unless asked. A GIF keeps its frames.
  const animated = image.format === 'gif';
  const decoded = decodeImage(staged, maxPixels, animated).rotate();
  const content =
    image.format === 'jpeg'
      ? decoded.jpeg({ quality: 90 })
      : image.format === 'png'
        ? decoded.png()
        : image.format === 'webp'
          ? decoded.webp()
          : decoded.gif();
  await opts.store.put(keys.content, content, { contentType: `image/${image.format}` });
  const thumbnail = decodeImage(staged, maxPixels)
    .rotate()
    .resize(THUMBNAIL_SIDE, THUMBNAIL_SIDE, { fit: 'inside', withoutEnlargement: true })
    .webp();
  await opts.store.put(keys.thumbnail, thumbnail, { contentType: 'image/webp' });
}

/** A kept non-image type found in the bytes, `text/plain` for UTF-8 text without NULs, or undefined. */
async function typeOf(file: string): Promise<string | undefined> {
  // One read of the head serves both the signature scan and the text check.
  const handle = await open(file);
  let head: Buffer;
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(TEXT_SNIFF_BYTES), 0, TEXT_SNIFF_BYTES, 0);
    head = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const found = await fileTypeFromBuffer(head);
  if (found !== undefined) return OTHER_TYPES.has(found.mime) ? found.mime : undefined;
  if (head.length === 0 || head.includes(0)) return undefined;
  try {
    // Streaming: a multi-byte character cut at the end of a full sample is not a fault of the file.
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: head.length === TEXT_SNIFF_BYTES });
    return 'text/plain; charset=utf-8';
  } catch {
    return undefined;
  }
}

/** `inline` for media a browser shows, `attachment` otherwise; the name as RFC 6266/8187 encode it. */
function dispositionOf(a: Attachment, which: 'content' | 'thumbnail'): string {
  const inline = which === 'thumbnail' || INLINE.test(a.mediaType);
  const name = a.fileName === '' ? a.attachmentId : a.fileName;
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `${inline ? 'inline' : 'attachment'}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
