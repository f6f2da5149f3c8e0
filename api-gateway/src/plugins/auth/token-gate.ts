import {
  AuthFailure,
  authFailure,
  bearerTokenOf,
  REVOCATIONS_UNAVAILABLE,
  TOKEN_VALIDITY_HORIZON_SECONDS,
  type UserCaller,
} from '@messenger/platform/auth';
import { DomainError, ErrorKind } from '@messenger/platform/domain';
import { LRUCache } from 'lru-cache';
import { nonNegativeInt } from '../../options.ts';

/** What the gateway needs of token verification: the platform's `createTokenAuthenticator(...)` fits. */
export interface AccessTokenVerifier {
  /** Verifies signature, issuer, audience, lifetime and revocation; throws an `unauthenticated` DomainError. */
  verifyAccessToken(token: string): Promise<UserCaller>;
  /** Seconds past `exp` the verifier still accepts a token; remembered tokens are served as long. Default 0. */
  readonly clockToleranceSeconds?: number;
}

/** A revocation list (the platform's RevocationList fits), consulted on every use of a cached verification. */
export interface RevocationCheck {
  isRevoked(sessionId: string): Promise<boolean>;
  /** The same answer without a promise, offered by a list in this process (the platform's InMemoryRevocationList). */
  isRevokedNow?(sessionId: string): boolean;
}

export interface TokenGateOptions {
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
  /** Clock in epoch milliseconds, the verifier's (tests). Default `Date.now`. */
  readonly now?: () => number;
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
  /** Whether `verifyHeader` would answer from memory, without a signature check. */
  remembers(header: string | undefined): boolean;
  /**
   * What `verifyHeader` would accept this header as, when that is known
   * without waiting: a remembered verification, unexpired, of a session not
   * revoked, where the revocation list (if any) answers without a promise.
   * Undefined otherwise, and then `verifyHeader` decides.
   */
  acceptedNow(header: string): VerifiedToken | undefined;
}

/** A verification and the exact header (or `Bearer <token>`) it was made for. */
interface Remembered {
  readonly key: string;
  readonly verified: VerifiedToken;
}

/**
 * Remembered verifications are found by the last characters of the key: a
 * token's signature, random, so 16 of its base64url characters (96 bits)
 * tell tokens apart. A map finds a key by its hash, and a header is a new
 * string on every request, so keying by the whole header (300 and more
 * characters) hashed all of it each time: measured, the largest single
 * cost of a cache hit. The whole key is then compared, so a different
 * token ending alike (a forged payload under a copied signature) is never
 * taken for the remembered one.
 */
const FINGERPRINT_CHARS = 16;
const fingerprint = (key: string) => key.slice(-FINGERPRINT_CHARS);

/**
 * Verifies access tokens through the platform verifier, remembering each
 * verified token until its `exp` (ES256 verification dominates the cost of
 * an authenticated request otherwise).
 */
export function createTokenGate(opts: TokenGateOptions): TokenGate {
  const size = nonNegativeInt('auth.cacheSize', opts.cacheSize, 10_000);
  const cache = size > 0 ? new LRUCache<string, Remembered>({ max: size }) : undefined;
  /** The verification remembered for exactly this key. */
  const remembered = (key: string | undefined): VerifiedToken | undefined => {
    if (key === undefined) return undefined;
    const found = cache?.get(fingerprint(key));
    return found !== undefined && found.key === key ? found.verified : undefined;
  };
  const revoked = new LRUCache<string, true>({ max: 100_000, ttl: TOKEN_VALIDITY_HORIZON_SECONDS * 1000 });
  const { verifier, revocations } = opts;
  const now = opts.now ?? Date.now;
  // Nearly always empty: then nothing is looked up.
  const isRevokedHere = (sessionId: string) => revoked.size > 0 && revoked.has(sessionId);
  const toleranceMs = (verifier.clockToleranceSeconds ?? 0) * 1000;

  /** A list that cannot answer without a promise is asked after the checks known at once. */
  const revocationsToAsk = revocations?.isRevokedNow === undefined ? revocations : undefined;

  /**
   * Why a remembered verification no longer holds, as far as is known
   * without waiting: the verifier's own expiry rule (so a token is accepted
   * or refused alike whether it is remembered or verified afresh), and
   * revocation here or in a list in this process.
   */
  const refusedNow = (hit: VerifiedToken): AuthFailure | undefined => {
    if (hit.expiresAt + toleranceMs <= now()) return AuthFailure.Expired;
    const sessionId = hit.caller.sessionId;
    if (isRevokedHere(sessionId) || revocations?.isRevokedNow?.(sessionId) === true) return AuthFailure.Revoked;
    return undefined;
  };

  /** A remembered verification, still held (`key` is what it is remembered by), or the failure that ends it. */
  const recheck = async (hit: VerifiedToken, key: string): Promise<VerifiedToken> => {
    let failure = refusedNow(hit);
    if (failure === undefined && revocationsToAsk && (await isRevoked(revocationsToAsk, hit.caller.sessionId))) {
      failure = AuthFailure.Revoked;
    }
    if (failure === undefined) return hit;
    cache?.delete(fingerprint(key));
    throw authFailure(failure);
  };

  /** A token not remembered under `key`: its signature checked, then remembered. */
  const verifyAfresh = async (token: string, key: string): Promise<VerifiedToken> => {
    const caller = await verifier.verifyAccessToken(token);
    if (isRevokedHere(caller.sessionId)) throw authFailure(AuthFailure.Revoked);
    const verified = { caller, expiresAt: expiryOf(token) };
    cache?.set(fingerprint(key), { key, verified });
    return verified;
  };

  return {
    verify(token) {
      const key = `Bearer ${token}`;
      const hit = remembered(key);
      return hit === undefined ? verifyAfresh(token, key) : recheck(hit, key);
    },
    verifyHeader(header) {
      // A remembered header skips even its parsing.
      const hit = remembered(header);
      if (hit !== undefined) return recheck(hit, header as string);
      try {
        const token = bearerTokenOf(header);
        if (token === undefined) {
          throw new DomainError(ErrorKind.Unauthenticated, 'CREDENTIALS_MISSING', 'a bearer token is required');
        }
        return verifyAfresh(token, header as string);
      } catch (error) {
        return Promise.reject(error);
      }
    },
    revokeSessions(ids) {
      for (const id of ids) revoked.set(id, true);
    },
    remembers: (header) => remembered(header) !== undefined,
    acceptedNow(header) {
      if (revocationsToAsk !== undefined) return undefined;
      const hit = remembered(header);
      return hit !== undefined && refusedNow(hit) === undefined ? hit : undefined;
    },
  };
}

/** `exp` of a token whose signature was just verified; the claims are the verifier's checked ones. */
function expiryOf(token: string): number {
  const payload = token.split('.')[1] ?? '';
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
  return typeof claims.exp === 'number' ? claims.exp * 1000 : Date.now();
}

/** A revocation list that cannot answer makes the request retryable (`unavailable`), not an internal error. */
async function isRevoked(revocations: RevocationCheck, sessionId: string): Promise<boolean> {
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
}
