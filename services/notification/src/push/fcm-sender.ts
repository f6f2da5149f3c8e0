import { importPKCS8, SignJWT } from 'jose';
import type { Device } from '../domain/device.ts';
import type { PushNotification, PushOutcome, PushSender } from '../domain/ports.ts';
import { retryAfterMs } from './retry-after.ts';

export interface FcmSenderOptions {
  readonly projectId: string;
  /** The service account's `client_email`. */
  readonly clientEmail: string;
  /** The service account's `private_key`, PKCS#8 PEM. */
  readonly privateKey: string;
  /** `https://fcm.googleapis.com` in production. */
  readonly baseUrl: string;
  /** `https://oauth2.googleapis.com/token` in production. */
  readonly tokenUrl: string;
  readonly timeoutMs?: number;
}

const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/**
 * Firebase Cloud Messaging, HTTP v1 API: one `messages:send` per device with
 * an OAuth 2.0 access token obtained by the service-account flow (an RS256
 * JWT exchanged at the token URL), kept until a minute before it expires.
 * The payload is data only (strings), so the app decides what to show; the
 * chat is the collapse key on Android and APNs.
 */
export function fcmSender(opts: FcmSenderOptions): PushSender {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const sendUrl = `${opts.baseUrl.replace(/\/+$/, '')}/v1/projects/${encodeURIComponent(opts.projectId)}/messages:send`;
  const signingKey = importPKCS8(opts.privateKey.replaceAll('\\n', '\n'), 'RS256');
  let cached: { token: string; validUntil: number } | undefined;
  // One exchange at a time: concurrent sends wait for the same token.
  let exchanging: Promise<string> | undefined;

  function accessToken(): Promise<string> {
    if (cached && cached.validUntil > Date.now()) return Promise.resolve(cached.token);
    exchanging ??= exchange().finally(() => {
      exchanging = undefined;
    });
    return exchanging;
  }

  async function exchange(): Promise<string> {
    const assertion = await new SignJWT({ scope: FCM_SCOPE })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(opts.clientEmail)
      .setAudience(opts.tokenUrl)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(await signingKey);
    const response = await fetch(opts.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }).toString(),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) throw new Error(`FCM token exchange answered ${response.status}`);
    const body = (await response.json()) as { access_token?: unknown; expires_in?: unknown };
    if (typeof body.access_token !== 'string') throw new Error('FCM token exchange returned no access_token');
    const lifetimeS = typeof body.expires_in === 'number' ? body.expires_in : 3600;
    cached = { token: body.access_token, validUntil: Date.now() + Math.max(0, lifetimeS - 60) * 1000 };
    return cached.token;
  }

  return {
    async send(device: Device, n: PushNotification): Promise<PushOutcome> {
      if (device.target.kind !== 'fcm') return { kind: 'rejected', detail: 'not an FCM device' };
      let response: Response;
      let text: string;
      try {
        response = await fetch(sendUrl, {
          method: 'POST',
          headers: { authorization: `Bearer ${await accessToken()}`, 'content-type': 'application/json' },
          body: JSON.stringify(fcmMessage(device.target.token, n)),
          signal: AbortSignal.timeout(timeoutMs),
        });
        text = await response.text();
      } catch (error) {
        return { kind: 'retry', detail: error instanceof Error ? error.message : String(error) };
      }
      if (response.status === 401) cached = undefined;
      return outcomeOf(response.status, text, response.headers.get('retry-after'));
    },
  };
}

/** The `message` of a v1 send request. */
export function fcmMessage(token: string, n: PushNotification) {
  return {
    message: {
      token,
      data: {
        type: 'chat.messages',
        chatId: n.chatId,
        messageCount: String(n.messageCount),
        latestSequence: n.latestSequence,
        senderId: n.senderId,
      },
      android: { collapse_key: n.collapseKey, priority: 'HIGH' },
      apns: { headers: { 'apns-collapse-id': n.collapseKey } },
    },
  };
}

function outcomeOf(status: number, body: string, retryAfter: string | null): PushOutcome {
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  // FCM answers 404 UNREGISTERED for a token that is no longer valid.
  if (status === 404 || errorCodeOf(body) === 'UNREGISTERED') return { kind: 'gone' };
  if (status === 429 || status === 401 || status >= 500) {
    const after = retryAfterMs(retryAfter);
    return { kind: 'retry', detail: `FCM answered ${status}`, ...(after === undefined ? {} : { retryAfterMs: after }) };
  }
  return { kind: 'rejected', detail: `FCM answered ${status}` };
}

/** `error.details[].errorCode` of an FCM error body (google.firebase.fcm.v1.FcmError). */
function errorCodeOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: { details?: { errorCode?: unknown }[] } };
    const code = parsed.error?.details?.find((d) => typeof d.errorCode === 'string')?.errorCode;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}
