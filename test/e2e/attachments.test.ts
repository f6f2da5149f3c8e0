// Chat attachments through the gateway of the whole embedded system (real
// HTTP, real gRPC to the chat service), once with the media on the local
// filesystem and once on S3 (the s3rver of scripts/with-test-infra.sh):
// upload, type from the bytes, EXIF stripped, thumbnails, member-only
// downloads with ranges, sending with a message, removal of a deleted
// message's files by the collector, and refused uploads leaving nothing.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import sharp from 'sharp';
import { type Account, Gateway } from './support/http.ts';
import { S3_ENV, type StoredMedia, storedMedia } from './support/media.ts';
import { SYSTEM_ENV } from './support/system.ts';
import { waitFor } from './support/wait.ts';

const MAX_BYTES = 400_000;
const MAX_PIXELS = 1_000_000;

interface AttachmentJson {
  attachmentId: string;
  chatId: string;
  uploaderId: string;
  mediaType: string;
  sizeBytes: string;
  fileName: string;
  width: number;
  height: number;
  hasThumbnail: boolean;
  state: string;
  messageId: string;
}

/** 600 × 400 pixels stored turned a quarter (EXIF orientation 6), with EXIF text that must not survive. */
const turnedJpegWithExif = () =>
  sharp({ create: { width: 600, height: 400, channels: 3, background: { r: 10, g: 120, b: 200 } } })
    .jpeg()
    .withMetadata({ orientation: 6 })
    .withExif({ IFD0: { Copyright: 'secret-owner', ImageDescription: 'home address' } })
    .toBuffer();

