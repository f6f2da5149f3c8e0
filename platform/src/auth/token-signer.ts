import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { SigningKeyRing } from './signing-key-ring.ts';
import {
  ACCESS_TOKEN_TYPE,
  assertAudiences,
  MAX_TOKEN_TTL_SECONDS,
  SERVICE_NAME_PATTERN,
  SERVICE_SUBJECT_PREFIX,
  SERVICE_TOKEN_TYPE,
  TOKEN_ALGORITHM,
} from './token-claims.ts';

export interface TokenSignerOptions {
  /** `iss` of every token, e.g. `messenger-auth`. */
  readonly issuer: string;
  /** `aud` of access tokens, e.g. `messenger`. */
  readonly audience: string;
  /** `aud` of service tokens, e.g. `messenger-internal`; must differ from `audience`. */
  readonly serviceAudience: string;
  readonly keys: SigningKeyRing;
  /** Clock in epoch milliseconds (tests). */
  readonly now?: () => number;
}

export interface AccessTokenRequest {
  readonly userId: string;
  readonly sessionId: string;
  readonly roles: readonly string[];
  /** 1..900; defaults to 900 (15 min). */
  readonly ttlSeconds?: number;
}

export interface ServiceTokenRequest {
  /** Lowercase kebab-case name, e.g. `chat`; becomes `sub: service:chat`. */
  readonly service: string;
  /** 1..900; defaults to 900 (15 min). Callers re-sign before expiry. */
  readonly ttlSeconds?: number;
}

export interface SignedToken {
  readonly token: string;
  /** The token's `exp`, in epoch seconds. */
  readonly expiresAt: number;
}

export interface TokenSigner {
  signAccessToken(request: AccessTokenRequest): Promise<SignedToken>;
  signServiceToken(request: ServiceTokenRequest): Promise<SignedToken>;
}

/** Signs access and service tokens with the ring's active key. Options are checked here, at start-up. */
export function createTokenSigner(opts: TokenSignerOptions): TokenSigner {
  assertAudiences('token signer', opts);
  const now = opts.now ?? Date.now;

  const sign = async (
    claims: Record<string, unknown>,
    typ: string,
    subject: string,
    audience: string,
    ttlSeconds: number | undefined,
  ): Promise<SignedToken> => {
    const ttl = ttlSeconds ?? MAX_TOKEN_TTL_SECONDS;
    if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS) {
      throw new RangeError(`ttlSeconds must be an integer in 1..${MAX_TOKEN_TTL_SECONDS} (got ${ttlSeconds})`);
    }
    const key = opts.keys.signingKey();
    const iat = Math.floor(now() / 1000);
    const exp = iat + ttl;
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: TOKEN_ALGORITHM, kid: key.kid, typ })
      .setIssuer(opts.issuer)
      .setAudience(audience)
      .setSubject(subject)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(key.privateKey);
    return { token, expiresAt: exp };
  };

  return {
    signAccessToken: ({ userId, sessionId, roles, ttlSeconds }) => {
      requireId('userId', userId);
      requireId('sessionId', sessionId);
      if (userId.startsWith(SERVICE_SUBJECT_PREFIX)) throw new TypeError('userId may not start with "service:"');
      if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string' && r !== '')) {
        throw new TypeError('roles must be an array of non-empty strings');
      }
      return sign(
        { sid: sessionId, roles: [...roles], token_use: 'access' },
        ACCESS_TOKEN_TYPE,
        userId,
        opts.audience,
        ttlSeconds,
      );
    },
    signServiceToken: ({ service, ttlSeconds }) => {
      if (typeof service !== 'string' || !SERVICE_NAME_PATTERN.test(service)) {
        throw new TypeError(`service must match ${SERVICE_NAME_PATTERN} (got ${JSON.stringify(service)})`);
      }
      return sign(
        { token_use: 'service' },
        SERVICE_TOKEN_TYPE,
        `${SERVICE_SUBJECT_PREFIX}${service}`,
        opts.serviceAudience,
        ttlSeconds,
      );
    },
  };
}

function requireId(field: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value === '' || value.length > 256) {
    throw new TypeError(`${field} must be a non-empty string of at most 256 characters`);
  }
}
