import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const TOKEN_BYTES = 32;
/** 32 bytes in base64url without padding. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** A new opaque bearer secret (refresh token, mailed link token): 256 random bits, base64url. */
export function newOpaqueToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

export function isOpaqueTokenShaped(token: string): boolean {
  return TOKEN.test(token);
}

/**
 * How refresh tokens, mailed link tokens and OAuth states are stored: their
 * SHA-256. They are high-entropy random values, so a fast unsalted hash
 * suffices; whoever reads the database learns nothing they could present.
 */
export function secretHash(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/**
 * The shared secrets services exchange for service tokens. Comparison is in
 * constant time over SHA-256 digests (equal lengths whatever was presented),
 * and an unknown name is compared against a dummy, so timing tells neither
 * which names exist nor how much of a secret matched.
 */
export interface ServiceSecrets {
  verify(serviceName: string, presented: string): boolean;
}

export function createServiceSecrets(secrets: ReadonlyMap<string, string>): ServiceSecrets {
  const digests = new Map([...secrets].map(([name, secret]) => [name, digest(secret)]));
  const dummy = digest(randomBytes(32).toString('base64'));
  return {
    verify(serviceName, presented) {
      const expected = digests.get(serviceName);
      const same = timingSafeEqual(digest(presented), expected ?? dummy);
      return same && expected !== undefined;
    },
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
