import { type FieldViolation, violation } from '@messenger/platform/domain';

/** Where a device's pushes go: a browser's Web Push subscription or an app's FCM registration token. */
export type PushTarget =
  | { readonly kind: 'webpush'; readonly endpoint: string; readonly p256dh: string; readonly auth: string }
  | { readonly kind: 'fcm'; readonly token: string };

export interface Device {
  readonly id: string;
  readonly userId: string;
  readonly target: PushTarget;
  readonly createdAt: Date;
}

/** The one value that identifies a target across registrations (the same browser subscription, the same app install). */
export function targetKey(target: PushTarget): string {
  return target.kind === 'webpush' ? `webpush:${target.endpoint}` : `fcm:${target.token}`;
}

const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;
const MAX_ENDPOINT_LENGTH = 2048;
const MAX_FCM_TOKEN_LENGTH = 4096;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** Bytes of base64url text, or undefined when it is not base64url. */
function decodedLength(text: string): number | undefined {
  if (!BASE64URL.test(text)) return undefined;
  return Buffer.from(text.replace(/=+$/, ''), 'base64url').length;
}

/**
 * Problems with a Web Push subscription as a browser hands it out: the
 * endpoint is https (http only on a loopback host when `allowLoopbackHttp`),
 * p256dh an uncompressed P-256 point (65 bytes starting 0x04), auth 16 bytes.
 */
export function webPushViolations(
  target: { endpoint: string; p256dh: string; auth: string },
  field: string,
  opts: { allowLoopbackHttp: boolean },
): (FieldViolation | undefined)[] {
  return [
    violation(`${field}.endpoint`, endpointProblem(target.endpoint, opts)),
    violation(
      `${field}.p256dh`,
      decodedLength(target.p256dh) === 65 && Buffer.from(target.p256dh, 'base64url')[0] === 4
        ? undefined
        : 'must be an uncompressed P-256 public key (65 bytes, base64url)',
    ),
    violation(`${field}.auth`, decodedLength(target.auth) === 16 ? undefined : 'must be 16 bytes, base64url'),
  ];
}

function endpointProblem(endpoint: string, opts: { allowLoopbackHttp: boolean }): string | undefined {
  if (endpoint.length === 0) return 'is required';
  if (endpoint.length > MAX_ENDPOINT_LENGTH) return `must be at most ${MAX_ENDPOINT_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.username !== '' || url.password !== '') return 'must not carry credentials';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && opts.allowLoopbackHttp && LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  return 'must be an https URL';
}

export function fcmTokenViolations(token: string, field: string): (FieldViolation | undefined)[] {
  const problem =
    token.length === 0
      ? 'is required'
      : token.length > MAX_FCM_TOKEN_LENGTH
        ? `must be at most ${MAX_FCM_TOKEN_LENGTH} characters`
        : /^[\x21-\x7e]+$/.test(token)
          ? undefined
          : 'must be printable ASCII without spaces';
  return [violation(`${field}.token`, problem)];
}
