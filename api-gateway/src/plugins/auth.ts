import { Access } from '@messenger/gen/messenger/options/v1/options';
import {
  AuthFailure,
  authFailure,
  authorize,
  bearerTokenOf,
  DomainError,
  ErrorKind,
  TOKEN_VALIDITY_HORIZON_SECONDS,
  type UserCaller,
} from '@messenger/platform';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { LRUCache } from 'lru-cache';
import { Code, errorInfoDetail, GatewayError } from '../errors/status.ts';

/** What the gateway needs of token verification: the platform's `createTokenAuthenticator(...)` fits. */
export interface AccessTokenVerifier {
  /** Verifies signature, issuer, audience, lifetime and revocation; throws an `unauthenticated` DomainError. */
  verifyAccessToken(token: string): Promise<UserCaller>;
}

/** A revocation list (the platform's RevocationList fits), consulted on every use of a cached verification. */
export interface RevocationCheck {
  isRevoked(sessionId: string): Promise<boolean>;
}

export interface AuthOptions {
  readonly verifier: AccessTokenVerifier;
  /**
   * When given, a verification served from the cache is re-checked against
   * it on every request, so a logout is effective at once even before its
   * event reaches this gateway. Without it, the cache relies on
   * `auth.session.revoked` events.
   */
  readonly revocations?: RevocationCheck;
  /** Verified tokens kept (signature checks are the costly part); 0 disables. Default 10 000. */
  readonly cacheSize?: number;
  /** The `realm` of `WWW-Authenticate`. Default `messenger`. */
  readonly realm?: string;
}

export interface VerifiedToken {
  readonly caller: UserCaller;
  /** The token's `exp`, epoch milliseconds: streams end there. */
  readonly expiresAt: number;
}

export interface TokenGate {
  verify(token: string): Promise<VerifiedToken>;
  /** The same for an `Authorization` header value; remembered by the whole header, so a hit skips parsing. */
  verifyHeader(header: string | undefined): Promise<VerifiedToken>;
  /** Sessions ended (from `auth.session.revoked`): their tokens stop working here at once. */
  revokeSessions(sessionIds: readonly string[]): void;
}

/**
 * Verifies access tokens through the platform verifier, remembering each
 * verified token until its `exp` (ES256 verification dominates the cost of
 * an authenticated request otherwise).
 */
export function createTokenGate(opts: AuthOptions): TokenGate {
  const size = opts.cacheSize ?? 10_000;
  if (!Number.isSafeInteger(size) || size < 0) throw new TypeError('auth.cacheSize must be a non-negative integer');
  const cache = size > 0 ? new LRUCache<string, VerifiedToken>({ max: size }) : undefined;
  const revoked = new LRUCache<string, true>({ max: 100_000, ttl: TOKEN_VALIDITY_HORIZON_SECONDS * 1000 });
  const { verifier, revocations } = opts;

  /** `key` is what the verification is remembered by: the token, or the whole header it came in. */
  const verify = async (token: string, key: string): Promise<VerifiedToken> => {
    const hit = cache?.get(key);
    if (hit !== undefined) {
      if (hit.expiresAt <= Date.now()) {
        cache?.delete(key);
      } else {
        if (revoked.has(hit.caller.sessionId) || (revocations && (await revocations.isRevoked(hit.caller.sessionId)))) {
          cache?.delete(key);
          throw authFailure(AuthFailure.Revoked);
        }
        return hit;
      }
    }
    const caller = await verifier.verifyAccessToken(token);
    if (revoked.has(caller.sessionId)) throw authFailure(AuthFailure.Revoked);
    const verified = { caller, expiresAt: expiryOf(token) };
    cache?.set(key, verified);
    return verified;
  };

  return {
    verify: (token) => verify(token, `Bearer ${token}`),
    verifyHeader(header) {
      // A remembered header skips even its parsing.
      if (header !== undefined && cache?.has(header)) return verify('', header);
      try {
        const token = bearerTokenOf(header);
        if (token === undefined) {
          throw new DomainError(ErrorKind.Unauthenticated, 'CREDENTIALS_MISSING', 'a bearer token is required');
        }
        return verify(token, header as string);
      } catch (error) {
        return Promise.reject(error);
      }
    },
    revokeSessions(ids) {
      for (const id of ids) revoked.set(id, true);
    },
  };
}

/** `exp` of a token whose signature was just verified; the claims are the verifier's checked ones. */
function expiryOf(token: string): number {
  const payload = token.split('.')[1] ?? '';
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
  return typeof claims.exp === 'number' ? claims.exp * 1000 : Date.now();
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified end user; null on public routes. */
    caller: UserCaller | null;
    /** Epoch ms when the caller's token expires; 0 on public routes. */
    tokenExpiresAt: number;
  }
}

/**
 * The `onRequest` hook of a non-public route: a bearer token must be present
 * and verify before anything else runs, and the declared access level must
 * admit the caller. Public routes get no hook at all.
 */
export function authHook(gate: TokenGate, access: Access, realm: string): onRequestAsyncHookHandler {
  return async (req: FastifyRequest, _reply: FastifyReply) => {
    try {
      const verified = await gate.verifyHeader(req.headers.authorization);
      authorize(access === Access.ACCESS_UNSPECIFIED ? Access.ACCESS_AUTHENTICATED : access, verified.caller);
      req.caller = verified.caller;
      req.tokenExpiresAt = verified.expiresAt;
    } catch (error) {
      throw toAuthError(error, realm);
    }
  };
}

export function toAuthError(error: unknown, realm: string): unknown {
  if (!(error instanceof DomainError)) return error;
  const details = [errorInfoDetail(error.reason)];
  switch (error.kind) {
    case ErrorKind.Unauthenticated: {
      // RFC 6750 §3: no error attribute when no credential was sent at all.
      const challenge =
        error.reason === 'CREDENTIALS_MISSING'
          ? `Bearer realm="${realm}"`
          : `Bearer realm="${realm}", error="invalid_token", error_description="${error.message}"`;
      return new GatewayError(Code.UNAUTHENTICATED, error.message, {
        details,
        headers: { 'www-authenticate': challenge },
      });
    }
    case ErrorKind.PermissionDenied:
      return new GatewayError(Code.PERMISSION_DENIED, error.message, { details });
    case ErrorKind.Unavailable:
      return new GatewayError(Code.UNAVAILABLE, 'token verification is unavailable', { cause: error });
    default:
      return error;
  }
}
