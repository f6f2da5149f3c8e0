import type { Metadata } from '@grpc/grpc-js';
import { LRUCache } from 'lru-cache';
import { DomainError, ErrorKind } from '../domain/errors.ts';
import { ANONYMOUS, type Authenticator, type Caller } from '../grpc/auth-context.ts';
import { JwtRejected, verifyEs256Jwt } from './es256-jwt.ts';
import { createJwksKeyResolver, type JwksSource } from './jwks-source.ts';
import type { RevocationList } from './revocation.ts';
import {
  assertAudiences,
  audienceIncludes,
  MAX_CLOCK_TOLERANCE_SECONDS,
  MAX_TOKEN_TTL_SECONDS,
  parseTokenClaims,
  serviceNameOf,
} from './token-claims.ts';

export type UserCaller = Extract<Caller, { kind: 'user' }>;
export type ServiceCaller = Extract<Caller, { kind: 'service' }>;

export interface TokenAuthenticatorOptions {
  /** The only accepted `iss`. */
  readonly issuer: string;
  /** `aud` access tokens must carry. */
  readonly audience: string;
  /** `aud` service tokens must carry. */
  readonly serviceAudience: string;
  readonly jwks: JwksSource;
  readonly revocations: RevocationList;
  /** Accepted clock skew for `exp`/`iat`; default 30, at most 300. */
  readonly clockToleranceSeconds?: number;
  /** Least time between JWKS refreshes caused by an unknown `kid`; default: the source's, else 30. */
  readonly jwksRefreshCooldownSeconds?: number;
  /** Refresh the cached JWKS on use once older than this; default 600. */
  readonly jwksMaxAgeSeconds?: number;
  /**
   * Verified tokens remembered until they expire, so a caller's repeated
   * calls skip the signature check (ES256 verification is most of a call's
   * CPU). Revocation is still checked on every call. 0 disables; default 10 000.
   */
  readonly cacheSize?: number;
  /** Clock in epoch milliseconds (tests). */
  readonly now?: () => number;
}

export interface TokenAuthenticator extends Authenticator {
  /** Reads `authorization: Bearer <jwt>`; no header → ANONYMOUS. Never reads `x-user-id` or any other identity header. */
  authenticate(metadata: Metadata): Promise<Caller>;
  /** Verifies a bare token of either kind. */
  verifyToken(token: string): Promise<UserCaller | ServiceCaller>;
  /** Verifies a bare access token (the HTTP gateway's case); a service token is refused. */
  verifyAccessToken(token: string): Promise<UserCaller>;
  /** Seconds past `exp` a token is still accepted: whoever remembers verifications must honour the same. */
  readonly clockToleranceSeconds: number;
}

/** Reasons (`ErrorInfo.reason`) of the `unauthenticated` errors this module throws. */
export const AuthFailure = {
  Malformed: 'CREDENTIALS_MALFORMED',
  Invalid: 'TOKEN_INVALID',
  Expired: 'TOKEN_EXPIRED',
  Revoked: 'TOKEN_REVOKED',
} as const;
export type AuthFailure = (typeof AuthFailure)[keyof typeof AuthFailure];

const MESSAGES: Record<AuthFailure, string> = {
  CREDENTIALS_MALFORMED: 'the authorization header must be "Bearer <token>"',
  TOKEN_INVALID: 'the bearer token is not valid',
  TOKEN_EXPIRED: 'the bearer token has expired',
  TOKEN_REVOKED: 'the session of this bearer token has ended',
};

export function authFailure(reason: AuthFailure): DomainError {
  return new DomainError(ErrorKind.Unauthenticated, reason, MESSAGES[reason]);
}

const AUTHORIZATION = 'authorization';
const MAX_AUTHORIZATION_LENGTH = 8192;
/** RFC 6750 §2.1: `Bearer` (any case), spaces, a b64token. */
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * The token from an `Authorization` header value: undefined when there is
 * none, CREDENTIALS_MALFORMED when there is one that is not a bearer token
 * (a present credential is never silently ignored). Shared with the gateway.
 */
export function bearerTokenOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (header.length > MAX_AUTHORIZATION_LENGTH) throw authFailure(AuthFailure.Malformed);
  const match = BEARER.exec(header);
  if (!match?.[1]) throw authFailure(AuthFailure.Malformed);
  return match[1];
}

/** Reason of the `unavailable` error when the revocation list cannot answer. */
export const REVOCATIONS_UNAVAILABLE = 'AUTH_REVOCATIONS_UNAVAILABLE';

/**
 * The per-call authenticator of every gRPC server: verifies ES256 JWTs
 * against the auth service's JWKS (issuer, audience per token kind, `typ`
 * and `token_use`, lifetime ≤ 15 min, expiry with tolerance) and checks user
 * sessions against the revocation list. Failures are `unauthenticated`
 * DomainErrors with a fixed reason and message — the verifier's text never reaches a
 * caller. A JWKS that cannot be fetched, or a revocation list that cannot
 * answer, is `unavailable` (retryable), never an internal error.
 */
