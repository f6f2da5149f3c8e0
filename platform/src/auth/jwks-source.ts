import { type CryptoKey, createLocalJWKSet, errors, type JWK, type JWSHeaderParameters } from 'jose';
import { DomainError, ErrorKind } from '../domain/errors.ts';
import type { SigningKeyRing } from './signing-key-ring.ts';

/** Where verifiers get the auth service's public keys. */
export interface JwksSource {
  getKeys(): Promise<JWK[]>;
  /**
   * The least time between two fetches triggered by an unknown `kid`, unless
   * the resolver is given one. A remote source leaves it unset (30 s); an
   * in-process source, where a fetch costs nothing, sets 0.
   */
  readonly refreshCooldownSeconds?: number;
}

/** Embedded mode: the key ring lives in this process; reading it is free. */
export function createLocalJwksSource(ring: SigningKeyRing): JwksSource {
  return {
    getKeys: async () => ring.publicJwks().keys,
    refreshCooldownSeconds: 0,
  };
}

/** Cluster mode: `fetchKeys` calls the auth service (`GetJwks`); no transport code here. */
export function createRemoteJwksSource(fetchKeys: () => Promise<JWK[]>): JwksSource {
  return { getKeys: fetchKeys };
}

export interface JwksKeyResolverOptions {
  /** Least time between unknown-`kid` refreshes; default: the source's own value, else 30 s. */
  readonly refreshCooldownSeconds?: number;
  /** A cached set older than this is refreshed on next use (so removed keys stop verifying); default 600 s. */
  readonly maxAgeSeconds?: number;
  /** After a failed fetch, the next attempt waits this long; default 1 s. */
  readonly failureRetrySeconds?: number;
  /** Clock in epoch milliseconds (tests). */
  readonly now?: () => number;
}

/** A jose key-resolver function for `jwtVerify`, over a cached, lazily refreshed JWK set. */
export type JwksKeyResolver = (protectedHeader: JWSHeaderParameters) => Promise<CryptoKey>;

interface CachedSet {
  readonly kids: ReadonlySet<string>;
  readonly resolve: ReturnType<typeof createLocalJWKSet>;
  readonly fetchedAt: number;
}

export const JWKS_UNAVAILABLE = 'AUTH_KEYS_UNAVAILABLE';

/**
 * Resolves a token's `kid` to a verification key through jose's
 * `createLocalJWKSet` over the cached set. The set is fetched on first use,
 * refreshed when it grows older than `maxAgeSeconds`, and refreshed when a
 * token names an unknown `kid` — at most once per cooldown, with concurrent
 * misses sharing one in-flight fetch, so forged `kid`s cannot hammer the
 * source. A `kid` still unknown after that is "no matching key" (the
 * verifier's TOKEN_INVALID). When keys cannot be fetched at all, it throws an
 * `unavailable` DomainError (the cause attached, never shown to callers).
 */
export function createJwksKeyResolver(source: JwksSource, opts: JwksKeyResolverOptions = {}): JwksKeyResolver {
  const cooldownMs = seconds(
    'refreshCooldownSeconds',
    opts.refreshCooldownSeconds ?? source.refreshCooldownSeconds,
    30,
  );
  const maxAgeMs = seconds('maxAgeSeconds', opts.maxAgeSeconds, 600);
  const failureRetryMs = seconds('failureRetrySeconds', opts.failureRetrySeconds, 1);
  const now = opts.now ?? Date.now;

  let cached: CachedSet | undefined;
  let inFlight: Promise<CachedSet> | undefined;
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  let lastAttemptFailed = false;

  const fetchSet = async (): Promise<CachedSet> => {
    lastAttemptAt = now();
    try {
      const keys = await source.getKeys();
      const set: CachedSet = {
        kids: new Set(keys.flatMap((k) => (typeof k.kid === 'string' ? [k.kid] : []))),
        resolve: createLocalJWKSet({ keys }),
        fetchedAt: now(),
      };
      cached = set;
      lastAttemptFailed = false;
      return set;
    } catch (error) {
      lastAttemptFailed = true;
      throw error;
    }
  };

  const refresh = (): Promise<CachedSet> => {
    if (inFlight) return inFlight;
    const started = fetchSet().finally(() => {
      if (inFlight === started) inFlight = undefined;
    });
    inFlight = started;
    return started;
  };

  const mayRefresh = (): boolean =>
    inFlight !== undefined || now() - lastAttemptAt >= (lastAttemptFailed ? failureRetryMs : cooldownMs);

  return async (protectedHeader) => {
    const { kid } = protectedHeader;
    if (typeof kid !== 'string' || kid === '') throw new errors.JWKSNoMatchingKey();
    let set = cached;
    const unknown = set === undefined || !set.kids.has(kid);
    const stale = set !== undefined && now() - set.fetchedAt >= maxAgeMs;
    if ((unknown || stale) && mayRefresh()) {
      try {
        set = await refresh();
      } catch (error) {
        // A stale set still answers for keys it knows; an unknown kid cannot be judged.
        if (set === undefined || unknown) throw unavailable(error);
      }
    }
    if (set === undefined) throw unavailable(undefined);
    return set.resolve(protectedHeader);
  };
}

function unavailable(cause: unknown): DomainError {
  const error = new DomainError(
    ErrorKind.Unavailable,
    JWKS_UNAVAILABLE,
    'credentials cannot be verified right now; try again shortly',
  );
  if (cause !== undefined) error.cause = cause;
  return error;
}

function seconds(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) throw new TypeError(`JWKS resolver: ${name} must be a non-negative number`);
  return v * 1000;
}
