import type { JWTPayload } from 'jose';

/**
 * The one signature algorithm tokens are signed and verified with: ECDSA on
 * P-256 with SHA-256. Verifiers accept nothing else, so `none`, `HS*` (the
 * "public key as HMAC secret" confusion) and any other algorithm are refused
 * before a key is even looked up.
 */
export const TOKEN_ALGORITHM = 'ES256';

/** `typ` header of an access token (RFC 9068, JWT profile for OAuth 2.0 access tokens). */
export const ACCESS_TOKEN_TYPE = 'at+jwt';
/** `typ` header of a service token; distinct, so neither kind can pass as the other. */
export const SERVICE_TOKEN_TYPE = 'service+jwt';

/**
 * The longest lifetime (`exp - iat`) any token may have, access or service.
 * Signers refuse longer TTLs; verifiers refuse tokens claiming more.
 */
export const MAX_TOKEN_TTL_SECONDS = 15 * 60;
/** The largest clock skew a verifier may be configured to tolerate. */
export const MAX_CLOCK_TOLERANCE_SECONDS = 5 * 60;
/**
 * How long anything signed before a given instant can still verify somewhere:
 * the longest TTL plus the largest tolerated skew. Retired public keys stay
 * published at least this long after rotation, and a session revocation must
 * last at least this long after the session's last token was issued.
 */
export const TOKEN_VALIDITY_HORIZON_SECONDS = MAX_TOKEN_TTL_SECONDS + MAX_CLOCK_TOLERANCE_SECONDS;

export const SERVICE_SUBJECT_PREFIX = 'service:';
/** Service names: lowercase, kebab-case, e.g. `chat`, `api-gateway`. */
export const SERVICE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

const MAX_ID_LENGTH = 256;
const MAX_ROLES = 32;

/** Claims every token carries. Times are epoch seconds. */
interface CommonClaims {
  readonly iss: string;
  readonly aud: string | readonly string[];
  readonly sub: string;
  readonly iat: number;
  readonly exp: number;
  /** Unique per token (UUID). */
  readonly jti: string;
}

/** A user's access token: header `{alg: 'ES256', kid, typ: 'at+jwt'}`. */
export interface AccessTokenClaims extends CommonClaims {
  /** The user id. */
  readonly sub: string;
  /** The session (refresh-token family) the token was issued for; what logout revokes. */
  readonly sid: string;
  readonly roles: readonly string[];
  readonly token_use: 'access';
}

/** A service's own credential: header `{alg: 'ES256', kid, typ: 'service+jwt'}`. */
export interface ServiceTokenClaims extends CommonClaims {
  /** `service:<name>`. */
  readonly sub: `service:${string}`;
  readonly token_use: 'service';
}

export type TokenClaims = AccessTokenClaims | ServiceTokenClaims;

/** Shared start-up check of issuer and the two audiences (signer and verifier). */
export function assertAudiences(
  what: string,
  opts: { readonly issuer: string; readonly audience: string; readonly serviceAudience: string },
): void {
  for (const field of ['issuer', 'audience', 'serviceAudience'] as const) {
    if (typeof opts[field] !== 'string' || opts[field] === '') throw new TypeError(`${what}: ${field} is required`);
  }
  if (opts.audience === opts.serviceAudience) {
    throw new TypeError(`${what}: audience and serviceAudience must differ, so user and service tokens stay apart`);
  }
}

/** `typ` compared as jose and RFC 7515 §4.1.9 do: case-insensitive, `application/` optional. */
export function normalizeTokenType(typ: unknown): string | undefined {
  if (typeof typ !== 'string') return undefined;
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

/**
 * Reads a signature-verified payload as one of the two token kinds, checking
 * that the `typ` header agrees with `token_use` and that every claim has its
 * shape. Returns undefined for anything else. Issuer, audience and time
 * checks are the verifier's.
 */
export function parseTokenClaims(typ: unknown, payload: JWTPayload): TokenClaims | undefined {
  const kind = normalizeTokenType(typ);
  const { iss, aud, sub, iat, exp, jti } = payload;
  if (typeof iss !== 'string' || !isId(sub) || !isId(jti)) return undefined;
  if (!isEpoch(iat) || !isEpoch(exp) || exp <= iat || exp - iat > MAX_TOKEN_TTL_SECONDS) return undefined;
  if (!(typeof aud === 'string' || (Array.isArray(aud) && aud.every((a) => typeof a === 'string')))) return undefined;
  const common = { iss, aud, sub, iat, exp, jti };

  if (payload.token_use === 'access' && kind === ACCESS_TOKEN_TYPE) {
    const { sid, roles } = payload;
    if (!isId(sid) || !isRoles(roles) || sub.startsWith(SERVICE_SUBJECT_PREFIX)) return undefined;
    return { ...common, sid, roles, token_use: 'access' };
  }
  if (payload.token_use === 'service' && kind === SERVICE_TOKEN_TYPE) {
    const service = serviceNameOf(sub);
    if (service === undefined || 'sid' in payload || 'roles' in payload) return undefined;
    const subject: ServiceTokenClaims['sub'] = `service:${service}`;
    return { ...common, sub: subject, token_use: 'service' };
  }
  return undefined;
}

/** `service:chat` → `chat`; undefined when the subject is not a service subject. */
export function serviceNameOf(sub: string): string | undefined {
  if (!sub.startsWith(SERVICE_SUBJECT_PREFIX)) return undefined;
  const name = sub.slice(SERVICE_SUBJECT_PREFIX.length);
  return SERVICE_NAME_PATTERN.test(name) ? name : undefined;
}

export function audienceIncludes(aud: string | readonly string[], expected: string): boolean {
  return typeof aud === 'string' ? aud === expected : aud.includes(expected);
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH;
}

function isEpoch(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function isRoles(value: unknown): value is string[] {
  return Array.isArray(value) && value.length <= MAX_ROLES && value.every(isId);
}
