// Verification of a compact ES256 JWT with node:crypto's one-shot `verify`,
// with the registered-claim checks of jose's `jwtVerify`. jose verifies
// through WebCrypto: ~165 µs of CPU per token here against ~66 µs for
// node:crypto on the same key, and every opened stream and every call with a
// token not seen before pays it in each process on its path. jose still
// signs, resolves keys from the JWKS, and is the reference this module is
// tested against (es256-jwt.spec.ts runs both on the same tokens).
import { KeyObject, verify as verifySignature } from 'node:crypto';
import type { CryptoKey, JWSHeaderParameters } from 'jose';
import { TOKEN_ALGORITHM } from './token-claims.ts';

/** What the token must satisfy, as jose's `jwtVerify` options of the same names. */
export interface JwtClaimCheck {
  readonly issuer: string;
  /** At least one must be in `aud`. */
  readonly audience: readonly string[];
  /** Claims that must be present (whatever their value). */
  readonly requiredClaims: readonly string[];
  /** Longest accepted age (`now - iat`), in seconds; `iat` is then required. */
  readonly maxTokenAgeSeconds: number;
  readonly clockToleranceSeconds: number;
  /** The current time, epoch milliseconds. */
  readonly nowMs: number;
}

/** The token is not acceptable; `expired` when only its time is up (`exp`, or `iat` older than allowed). */
export class JwtRejected extends Error {
  readonly expired: boolean;
  constructor(message: string, expired = false) {
    super(message);
    this.name = 'JwtRejected';
    this.expired = expired;
  }
}

export interface VerifiedJwt {
  readonly header: JWSHeaderParameters;
  readonly payload: Record<string, unknown>;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** Header parameters that change how a JWS is processed; none is supported, so a token naming one is refused. */
const UNSUPPORTED_HEADER_PARAMETERS = ['crit', 'b64'];
const utf8 = new TextDecoder('utf-8', { fatal: true });
/** node:crypto's form of each WebCrypto key the resolver hands out, made once per key. */
const keyObjects = new WeakMap<CryptoKey, KeyObject>();

function keyObjectOf(key: CryptoKey): KeyObject {
  let found = keyObjects.get(key);
  if (found === undefined) {
    found = KeyObject.from(key);
    keyObjects.set(key, found);
  }
  return found;
}

/**
 * Verifies `token`'s ES256 signature with the key `keyFor` returns for its
 * header, then its claims. Throws JwtRejected for anything unacceptable;
 * errors of `keyFor` (e.g. keys that cannot be fetched) propagate as they are.
 */
export async function verifyEs256Jwt(
  token: string,
  keyFor: (header: JWSHeaderParameters) => Promise<CryptoKey>,
  check: JwtClaimCheck,
): Promise<VerifiedJwt> {
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtRejected('not a compact JWS');
  const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];
  const header = jsonObjectOf(encodedHeader, 'header') as JWSHeaderParameters;
  if (header.alg !== TOKEN_ALGORITHM) throw new JwtRejected(`alg must be ${TOKEN_ALGORITHM}`);
  if (UNSUPPORTED_HEADER_PARAMETERS.some((name) => Object.hasOwn(header, name))) {
    throw new JwtRejected('unsupported header parameter');
  }
  const signature = bytesOf(encodedSignature, 'signature');
  const key = keyObjectOf(await keyFor(header));
  let valid = false;
  try {
    valid = verifySignature(
      'sha256',
      Buffer.from(`${encodedHeader}.${encodedPayload}`, 'ascii'),
      { key, dsaEncoding: 'ieee-p1363' },
      signature,
    );
  } catch {
    valid = false;
  }
  if (!valid) throw new JwtRejected('signature verification failed');
  const payload = jsonObjectOf(encodedPayload, 'payload');
  checkClaims(payload, check);
  return { header, payload };
}

function bytesOf(segment: string, name: string): Buffer {
  // Buffer's decoder skips characters outside the alphabet; a token with any is refused instead.
  if (!BASE64URL.test(segment)) throw new JwtRejected(`${name} is not base64url`);
  return Buffer.from(segment, 'base64url');
}

function jsonObjectOf(segment: string, name: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytesOf(segment, name)));
  } catch (error) {
    if (error instanceof JwtRejected) throw error;
    throw new JwtRejected(`${name} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new JwtRejected(`${name} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** A NumericDate claim: undefined when absent and not required; a number otherwise. */
function numericDate(payload: Record<string, unknown>, claim: string, required = false): number | undefined {
  const value = payload[claim];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'number') throw new JwtRejected(`${claim} must be a number`);
  return value;
}

/** jose's order and rules: presence, issuer, audience, then nbf, exp and the token's age. */
function checkClaims(payload: Record<string, unknown>, check: JwtClaimCheck): void {
  for (const claim of new Set([...check.requiredClaims, 'iat', 'aud', 'iss'])) {
    if (!Object.hasOwn(payload, claim)) throw new JwtRejected(`missing ${claim}`);
  }
  if (payload.iss !== check.issuer) throw new JwtRejected('unexpected iss');
  const aud = payload.aud;
  const audienceMatches =
    typeof aud === 'string'
      ? check.audience.includes(aud)
      : Array.isArray(aud) && check.audience.some((a) => aud.includes(a));
  if (!audienceMatches) throw new JwtRejected('unexpected aud');
  const now = Math.floor(check.nowMs / 1000);
  const tolerance = check.clockToleranceSeconds;
  const iat = numericDate(payload, 'iat', true) as number;
  const nbf = numericDate(payload, 'nbf');
  if (nbf !== undefined && nbf > now + tolerance) throw new JwtRejected('not yet valid (nbf)');
  const exp = numericDate(payload, 'exp');
  if (exp !== undefined && exp <= now - tolerance) throw new JwtRejected('expired', true);
  const age = now - iat;
  if (age - tolerance > check.maxTokenAgeSeconds) throw new JwtRejected('too old (iat)', true);
  if (age < -tolerance) throw new JwtRejected('issued in the future (iat)');
}
