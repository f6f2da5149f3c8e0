import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Memory-hard password hashing with scrypt from node:crypto, which runs on
 * libuv's thread pool, off the event loop.
 *
 * Hashes are self-describing strings in the PHC format,
 * `$scrypt$ln=17,r=8,p=1$<salt>$<hash>` (base64 without padding), so the
 * cost can be raised: old hashes keep verifying with their own params, and
 * `needsRehash` tells a sign-in to store a new hash of the password it has
 * just checked.
 */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** False for a wrong password and for a hash this hasher cannot read; never throws for either. */
  verify(password: string, hash: string): Promise<boolean>;
  /** Whether `hash` was made with other params than this hasher's (a verified password should be hashed anew). */
  needsRehash(hash: string): boolean;
  /**
   * Verifies against a hash of a random password, for a sign-in whose email
   * matches no password: the same work as a real check, so the answer's
   * timing does not tell whether the account exists.
   */
  verifyDummy(password: string): Promise<false>;
}

export interface ScryptParams {
  /** log2 of N, the CPU/memory cost: memory is 128 · N · r bytes (128 MiB at 17 and r = 8). */
  readonly logN: number;
  readonly r: number;
  readonly p: number;
}

/**
 * OWASP's recommendation: N = 2^17, r = 8, p = 1 (128 MiB and ~0.5 s per hash
 * on the 2-core machines here, on libuv's pool of 4 threads: a burst of
 * sign-ins queues there, never on the event loop).
 */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = { logN: 17, r: 8, p: 1 };

const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Bounds on stored params, so a corrupted or hostile hash cannot ask for gigabytes. */
const MAX_LOG_N = 20;
const MAX_R = 32;
const MAX_P = 4;
const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

export async function createScryptHasher(params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<PasswordHasher> {
  checkParams(params);
  const hash = async (password: string): Promise<string> => {
    const salt = randomBytes(SALT_BYTES);
    const key = await derive(password, salt, params, KEY_BYTES);
    return `$scrypt$ln=${params.logN},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
  };
  const verify = async (password: string, stored: string): Promise<boolean> => {
    const parsed = parse(stored);
    if (!parsed) return false;
    const key = await derive(password, parsed.salt, parsed.params, parsed.key.length);
    return timingSafeEqual(key, parsed.key);
  };
  const dummy = await hash(randomBytes(32).toString('base64'));
  return {
    hash,
    verify,
    needsRehash: (stored) => {
      const parsed = parse(stored);
      return (
        !parsed ||
        parsed.params.logN !== params.logN ||
        parsed.params.r !== params.r ||
        parsed.params.p !== params.p ||
        parsed.key.length !== KEY_BYTES
      );
    },
    verifyDummy: async (password) => {
      await verify(password, dummy);
      return false;
    },
  };
}

function derive(password: string, salt: Buffer, params: ScryptParams, keyLength: number): Promise<Buffer> {
  const N = 2 ** params.logN;
  const options: ScryptOptions = {
    N,
    r: params.r,
    p: params.p,
    // Node's default cap (32 MiB) is below what N = 2^17, r = 8 needs (128
    // MiB); allow the working set with room to spare.
    maxmem: 2 * 128 * N * params.r * params.p + 1024 * 1024,
  };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

function parse(stored: string): { params: ScryptParams; salt: Buffer; key: Buffer } | undefined {
  const match = PHC.exec(stored);
  if (!match) return undefined;
  const [, logN, r, p, salt, key] = match;
  const params = { logN: Number(logN), r: Number(r), p: Number(p) };
  if (!paramsInBounds(params)) return undefined;
  const keyBytes = Buffer.from(key as string, 'base64');
  if (keyBytes.length < 16) return undefined;
  return { params, salt: Buffer.from(salt as string, 'base64'), key: keyBytes };
}

function paramsInBounds(p: ScryptParams): boolean {
  return (
    Number.isInteger(p.logN) &&
    p.logN >= 1 &&
    p.logN <= MAX_LOG_N &&
    Number.isInteger(p.r) &&
    p.r >= 1 &&
    p.r <= MAX_R &&
    Number.isInteger(p.p) &&
    p.p >= 1 &&
    p.p <= MAX_P
  );
}

function checkParams(p: ScryptParams): void {
  if (!paramsInBounds(p)) {
    throw new RangeError(`scrypt params out of bounds: logN 1-${MAX_LOG_N}, r 1-${MAX_R}, p 1-${MAX_P}`);
  }
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}
