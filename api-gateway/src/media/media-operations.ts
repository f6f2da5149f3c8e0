// The media routes as the OpenAPI document lists them (Swagger UI's "Try it
// out" can upload a file with them); their behaviour is media/*.ts.
import type { OwnOperation } from '../plugins/openapi/openapi-document.ts';

const chatId = { name: 'chat_id', in: 'path', required: true, description: 'The id (UUID) of the chat.' } as const;
const attachmentId = {
  name: 'attachment_id',
  in: 'path',
  required: true,
  description: 'The id (UUID) of the attachment.',
} as const;
const range = {
  name: 'Range',
  in: 'header',
  required: false,
  description: 'One `bytes=a-b`, `bytes=a-` or `bytes=-n`: answered with 206 (416 past the end).',
} as const;

export const MEDIA_OPERATIONS: readonly OwnOperation[] = [
  {
    method: 'put',
    path: '/v1/users/me/avatar',
    operationId: 'UploadAvatar',
    tag: 'UserService',
    summary: "Uploads the caller's avatar and sets their avatar_url to it.",
    description:
      'The body is the image itself: JPEG, PNG, WebP or GIF, found in the bytes (the declared type is not used). ' +
      'Stored as 512 and 128 px WebP squares without metadata. Answers as UpdateUser.',
    parameters: [],
    uploads: true,
    responseMessage: 'messenger.user.v1.UpdateUserResponse',
  },
  {
    method: 'get',
    path: '/v1/media/avatars/{id}',
    operationId: 'GetAvatarImage',
    tag: 'UserService',
    summary: 'An uploaded avatar (public, immutable).',
    description: 'WebP; `size` 512 (default) or 128.',
    public: true,
    parameters: [
      { name: 'id', in: 'path', required: true, description: 'The id in the avatar_url.' },
      { name: 'size', in: 'query', required: false, description: '512 or 128.' },
      range,
    ],
  },
  {
    method: 'post',
    path: '/v1/chats/{chat_id}/attachments',
    operationId: 'UploadAttachment',
    tag: 'ChatService',
    summary: 'Uploads a file to send in a chat (SendMessage attachment_ids).',
    description:
      'The body is the file itself; its type is found in its bytes. Images are re-encoded without metadata and ' +
      'get a thumbnail; PDF, archives, audio, video and UTF-8 text are kept as they came; anything else gets 415.',
    parameters: [
      chatId,
      {
        name: 'file_name',
        in: 'query',
        required: false,
        description: 'The name to show: at most 255 characters, no path separators or control characters.',
      },
    ],
    uploads: true,
    responseMessage: 'messenger.chat.v1.GetAttachmentResponse',
  },
  {
    method: 'get',
    path: '/v1/chats/{chat_id}/attachments/{attachment_id}/content',
    operationId: 'DownloadAttachment',
    tag: 'ChatService',
    summary: "An attachment's file: for the chat's members once sent, for its uploader before.",
    description: 'Served with `nosniff` and a sandboxing CSP; anything but images, audio and video as a download.',
    parameters: [chatId, attachmentId, range],
  },
  {
    method: 'get',
    path: '/v1/chats/{chat_id}/attachments/{attachment_id}/thumbnail',
    operationId: 'DownloadAttachmentThumbnail',
    tag: 'ChatService',
    summary: "An image attachment's thumbnail (WebP, at most 320 px on its longer side).",
    description: 'Readable as the content is; 404 for an attachment without one.',
    parameters: [chatId, attachmentId, range],
  },
];