describe.each(['filesystem', 's3'] as const)('attachments with GATEWAY_MEDIA_STORE=%s', (store) => {
  let dataDir: string;
  let system: RunningSystem;
  let gw: Gateway;
  let ann: Account;
  let bob: Account;
  let eve: Account;
  let chatId: string;
  let media: StoredMedia;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'e2e-attachments-'));
    media = storedMedia(store, dataDir);
    system = await startSystem(
      loadEmbeddedConfig({
        ...SYSTEM_ENV,
        EMBEDDED_STORAGE: 'sqlite',
        DATA_DIR: dataDir,
        GATEWAY_MEDIA_STORE: store,
        GATEWAY_ATTACHMENT_MAX_BYTES: String(MAX_BYTES),
        GATEWAY_ATTACHMENT_MAX_PIXELS: String(MAX_PIXELS),
        CHAT_ATTACHMENT_GC_INTERVAL_MS: '1000',
        ...(store === 's3' ? S3_ENV : {}),
      }),
    );
    gw = new Gateway(system.gatewayUrl);
    [ann, bob, eve] = [await gw.register('ann'), await gw.register('bob'), await gw.register('eve')];
    await gw.ok('POST', `/v1/friends/${bob.userId}`, ann.accessToken, {});
    await gw.ok('POST', `/v1/friends/${ann.userId}/confirm`, bob.accessToken, {});
    const created = await gw.ok('POST', '/v1/chats', ann.accessToken, {
      type: 'CHAT_TYPE_DIRECT',
      memberIds: [bob.userId],
    });
    chatId = (created.chat as { chatId: string }).chatId;
  }, 60_000);

  afterAll(async () => {
    await system?.stop();
    media?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const storedObjects = () => media.keys('attachments/');
  const staged = () => media.staged();

  const upload = (
    body: RequestInit['body'],
    opts: { token?: string; type?: string; fileName?: string; chat?: string; query?: string } = {},
  ) => {
    const query = opts.query ?? (opts.fileName === undefined ? '' : `?file_name=${encodeURIComponent(opts.fileName)}`);
    return fetch(`${gw.url}/v1/chats/${opts.chat ?? chatId}/attachments${query}`, {
      method: 'POST',
      headers: {
        'content-type': opts.type ?? 'application/octet-stream',
        authorization: `Bearer ${opts.token ?? ann.accessToken}`,
      },
      body,
      duplex: 'half',
    } as RequestInit);
  };
  const uploaded = async (body: Buffer, fileName?: string): Promise<AttachmentJson> => {
    const res = await upload(body, { fileName });
    expect(res.status).toBe(200);
    return ((await res.json()) as { attachment: AttachmentJson }).attachment;
  };
  const get = (path: string, token: string, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
  const contentPath = (a: AttachmentJson) => `/v1/chats/${chatId}/attachments/${a.attachmentId}/content`;
  const send = (ids: string[], token = ann.accessToken, text = '') =>
    gw.request('POST', `/v1/chats/${chatId}/messages`, token, {
      clientMessageId: randomUUID(),
      text,
      attachmentIds: ids,
    });

  /** A refused upload: the status, a google.rpc.Status body, and no trace in storage. */
  const rejected = async (res: Response, status: number, code: number) => {
    const before = await storedObjects();
    expect(res.status).toBe(status);
    const body = (await res.json()) as { code: number; message: string };
    expect(body.code).toBe(code);
    expect(typeof body.message).toBe('string');
    expect(await storedObjects()).toEqual(before);
    expect(await staged()).toEqual([]);
    return body;
  };

  it('stores an image upright without its EXIF, with a thumbnail, readable by its uploader only until sent', async () => {
    const a = await uploaded(await turnedJpegWithExif(), 'beach.jpg');
    expect(a).toMatchObject({
      chatId,
      uploaderId: ann.userId,
      mediaType: 'image/jpeg',
      fileName: 'beach.jpg',
      width: 400,
      height: 600,
      hasThumbnail: true,
      state: 'ATTACHMENT_STATE_UPLOADED',
    });
    expect(await staged()).toEqual([]);

    const content = await get(contentPath(a), ann.accessToken);
    expect(content.status).toBe(200);
    expect(content.headers.get('content-type')).toBe('image/jpeg');
    expect(content.headers.get('x-content-type-options')).toBe('nosniff');
    const bytes = Buffer.from(await content.arrayBuffer());
    expect(String(bytes.length)).toBe(a.sizeBytes);
    const meta = await sharp(bytes).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 400, height: 600 });
    expect(meta.exif).toBeUndefined();
    expect(meta.orientation).toBeUndefined();
    expect(bytes.includes(Buffer.from('secret-owner'))).toBe(false);

    const thumb = await get(`/v1/chats/${chatId}/attachments/${a.attachmentId}/thumbnail`, ann.accessToken);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    expect(await sharp(Buffer.from(await thumb.arrayBuffer())).metadata()).toMatchObject({ width: 213, height: 320 });

    const part = await get(contentPath(a), ann.accessToken, { range: 'bytes=5-14' });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(5, 15))).toBe(true);

    // Not sent yet: the other member cannot see it; a stranger never can.
    expect((await get(contentPath(a), bob.accessToken)).status).toBe(404);
    expect((await gw.request('GET', `/v1/chats/${chatId}/attachments/${a.attachmentId}`, bob.accessToken)).status).toBe(
      404,
    );

    const sent = await send([a.attachmentId]);
    expect(sent.status).toBe(200);
    const message = (sent.body as { message: { messageId: string; text?: string; attachments: AttachmentJson[] } })
      .message;
    expect(message.attachments).toEqual([
      expect.objectContaining({ attachmentId: a.attachmentId, state: 'ATTACHMENT_STATE_SENT', width: 400 }),
    ]);
    expect(message.attachments[0]?.messageId).toBe(message.messageId);

    const forBob = await get(contentPath(a), bob.accessToken);
    expect(forBob.status).toBe(200);
    expect(Buffer.from(await forBob.arrayBuffer()).equals(bytes)).toBe(true);
    const described = await gw.ok('GET', `/v1/chats/${chatId}/attachments/${a.attachmentId}`, bob.accessToken);
    expect(described.attachment).toMatchObject({ attachmentId: a.attachmentId, state: 'ATTACHMENT_STATE_SENT' });
    expect((await get(contentPath(a), eve.accessToken)).status).toBe(404);
    // Sent once: not again.
    expect((await send([a.attachmentId])).status).toBe(400);
  });

  it('keeps a PDF and a text file as they came, served as downloads under their names', async () => {
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
    const doc = await uploaded(pdf, 'Rechnung März.pdf');
    expect(doc.mediaType).toBe('application/pdf');
    expect([doc.hasThumbnail, doc.width, doc.height, doc.sizeBytes]).toEqual([false, 0, 0, String(pdf.length)]);
    // The upload's answer is the JSON every route gives: GetAttachment's, fields at their defaults included.
    const described = await gw.ok('GET', `/v1/chats/${chatId}/attachments/${doc.attachmentId}`, ann.accessToken);
    expect(described.attachment).toEqual(doc);
    const res = await get(contentPath(doc), ann.accessToken);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="Rechnung M_rz.pdf"; filename*=UTF-8''${encodeURIComponent('Rechnung März.pdf')}`,
    );
    expect(res.headers.get('content-security-policy')).toContain('sandbox');
    expect(Buffer.from(await res.arrayBuffer()).equals(pdf)).toBe(true);

    // Declared HTML: kept as the text it is, never served as a page.
    const text = await upload(Buffer.from('<script>alert(1)</script> héllo\n'), { type: 'text/html' });
    const note = ((await text.json()) as { attachment: AttachmentJson }).attachment;
    expect(note.mediaType).toBe('text/plain; charset=utf-8');
    const served = await get(contentPath(note), ann.accessToken);
    expect(served.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(served.headers.get('content-disposition')).toMatch(/^attachment;/);

    const both = await send([doc.attachmentId, note.attachmentId], ann.accessToken, 'the invoice');
    expect(both.status).toBe(200);
  });

  it('removes the files of a deleted message, and only those', async () => {
    const kept = await uploaded(await turnedJpegWithExif());
    const gone = await uploaded(await turnedJpegWithExif());
    const keptMessage = (await send([kept.attachmentId])).body as { message: { messageId: string } };
    const goneMessage = (await send([gone.attachmentId])).body as { message: { messageId: string } };
    const goneKeys = [`attachments/${gone.attachmentId}/content`, `attachments/${gone.attachmentId}/thumbnail`];
    expect(await storedObjects()).toEqual(expect.arrayContaining(goneKeys));

    const deleted = await gw.ok(
      'DELETE',
      `/v1/chats/${chatId}/messages/${goneMessage.message.messageId}`,
      ann.accessToken,
    );
    expect((deleted.message as { attachments?: unknown[] }).attachments ?? []).toEqual([]);
    await waitFor('the collector', async () => (await storedObjects()).every((k) => !goneKeys.includes(k)));
    expect((await get(contentPath(gone), bob.accessToken)).status).toBe(404);

    expect(keptMessage.message.messageId).toBeDefined();
    const still = await get(contentPath(kept), bob.accessToken);
    expect(still.status).toBe(200);
    expect(await storedObjects()).toEqual(expect.arrayContaining([`attachments/${kept.attachmentId}/content`]));
  });

  it('refuses bytes of no kept type, whatever their declared type', async () => {
    await rejected(await upload(randomBytes(2000), { type: 'image/png' }), 415, 3);
    const tiff = await sharp({ create: { width: 20, height: 20, channels: 3, background: 'blue' } })
      .tiff()
      .toBuffer();
    await rejected(await upload(tiff, { type: 'image/jpeg' }), 415, 3);
  });

  it('answers 413 for an upload past the limit, declared or not', async () => {
    await rejected(await upload(randomBytes(MAX_BYTES + 1)), 413, 8);
    const chunks = Array.from({ length: 10 }, () => randomBytes(MAX_BYTES / 4));
    const body = new ReadableStream({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(next);
      },
    });
    await rejected(await upload(body), 413, 8);
  });

  it('refuses a decompression bomb before decoding it, and a truncated image', async () => {
    const bomb = await sharp({ create: { width: 1500, height: 1000, channels: 3, background: 'white' } })
      .png()
      .toBuffer();
    await rejected(await upload(bomb, { type: 'image/png' }), 400, 3);
    const jpeg = await sharp(randomBytes(300 * 300 * 3), { raw: { width: 300, height: 300, channels: 3 } })
      .jpeg()
      .toBuffer();
    await rejected(await upload(jpeg.subarray(0, jpeg.length / 2), { type: 'image/jpeg' }), 400, 3);
  });

  it('refuses a file name with a path in it, an upload to a chat the caller is not in, and a foreign attachment', async () => {
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } })
      .png()
      .toBuffer();
    const tricked = await rejected(await upload(png, { fileName: '../../etc/passwd' }), 400, 3);
    expect(JSON.stringify(tricked)).toContain('file_name');
    await rejected(await upload(png, { token: eve.accessToken }), 404, 5);
    await rejected(await upload(png, { query: '?file_name=a&file_name=b' }), 400, 3);
    await rejected(await upload(png, { chat: 'not-a-chat' }), 400, 3);

    const bobs = await upload(png, { token: bob.accessToken });
    const bobsId = ((await bobs.json()) as { attachment: AttachmentJson }).attachment.attachmentId;
    const refused = await send([bobsId]);
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('attachment_ids[0]');
    expect((await send([randomUUID(), randomUUID()])).status).toBe(400);
    expect((await send(Array.from({ length: 11 }, () => randomUUID()))).status).toBe(400);
  });

  it('is listed in the OpenAPI document with its raw body, the RPC’s answer and its security', async () => {
    type Doc = { paths: Record<string, Record<string, Record<string, unknown>>>; components: { schemas: object } };
    const doc = (await (await fetch(`${gw.url}/openapi.json`)).json()) as Doc;
    const post = doc.paths['/v1/chats/{chat_id}/attachments']?.post;
    expect(post?.requestBody).toEqual({
      required: true,
      content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
    });
    expect(post?.responses).toMatchObject({
      '200': {
        content: {
          'application/json': { schema: { $ref: '#/components/schemas/messenger.chat.v1.GetAttachmentResponse' } },
        },
      },
    });
    expect(doc.components.schemas).toHaveProperty(['messenger.chat.v1.Attachment']);
    const download = doc.paths['/v1/chats/{chat_id}/attachments/{attachment_id}/content']?.get;
    expect(download?.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/v1/media/avatars/{id}']?.get?.security).toEqual([]);
    expect(doc.paths['/v1/chats/{chat_id}/attachments/{attachment_id}']?.get?.operationId).toBeDefined();
  });

  it('refuses a download without a token, and of an attachment that does not exist', async () => {
    expect((await fetch(`${gw.url}/v1/chats/${chatId}/attachments/${randomUUID()}/content`)).status).toBe(401);
    expect((await get(`/v1/chats/${chatId}/attachments/${randomUUID()}/content`, ann.accessToken)).status).toBe(404);
    expect((await get(`/v1/chats/${chatId}/attachments/nope/thumbnail`, ann.accessToken)).status).toBe(400);
  });
});
