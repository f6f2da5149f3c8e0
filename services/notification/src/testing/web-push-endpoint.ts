// Tests only: a Web Push endpoint on loopback, playing the browser's push
// service and the browser itself. It hands out subscriptions (P-256 key pair
// and auth secret made here, as a browser makes them), verifies each push's
// VAPID token (RFC 8292: ES256 signature under the announced key, `aud` the
// endpoint's origin, `exp` within 24 h) and decrypts its aes128gcm payload
// (RFC 8291 key derivation, RFC 8188 record) with the subscription's private
// key. Never imported by production code.
import { createDecipheriv, createECDH, createHmac, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { importJWK, jwtVerify } from 'jose';

export interface TestSubscription {
  readonly endpoint: string;
  readonly p256dh: string;
  readonly auth: string;
}

/** A push as the browser would show it to its service worker. */
export interface ReceivedPush {
  readonly subscription: string;
  /** The decrypted payload, parsed. */
  readonly payload: Record<string, unknown>;
  readonly topic: string | undefined;
  readonly ttl: string | undefined;
  readonly urgency: string | undefined;
}

export interface WebPushEndpoint {
  readonly origin: string;
  /** Every push that passed the checks, in arrival order. */
  readonly received: ReceivedPush[];
  /** Pushes refused, with why: a VAPID or decryption failure ends up here, not in `received`. */
  readonly refused: string[];
  /** Requests per subscription, whatever was answered. */
  requestsTo(subscriptionEndpoint: string): number;
  subscribe(): TestSubscription;
  /**
   * Answers the next `times` pushes to this subscription (every later one
   * when absent) with `status`, e.g. 410 once the browser dropped it or 503
   * while the push service is overloaded.
   */
  answer(
    subscriptionEndpoint: string,
    status: number,
    opts?: { headers?: Record<string, string>; times?: number },
  ): void;
  close(): Promise<void>;
}

interface Keys {
  readonly ecdh: ReturnType<typeof createECDH>;
  readonly auth: Buffer;
}

export async function startWebPushEndpoint(opts: { vapidPublicKey: string }): Promise<WebPushEndpoint> {
  const keys = new Map<string, Keys>();
  const answers = new Map<string, { status: number; headers: Record<string, string>; left: number }>();
  const requests = new Map<string, number>();
  const received: ReceivedPush[] = [];
  const refused: string[] = [];
  const vapidKey = await importVapidPublicKey(opts.vapidPublicKey);

  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const path = req.url ?? '';
    const endpoint = `${origin}${path}`;
    requests.set(endpoint, (requests.get(endpoint) ?? 0) + 1);
    const answer = answers.get(endpoint);
    if (answer && answer.left > 0) {
      answer.left--;
      res.writeHead(answer.status, answer.headers).end();
      return;
    }
    const subscription = keys.get(endpoint);
    if (!subscription) {
      res.writeHead(404).end();
      return;
    }
    try {
      await verifyVapid(req.headers.authorization, vapidKey, opts.vapidPublicKey, origin);
      if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error('not aes128gcm');
      const plaintext = decryptAes128gcm(body, subscription);
      received.push({
        subscription: endpoint,
        payload: JSON.parse(plaintext.toString('utf8')) as Record<string, unknown>,
        topic: header(req, 'topic'),
        ttl: header(req, 'ttl'),
        urgency: header(req, 'urgency'),
      });
      res.writeHead(201).end();
    } catch (error) {
      refused.push(error instanceof Error ? error.message : String(error));
      res.writeHead(400).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    origin,
    received,
    refused,
    requestsTo: (endpoint) => requests.get(endpoint) ?? 0,
    subscribe() {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const auth = randomBytes(16);
      const endpoint = `${origin}/push/${randomUUID()}`;
      keys.set(endpoint, { ecdh, auth });
      return { endpoint, p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') };
    },
    answer(endpoint, status, opts = {}) {
      answers.set(endpoint, { status, headers: opts.headers ?? {}, left: opts.times ?? Number.POSITIVE_INFINITY });
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** An uncompressed P-256 point (base64url) as a JWK for ES256 verification. */
async function importVapidPublicKey(publicKey: string) {
  const point = Buffer.from(publicKey, 'base64url');
  if (point.length !== 65 || point[0] !== 4) throw new Error('VAPID public key is not an uncompressed P-256 point');
  return importJWK(
    {
      kty: 'EC',
      crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33).toString('base64url'),
    },
    'ES256',
  );
}

/** RFC 8292 §3: `Authorization: vapid t=<JWT>, k=<public key>`. */
async function verifyVapid(
  authorization: string | undefined,
  key: Awaited<ReturnType<typeof importVapidPublicKey>>,
  expectedPublicKey: string,
  audience: string,
): Promise<void> {
  const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(authorization ?? '');
  if (!match) throw new Error(`no VAPID authorization: ${authorization ?? '(none)'}`);
  const [, token = '', announced] = match;
  if (announced !== expectedPublicKey) throw new Error('VAPID key is not the application server key');
  const { payload, protectedHeader } = await jwtVerify(token, key, { audience, algorithms: ['ES256'] });
  if (protectedHeader.alg !== 'ES256') throw new Error('VAPID token not ES256');
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.exp !== 'number' || payload.exp <= now || payload.exp > now + 24 * 3600) {
    throw new Error('VAPID exp missing or not within 24 hours');
  }
  if (typeof payload.sub !== 'string' || !/^(mailto:|https:)/.test(payload.sub)) throw new Error('VAPID sub missing');
}

/** RFC 8188 with the RFC 8291 key derivation; one record, as every push carries. */
function decryptAes128gcm(body: Buffer, keys: Keys): Buffer {
  const salt = body.subarray(0, 16);
  const recordSize = body.readUInt32BE(16);
  const idLength = body.readUInt8(20);
  const serverPublic = body.subarray(21, 21 + idLength);
  const record = body.subarray(21 + idLength);
  if (record.length > recordSize) throw new Error('more than one record');
  const sharedSecret = keys.ecdh.computeSecret(serverPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), keys.ecdh.getPublicKey(), serverPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', sharedSecret, keys.auth, keyInfo, 32));
  const prk = createHmac('sha256', salt).update(ikm).digest();
  const expand = (info: string, length: number) =>
    createHmac('sha256', prk)
      .update(Buffer.concat([Buffer.from(info), Buffer.from([1])]))
      .digest()
      .subarray(0, length);
  const cek = expand('Content-Encoding: aes128gcm\0', 16);
  const nonce = expand('Content-Encoding: nonce\0', 12);
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  // The last record ends with the delimiter 0x02, then zero padding.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('last record delimiter missing');
  return padded.subarray(0, end);
}