export function createTokenAuthenticator(opts: TokenAuthenticatorOptions): TokenAuthenticator {
  assertAudiences('token authenticator', opts);
  const tolerance = opts.clockToleranceSeconds ?? 30;
  if (!Number.isFinite(tolerance) || tolerance < 0 || tolerance > MAX_CLOCK_TOLERANCE_SECONDS) {
    throw new TypeError(`token authenticator: clockToleranceSeconds must be within 0..${MAX_CLOCK_TOLERANCE_SECONDS}`);
  }
  const now = opts.now ?? Date.now;
  const getKey = createJwksKeyResolver(opts.jwks, {
    refreshCooldownSeconds: opts.jwksRefreshCooldownSeconds,
    maxAgeSeconds: opts.jwksMaxAgeSeconds,
    now,
  });
  const { issuer, audience, serviceAudience, revocations } = opts;
  const cacheSize = opts.cacheSize ?? 10_000;
  const verified =
    cacheSize > 0
      ? new LRUCache<string, { caller: UserCaller | ServiceCaller; expiresAtMs: number }>({ max: cacheSize })
      : undefined;

  const isRevoked = async (sessionId: string): Promise<boolean> => {
    try {
      return await revocations.isRevoked(sessionId);
    } catch (cause) {
      const error = new DomainError(
        ErrorKind.Unavailable,
        REVOCATIONS_UNAVAILABLE,
        'credentials cannot be verified right now; try again shortly',
      );
      error.cause = cause;
      throw error;
    }
  };

  const verifyToken = async (token: string): Promise<UserCaller | ServiceCaller> => {
    if (typeof token !== 'string' || token === '') throw authFailure(AuthFailure.Invalid);
    const hit = verified?.get(token);
    // Accepted exactly as long as the check below accepts it (`exp` plus the
    // tolerance); past that, it gives TOKEN_EXPIRED.
    if (hit !== undefined && hit.expiresAtMs + tolerance * 1000 > now()) {
      if (hit.caller.kind === 'user' && (await isRevoked(hit.caller.sessionId))) {
        throw authFailure(AuthFailure.Revoked);
      }
      return hit.caller;
    }
    const caller = await verifySignedToken(token);
    verified?.set(token, { caller: caller.result, expiresAtMs: caller.expiresAtMs });
    return caller.result;
  };

  const verifySignedToken = async (
    token: string,
  ): Promise<{ result: UserCaller | ServiceCaller; expiresAtMs: number }> => {
    let claims: ReturnType<typeof parseTokenClaims>;
    try {
      // ES256 only (TOKEN_ALGORITHM): `none`, HS* and the rest are refused before a key is looked up.
      const { payload, header } = await verifyEs256Jwt(token, getKey, {
        issuer,
        audience: [audience, serviceAudience],
        requiredClaims: ['sub', 'iat', 'exp', 'jti'],
        // An `iat` in the future is refused too.
        maxTokenAgeSeconds: MAX_TOKEN_TTL_SECONDS,
        clockToleranceSeconds: tolerance,
        nowMs: now(),
      });
      claims = parseTokenClaims(header.typ, payload);
    } catch (error) {
      if (error instanceof DomainError) throw error;
      throw authFailure(error instanceof JwtRejected && error.expired ? AuthFailure.Expired : AuthFailure.Invalid);
    }
    if (claims === undefined) throw authFailure(AuthFailure.Invalid);

    if (claims.token_use === 'service') {
      // A service token is only good for the internal audience, and vice versa.
      const service = serviceNameOf(claims.sub);
      if (
        service === undefined ||
        !audienceIncludes(claims.aud, serviceAudience) ||
        audienceIncludes(claims.aud, audience)
      ) {
        throw authFailure(AuthFailure.Invalid);
      }
      return { result: { kind: 'service', service, token }, expiresAtMs: claims.exp * 1000 };
    }
    if (!audienceIncludes(claims.aud, audience) || audienceIncludes(claims.aud, serviceAudience)) {
      throw authFailure(AuthFailure.Invalid);
    }
    if (await isRevoked(claims.sid)) throw authFailure(AuthFailure.Revoked);
    const expiresAtMs = claims.exp * 1000;
    return {
      result: { kind: 'user', userId: claims.sub, sessionId: claims.sid, roles: claims.roles, token, expiresAtMs },
      expiresAtMs,
    };
  };

  return {
    authenticate: async (metadata) => {
      const values = metadata.get(AUTHORIZATION);
      if (values.length === 0) return ANONYMOUS;
      const [value] = values;
      if (values.length > 1 || typeof value !== 'string') throw authFailure(AuthFailure.Malformed);
      const token = bearerTokenOf(value);
      return token === undefined ? ANONYMOUS : verifyToken(token);
    },
    verifyToken,
    verifyAccessToken: async (token) => {
      const caller = await verifyToken(token);
      if (caller.kind !== 'user') throw authFailure(AuthFailure.Invalid);
      return caller;
    },
    clockToleranceSeconds: tolerance,
  };
}
