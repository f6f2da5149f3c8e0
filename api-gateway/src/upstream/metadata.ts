import type { IncomingHttpHeaders } from 'node:http';
import { REQUEST_ID_KEY } from '@messenger/platform/logger';
import type { MetadataPairs } from './upstream.ts';

/** `Grpc-Metadata-<key>` request headers become metadata `<key>` (grpc-gateway's convention). */
export const METADATA_HEADER_PREFIX = 'grpc-metadata-';
const KEY = /^[a-z0-9][a-z0-9_.-]{0,127}$/;
const VALUE = /^[\x20-\x7e]{0,4096}$/;
/**
 * Keys a client may never set through `Grpc-Metadata-*`: the ones the
 * gateway sets itself (identity and tracing) and the transport's own. A
 * forged `Grpc-Metadata-Authorization` would otherwise reach the service
 * without having been verified here.
 */
const RESERVED: ReadonlySet<string> = new Set([
  'authorization',
  REQUEST_ID_KEY,
  'x-forwarded-for',
  'x-forwarded-host',
  'x-user-id',
  'content-type',
  'user-agent',
  'te',
  'host',
  'connection',
]);
const MAX_FORWARDED = 32;

/**
 * The metadata of the upstream call for one HTTP request: the caller's
 * `authorization` (verified by then for non-public methods), the request id,
 * the client address, and the allowed `Grpc-Metadata-*` headers. Anything
 * malformed in those is dropped, never sent.
 */
export function outgoingMetadata(
  headers: IncomingHttpHeaders,
  requestId: string,
  clientIp: string,
): Record<string, string> {
  const md: Record<string, string> = { [REQUEST_ID_KEY]: requestId, 'x-forwarded-for': clientIp };
  const auth = headers.authorization;
  if (auth !== undefined) md.authorization = auth;
  let forwarded = 0;
  for (const name in headers) {
    if (!name.startsWith(METADATA_HEADER_PREFIX)) continue;
    const key = name.slice(METADATA_HEADER_PREFIX.length);
    const value = headers[name];
    if (typeof value !== 'string' || !KEY.test(key) || key.startsWith('grpc-') || key.endsWith('-bin')) continue;
    if (RESERVED.has(key) || !VALUE.test(value) || ++forwarded > MAX_FORWARDED) continue;
    md[key] = value;
  }
  return md;
}

/** HTTP/2 response headers of the transport, not the service's metadata. */
const TRANSPORT_HEADERS: ReadonlySet<string> = new Set(['date', 'server', 'content-length', 'accept-encoding']);

/** Response headers from the service, sent back as `Grpc-Metadata-<key>`. */
export function responseHeaders(pairs: MetadataPairs): [string, string][] {
  const out: [string, string][] = [];
  for (const [key, value] of pairs) {
    if (
      key.startsWith('grpc-') ||
      RESERVED.has(key) ||
      TRANSPORT_HEADERS.has(key) ||
      !KEY.test(key) ||
      !VALUE.test(value)
    )
      continue;
    out.push([`${METADATA_HEADER_PREFIX}${key}`, value]);
  }
  return out;
}

const TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

export interface DeadlinePolicy {
  readonly defaultMs: number;
  /** A client's `Grpc-Timeout` below this is raised to it: a call always gets a fair chance. */
  readonly minMs: number;
  readonly maxMs: number;
}

/**
 * The deadline of the upstream call: the client's `Grpc-Timeout` (as
 * grpc-gateway reads it) when present and valid, kept within
 * [minMs, maxMs]; otherwise the default.
 */
export function deadlineOf(header: string | string[] | undefined, policy: DeadlinePolicy, now: number): number {
  if (typeof header === 'string') {
    const m = TIMEOUT.exec(header);
    if (m?.[1] && m[2]) {
      const asked = Number(m[1]) * (UNIT_MS[m[2]] ?? 1);
      return now + Math.max(policy.minMs, Math.min(asked, policy.maxMs));
    }
  }
  return now + policy.defaultMs;
}
