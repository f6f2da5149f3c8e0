// Avatar upload and download through the gateway of the whole embedded system
// (real HTTP, real gRPC to the user service), once with the media on the local
// filesystem and once on S3 (the s3rver of scripts/with-test-infra.sh).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import sharp from 'sharp';
import { type Account, Gateway } from './support/http.ts';
import { S3_ENV, type StoredMedia, storedMedia } from './support/media.ts';
import { SYSTEM_ENV } from './support/system.ts';
import { waitFor } from './support/wait.ts';

const MAX_BYTES = 300_000;
const MAX_PIXELS = 1_000_000;

const jpegWithExif = () =>
  sharp({ create: { width: 800, height: 600, channels: 3, background: { r: 200, g: 30, b: 30 } } })
    .jpeg()
    .withExif({ IFD0: { Copyright: 'secret-owner', ImageDescription: 'home address' } })
    .toBuffer();

describe.each(['filesystem', 's3'] as const)('avatars with GATEWAY_MEDIA_STORE=%s', (store) => {
  let dataDir: string;
  let system: RunningSystem;
  let gw: Gateway;
  let ann: Account;
  let media: StoredMedia;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'e2e-avatars-'));
    media = storedMedia(store, dataDir);
    system = await startSystem(
      loadEmbeddedConfig({
        ...SYSTEM_ENV,
        EMBEDDED_STORAGE: 'sqlite',
        DATA_DIR: dataDir,
        GATEWAY_MEDIA_STORE: store,
        GATEWAY_AVATAR_MAX_BYTES: String(MAX_BYTES),
        GATEWAY_AVATAR_MAX_PIXELS: String(MAX_PIXELS),
        // Below the avatar limit: uploads are bounded by theirs, not by the one of JSON bodies.
        GATEWAY_BODY_LIMIT_BYTES: '65536',
        ...(store === 's3' ? S3_ENV : {}),
      }),
    );
    gw = new Gateway(system.gatewayUrl);
    ann = await gw.register('ann');
  }, 60_000);

  afterAll(async () => {
    await system?.stop();
    media?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const storedAvatars = () => media.keys('avatars/');
  const staged = () => media.staged();
  /** The stored files of the avatar at `url` (one per size). */
  const filesOf = async (url: string) => {
    const id = url.split('/').at(-1);
    return (await storedAvatars()).filter((key) => key.startsWith(`avatars/${id}/`));
  };
  const served = async (url: string) => (await fetch(`${gw.url}${url}`)).status;
  const avatarOf = async (account: Account) =>
    ((await gw.ok('GET', `/v1/users/${account.userId}`, account.accessToken)).user as { avatarUrl: string }).avatarUrl;

  const upload = (
    body: RequestInit['body'],
    token: string | null = ann.accessToken,
    type = 'application/octet-stream',
  ) =>
    fetch(`${gw.url}/v1/users/me/avatar`, {
      method: 'PUT',
      headers: { 'content-type': type, ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
      body,
      duplex: 'half',
    } as RequestInit);

  /** A bad upload: the status, a google.rpc.Status body, and no trace in storage. */
  const rejected = async (res: Response, status: number, code: number) => {
    const before = await storedAvatars();
    expect(res.status).toBe(status);
    const body = (await res.json()) as { code: number; message: string };
    expect(body.code).toBe(code);
    expect(typeof body.message).toBe('string');
    expect(await storedAvatars()).toEqual(before);
    expect(await staged()).toEqual([]);
  };

  it('stores a resized copy without metadata, sets avatar_url and serves it with caching and ranges', async () => {
    const before = (await storedAvatars()).length;
    const res = await upload(await jpegWithExif(), ann.accessToken, 'image/jpeg');
    expect(res.status).toBe(200);
    const { user } = (await res.json()) as { user: { avatarUrl: string } };
    expect(user.avatarUrl).toMatch(/^\/v1\/media\/avatars\/[0-9a-f-]{36}$/);
    expect((await gw.ok('GET', `/v1/users/${ann.userId}`, ann.accessToken)).user).toMatchObject({
      avatarUrl: user.avatarUrl,
    });
    expect((await storedAvatars()).length).toBe(before + 2);
    expect(await staged()).toEqual([]);

    const image = await fetch(`${gw.url}${user.avatarUrl}`);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/webp');
    expect(image.headers.get('cache-control')).toContain('immutable');
    const etag = image.headers.get('etag') ?? '';
    const bytes = Buffer.from(await image.arrayBuffer());
    const meta = await sharp(bytes).metadata();
    expect(meta).toMatchObject({ format: 'webp', width: 512, height: 512 });
    expect(meta.exif).toBeUndefined();
    expect(bytes.includes(Buffer.from('secret-owner'))).toBe(false);

    const small = await sharp(
      Buffer.from(await (await fetch(`${gw.url}${user.avatarUrl}?size=128`)).arrayBuffer()),
    ).metadata();
    expect(small).toMatchObject({ width: 128, height: 128 });

    const cached = await fetch(`${gw.url}${user.avatarUrl}`, { headers: { 'if-none-match': etag } });
    expect(cached.status).toBe(304);

    const part = await fetch(`${gw.url}${user.avatarUrl}`, { headers: { range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 10-19/${bytes.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(10, 20))).toBe(true);
    const suffix = await fetch(`${gw.url}${user.avatarUrl}`, { headers: { range: 'bytes=-5' } });
    expect(suffix.status).toBe(206);
    expect(Buffer.from(await suffix.arrayBuffer()).equals(bytes.subarray(bytes.length - 5))).toBe(true);
    const past = await fetch(`${gw.url}${user.avatarUrl}`, { headers: { range: `bytes=${bytes.length}-` } });
    expect(past.status).toBe(416);
  });

  it('accepts an image larger than the JSON body limit, up to its own', async () => {
    const noise = await sharp(randomBytes(250 * 250 * 3), { raw: { width: 250, height: 250, channels: 3 } })
      .png({ compressionLevel: 0 })
      .toBuffer();
    expect(noise.length).toBeGreaterThan(65536);
    expect(noise.length).toBeLessThan(MAX_BYTES);
    const previous = await avatarOf(ann);
    const res = await upload(noise, ann.accessToken, 'image/png');
    expect(res.status).toBe(200);
    // The replaced avatar goes; later tests compare what storage holds.
    await waitFor('the replaced avatar to be removed', async () => (await filesOf(previous)).length === 0);
  });

  it('removes the avatar a profile no longer names: replaced by an upload, by a URL, or with the profile', async () => {
    const bea = await gw.register('bea');
    const uploadFor = async (account: Account) => {
      const res = await upload(await jpegWithExif(), account.accessToken, 'image/jpeg');
      expect(res.status).toBe(200);
      return ((await res.json()) as { user: { avatarUrl: string } }).user.avatarUrl;
    };
    const removed = (url: string) =>
      waitFor(`${url} to be removed`, async () => (await filesOf(url)).length === 0 && (await served(url)) === 404);

    const first = await uploadFor(bea);
    const second = await uploadFor(bea);
    await removed(first);
    expect(await filesOf(second)).toHaveLength(2);
    expect(await served(second)).toBe(200);

    const elsewhere = 'https://images.example.com/bea.png';
    await gw.ok('PATCH', `/v1/users/${bea.userId}`, bea.accessToken, {
      user: { avatarUrl: elsewhere },
      updateMask: 'avatarUrl',
    });
    await removed(second);

    const third = await uploadFor(bea);
    expect(await filesOf(third)).toHaveLength(2);
    expect((await gw.request('DELETE', `/v1/users/${bea.userId}`, bea.accessToken)).status).toBe(200);
    await removed(third);
    expect(await staged()).toEqual([]);
  });

  it("refuses a profile naming an uploaded avatar that is not its own, and keeps the owner's", async () => {
    const cy = await gw.register('cy');
    const anns = await avatarOf(ann);
    expect(anns).not.toBe('');
    const taken = await gw.request('PATCH', `/v1/users/${cy.userId}`, cy.accessToken, {
      user: { avatarUrl: anns },
      updateMask: 'avatarUrl',
    });
    expect(taken).toMatchObject({ status: 400, body: { code: 3 } });
    expect(JSON.stringify(taken.body)).toContain('user.avatar_url');
    expect(await avatarOf(cy)).toBe('');

    // The owner may send the profile back whole, its own avatar included.
    const kept = await gw.ok('PATCH', `/v1/users/${ann.userId}`, ann.accessToken, {
      user: { avatarUrl: anns, about: 'still me' },
      updateMask: 'avatarUrl,about',
    });
    expect(kept.user).toMatchObject({ avatarUrl: anns, about: 'still me' });
    expect(await served(anns)).toBe(200);
    expect(await filesOf(anns)).toHaveLength(2);
  });

  it('refuses bytes that are not an image, whatever their declared type', async () => {
    await rejected(await upload(Buffer.from('%PDF-1.7 not an image'), ann.accessToken, 'image/png'), 415, 3);
  });

  it('refuses images of other formats than JPEG, PNG, WebP and GIF', async () => {
    const tiff = await sharp({ create: { width: 20, height: 20, channels: 3, background: 'blue' } })
      .tiff()
      .toBuffer();
    await rejected(await upload(tiff, ann.accessToken, 'image/jpeg'), 415, 3);
  });

  it('answers 413 for an upload declared larger than the limit', async () => {
    await rejected(await upload(randomBytes(MAX_BYTES + 1)), 413, 8);
  });

  it('answers 413 as soon as an upload of undeclared length passes the limit', async () => {
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

  it('refuses an image with more pixels than allowed before decoding it (decompression bomb)', async () => {
    // 1 MB of pixels in a few kilobytes of PNG.
    const bomb = await sharp({ create: { width: 1500, height: 1000, channels: 3, background: 'white' } })
      .png()
      .toBuffer();
    expect(bomb.length).toBeLessThan(MAX_BYTES);
    await rejected(await upload(bomb, ann.accessToken, 'image/png'), 400, 3);
  });

  it('refuses a truncated image', async () => {
    const full = await sharp({ create: { width: 300, height: 300, channels: 3, background: 'green' } })
      .jpeg()
      .toBuffer();
    await rejected(await upload(full.subarray(0, full.length / 2)), 400, 3);
  });

  it('keeps nothing of an upload whose client goes away half-way, and keeps serving', async () => {
    const before = await storedAvatars();
    const { port } = new URL(gw.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `PUT /v1/users/me/avatar HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ann.accessToken}\r\n` +
        'Content-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n',
    );
    socket.write(randomBytes(5000));
    await waitFor('the upload to be staged', async () => (await staged()).length > 0);
    socket.destroy();
    await waitFor('the staged upload to be removed', async () => (await staged()).length === 0);
    expect(await storedAvatars()).toEqual(before);
    expect((await gw.request('GET', `/v1/users/${ann.userId}`, ann.accessToken)).status).toBe(200);
  });

  it('asks for a signed-in user', async () => {
    await rejected(await upload(await jpegWithExif(), null, 'image/jpeg'), 401, 16);
  });

  it('answers 404 or 400 to avatar ids and sizes that are not its own', async () => {
    for (const path of ['..%2F..%2Fetc%2Fpasswd', '..', 'avatars%2Fx', '00000000-0000-0000-0000-000000000000']) {
      const res = await gw.request('GET', `/v1/media/avatars/${path}`);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ code: 5 });
    }
    const res = await gw.request('GET', '/v1/media/avatars/00000000-0000-0000-0000-000000000000?size=..%2F1');
    expect(res).toMatchObject({ status: 400, body: { code: 3 } });
  });
});

describe('avatar uploads under the rate limit', () => {
  let system: RunningSystem;
  let gw: Gateway;
  beforeAll(async () => {
    system = await startSystem(loadEmbeddedConfig({ ...SYSTEM_ENV, GATEWAY_RATE_LIMIT_STRICT_PER_MINUTE: '3' }));
    gw = new Gateway(system.gatewayUrl);
  }, 60_000);
  afterAll(async () => {
    await system?.stop();
  });

  it('counts each upload in the strict per-user budget and answers 429 past it', async () => {
    const bob = await gw.register('bob');
    const put = () =>
      fetch(`${gw.url}/v1/users/me/avatar`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${bob.accessToken}`, 'content-type': 'image/png' },
        body: 'not an image',
      });
    for (let i = 0; i < 3; i++) expect((await put()).status).toBe(415);
    const limited = await put();
    expect(limited.status).toBe(429);
    expect(((await limited.json()) as { code: number }).code).toBe(8);
  });
});
