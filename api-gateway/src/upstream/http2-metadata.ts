// The header half of gRPC over HTTP/2: request headers out, response headers
// and the call's status in. Pure functions, no I/O; what grpc-js does in
// Metadata, its compression filter and Http2SubchannelCall, done directly on
// the connection's header objects.

import type { FramingError } from '@messenger/platform/http2';
import { CANCEL, ENHANCE_YOUR_CALM, type Http2Headers, REFUSED_STREAM } from '@messenger/platform/http2';
import { Code } from '../errors/status.ts';
import type { MetadataPairs, UpstreamStatus } from './upstream.ts';

const EMPTY: MetadataPairs = [];
const OK: UpstreamStatus = { code: Code.OK, message: '', details: undefined };
const USER_AGENT = 'messenger-gateway-h2/1';
const LEGAL_KEY = /^[0-9a-z_.-]+$/;
const LEGAL_VALUE = /^[ -~]*$/;
/**
 * Metadata a caller may not set: what the transport sets itself, and the
 * connection-specific headers HTTP/2 forbids.
 */
const NOT_SENDABLE: ReadonlySet<string> = new Set([
  'content-type',
  'te',
  'user-agent',
  'host',
  'grpc-timeout',
  'grpc-encoding',
  'grpc-accept-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);
/** Removed from response metadata by grpc-js (its compression filter); kept equal so the transports agree. */
const NOT_METADATA: ReadonlySet<string> = new Set(['grpc-encoding', 'grpc-accept-encoding']);

/** Keys seen before and found legal: metadata keys repeat on every call, the check needs to run once. */
const legalKeys = new Set<string>();
function isLegalKey(key: string): boolean {
  if (legalKeys.has(key)) return true;
  if (!LEGAL_KEY.test(key)) return false;
  if (legalKeys.size < 1024) legalKeys.add(key);
  return true;
}

/**
 * The request's HTTP/2 headers as a `[name, value, …]` list, in the order
 * they are encoded. Metadata that is not legal gRPC
 * metadata is dropped, as grpc-js drops it. A `-bin` key's value is sent as
 * given, so it must already be base64 (what goes on the wire).
 */
export function requestHeaders(
  path: string,
  authority: string,
  /** `grpc-timeout`; undefined for a call without a deadline (a long-lived stream). */
  timeout: string | undefined,
  metadata: Readonly<Record<string, string>>,
): string[] {
  const headers = [
    ':method',
    'POST',
    ':scheme',
    'http',
    ':path',
    path,
    ':authority',
    authority,
    'content-type',
    'application/grpc',
    'te',
    'trailers',
    'user-agent',
    USER_AGENT,
  ];
  if (timeout !== undefined) headers.push('grpc-timeout', timeout);
  for (const key in metadata) {
    const value = metadata[key];
    if (value === undefined || !isLegalKey(key) || NOT_SENDABLE.has(key) || !LEGAL_VALUE.test(value)) continue;
    headers.push(key, value);
  }
  return headers;
}

/** True for `application/grpc` and its `+proto`/`;…` variants. */
export function isGrpcContentType(value: string | string[] | undefined): boolean {
  if (typeof value !== 'string' || !value.startsWith('application/grpc')) return false;
  return value.length === 16 || value[16] === '+' || value[16] === ';';
}

/**
 * The service's response headers as grpc-js's `Metadata.getMap()` shows
 * them: every legal ASCII entry (first value of a repeated one), without
 * pseudo-headers, `-bin` entries and the message-encoding headers.
 * `content-type` and `date` stay, as they do there.
 */
export function responsePairs(headers: Http2Headers): MetadataPairs {
  let out: [string, string][] | undefined;
  for (const key in headers) {
    if (key.charCodeAt(0) === 58 /* : */ || key.endsWith('-bin') || NOT_METADATA.has(key)) continue;
    const raw = headers[key];
    const value = typeof raw === 'string' ? raw : raw?.[0];
    if (value === undefined || !isLegalKey(key) || !LEGAL_VALUE.test(value)) continue;
    if (out === undefined) out = [];
    out.push([key, value]);
  }
  return out ?? EMPTY;
}

/** gRPC's HTTP → status table (doc/http-grpc-status-mapping.md), for responses without `grpc-status`. */
export function codeOfHttpResponse(status: number): number {
  switch (status) {
    case 400:
      return Code.INTERNAL;
    case 401:
      return Code.UNAUTHENTICATED;
    case 403:
      return Code.PERMISSION_DENIED;
    case 404:
      return Code.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return Code.UNAVAILABLE;
    default:
      return Code.UNKNOWN;
  }
}

/**
 * The call's status from its trailers (or the headers of a trailers-only
 * response). Without `grpc-status` the HTTP status decides: mapped by the
 * table when it is not 200, UNKNOWN when it is (the peer is not speaking gRPC).
 */
export function statusOf(trailers: Http2Headers, httpStatus: number): UpstreamStatus {
  const raw = trailers['grpc-status'];
  if (raw === '0') return OK;
  if (typeof raw !== 'string') {
    if (httpStatus !== 200) return failure(codeOfHttpResponse(httpStatus), `Received HTTP status code ${httpStatus}`);
    return failure(Code.UNKNOWN, 'No status received from the server');
  }
  const code = /^\d{1,9}$/.test(raw) ? Number(raw) : Code.UNKNOWN;
  const message = trailers['grpc-message'];
  const details = trailers['grpc-status-details-bin'];
  return {
    code,
    message: typeof message === 'string' ? decodeGrpcMessage(message) : '',
    details: code !== Code.OK && typeof details === 'string' ? Buffer.from(details, 'base64') : undefined,
  };
}

/**
 * `grpc-message` is percent-encoded UTF-8. A malformed encoding must not
 * lose the message (PROTOCOL-HTTP2.md): it is then returned as received.
 */
export function decodeGrpcMessage(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

export function failure(code: number, message: string): UpstreamStatus {
  return { code, message, details: undefined };
}

/** `retry-pushback`: the server's say on whether (< 0: never) and when to retry. */
export function pushbackOf(trailers: Http2Headers | undefined): number | undefined {
  const raw = trailers?.['grpc-retry-pushback-ms'];
  if (typeof raw !== 'string') return undefined;
  return /^\d{1,9}$/.test(raw) ? Number(raw) : -1;
}

/** The status of a response whose framing broke (http2-framing.ts). */
export function framingFailure(error: FramingError, max: number): UpstreamStatus {
  switch (error) {
    case 'too-large':
      return failure(Code.RESOURCE_EXHAUSTED, `Received message larger than max (${max} bytes)`);
    case 'compressed':
      return failure(Code.INTERNAL, 'Received a compressed message, but no message encoding was negotiated');
    default:
      return failure(Code.INTERNAL, 'Received a message with an invalid compressed flag');
  }
}

const NO_TRAILERS: Http2Headers = {};

/** Why a stream ended without a gRPC status: from its reset code, its connection and the HTTP status. */
export function statusWithoutTrailers(
  rstCode: number,
  connectionLost: boolean,
  httpStatus: number,
  grpcBody: boolean,
): UpstreamStatus {
  if (rstCode === REFUSED_STREAM) return failure(Code.UNAVAILABLE, 'Stream refused by server');
  if (connectionLost) return failure(Code.UNAVAILABLE, 'Connection dropped');
  if (rstCode === CANCEL) return failure(Code.CANCELLED, 'Call cancelled by server');
  if (rstCode === ENHANCE_YOUR_CALM) return failure(Code.RESOURCE_EXHAUSTED, 'Bandwidth exhausted');
  // A non-gRPC answer (an HTML error page, a proxy's 503): the HTTP status tells.
  if (httpStatus !== 0 && (httpStatus !== 200 || !grpcBody)) return statusOf(NO_TRAILERS, httpStatus);
  return failure(Code.INTERNAL, `Stream closed without gRPC status (RST_STREAM ${rstCode})`);
}
