import webpush from 'web-push';
import type { Device } from '../domain/device.ts';
import type { PushNotification, PushOutcome, PushSender } from '../domain/ports.ts';
import { retryAfterMs } from './retry-after.ts';

export interface VapidKeys {
  readonly publicKey: string;
  readonly privateKey: string;
}

export interface WebPushSenderOptions {
  readonly vapid: VapidKeys;
  /** The VAPID `sub` claim: mailto: or https: contact of the operator. */
  readonly subject: string;
  /** How long a push service keeps an undelivered push (the `TTL` header). */
  readonly ttlSeconds?: number;
  /** Per request. */
  readonly timeoutMs?: number;
}

/** A fresh VAPID key pair, for a process that was given none (never in production). */
export function generateVapidKeys(): VapidKeys {
  return webpush.generateVAPIDKeys();
}

/** The JSON a device receives (encrypted, RFC 8291): what changed, not the message text. */
export function pushPayload(n: PushNotification): string {
  return JSON.stringify({
    type: 'chat.messages',
    chatId: n.chatId,
    messageCount: n.messageCount,
    latestSequence: n.latestSequence,
    senderId: n.senderId,
  });
}

/**
 * Web Push (RFC 8030) with VAPID (RFC 8292) and the aes128gcm payload
 * encryption (RFC 8291): `web-push` signs and encrypts, the request goes
 * out through fetch (which also reaches an http endpoint on loopback in
 * development). The collapse key is the `Topic` header, so the push service
 * keeps only the latest undelivered push per chat.
 */
export function webPushSender(opts: WebPushSenderOptions): PushSender {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return {
    async send(device: Device, n: PushNotification): Promise<PushOutcome> {
      if (device.target.kind !== 'webpush') return { kind: 'rejected', detail: 'not a Web Push device' };
      const { endpoint, p256dh, auth } = device.target;
      const request = webpush.generateRequestDetails({ endpoint, keys: { p256dh, auth } }, pushPayload(n), {
        vapidDetails: { subject: opts.subject, publicKey: opts.vapid.publicKey, privateKey: opts.vapid.privateKey },
        TTL: opts.ttlSeconds ?? 86_400,
        topic: n.collapseKey,
        urgency: 'normal',
        contentEncoding: 'aes128gcm',
      });
      let response: Response;
      try {
        response = await fetch(request.endpoint, {
          method: request.method,
          headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)])),
          body: request.body ?? null,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body?.cancel();
      } catch (error) {
        return { kind: 'retry', detail: error instanceof Error ? error.message : String(error) };
      }
      return outcomeOf(response.status, response.headers.get('retry-after'));
    },
  };
}

function outcomeOf(status: number, retryAfter: string | null): PushOutcome {
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  // RFC 8030 §7.3: the subscription expired or was removed; it will never work again.
  if (status === 404 || status === 410) return { kind: 'gone' };
  if (status === 429 || status >= 500) {
    const after = retryAfterMs(retryAfter);
    return {
      kind: 'retry',
      detail: `push service answered ${status}`,
      ...(after === undefined ? {} : { retryAfterMs: after }),
    };
  }
  return { kind: 'rejected', detail: `push service answered ${status}` };
}
