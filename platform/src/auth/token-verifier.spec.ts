import { Metadata } from '@grpc/grpc-js';
import { type CryptoKey, decodeJwt, decodeProtectedHeader, exportSPKI, importJWK, type JWK, SignJWT } from 'jose';
import { DomainError, ErrorKind } from '../domain/errors.ts';
import { ANONYMOUS } from '../grpc/auth-context.ts';
import { createLocalJwksSource, createRemoteJwksSource, JWKS_UNAVAILABLE } from './jwks-source.ts';
import { InMemoryRevocationList, type RevocationList } from './revocation.ts';
import { generateSigningKeyRing, importSigningKeyRing, type SigningKeyRing } from './signing-key-ring.ts';
import { TOKEN_VALIDITY_HORIZON_SECONDS } from './token-claims.ts';
import { createTokenSigner, type TokenSigner } from './token-signer.ts';
import {
  bearerTokenOf,
  createTokenAuthenticator,
  REVOCATIONS_UNAVAILABLE,
  type TokenAuthenticator,
} from './token-verifier.ts';

const ISSUER = 'messenger-auth';
const AUDIENCE = 'messenger';
const SERVICE_AUDIENCE = 'messenger-internal';
const TRUST = { issuer: ISSUER, audience: AUDIENCE, serviceAudience: SERVICE_AUDIENCE };
const SAFE_MESSAGES = new Set([
  'the authorization header must be "Bearer <token>"',
  'the bearer token is not valid',
  'the bearer token has expired',
  'the session of this bearer token has ended',
]);

const USER = { userId: 'u-42', sessionId: 's-1', roles: ['admin'] };

function bearer(value: string | string[], extra: Record<string, string> = {}): Metadata {
  const metadata = new Metadata();
  for (const v of Array.isArray(value) ? value : [value]) metadata.add('authorization', v);
  for (const [k, v] of Object.entries(extra)) metadata.set(k, v);
  return metadata;
}

/** Awaits a refusal and returns it, checking it is a DomainError with a safe message. */
async function refusal(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof DomainError)) throw new Error(`expected a DomainError, got ${String(error)}`);
  if (error.kind === ErrorKind.Unauthenticated) expect(SAFE_MESSAGES.has(error.message)).toBe(true);
  return error;
}

async function expectRefused(promise: Promise<unknown>, reason: string): Promise<void> {
  const error = await refusal(promise);
  expect({ kind: error.kind, reason: error.reason }).toEqual({ kind: ErrorKind.Unauthenticated, reason });
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('token authenticator', () => {
  let ring: SigningKeyRing;
  let signer: TokenSigner;
  let revocations: InMemoryRevocationList;
  let auth: TokenAuthenticator;

  beforeEach(async () => {
    ring = await generateSigningKeyRing();
    signer = createTokenSigner({ ...TRUST, keys: ring });
    revocations = new InMemoryRevocationList();
    auth = createTokenAuthenticator({ ...TRUST, jwks: createLocalJwksSource(ring), revocations });
  });
  afterEach(() => revocations.close());

  describe('accepts', () => {
    it('a valid access token as the user caller', async () => {
      const { token, expiresAt } = await signer.signAccessToken(USER);
      await expect(auth.authenticate(bearer(`Bearer ${token}`))).resolves.toEqual({
        kind: 'user',
        userId: 'u-42',
        sessionId: 's-1',
        roles: ['admin'],
        token,
        expiresAtMs: expiresAt * 1000,
      });
    });

    it('a valid service token as the service caller', async () => {
      const { token } = await signer.signServiceToken({ service: 'chat' });
      await expect(auth.authenticate(bearer(`Bearer ${token}`))).resolves.toEqual({
        kind: 'service',
        service: 'chat',
        token,
      });
    });

    it('the scheme in any case and trailing spaces', async () => {
      const { token } = await signer.signAccessToken(USER);
      await expect(auth.authenticate(bearer(`bearer  ${token} `))).resolves.toMatchObject({ userId: 'u-42' });
    });

    it('no authorization as anonymous, whatever x-user-id says', async () => {
      await expect(auth.authenticate(new Metadata())).resolves.toBe(ANONYMOUS);
      const spoofed = new Metadata();
      spoofed.set('x-user-id', 'u-admin');
      await expect(auth.authenticate(spoofed)).resolves.toBe(ANONYMOUS);
    });

    it('the identity from the token, never from x-user-id', async () => {
      const { token } = await signer.signAccessToken(USER);
      await expect(auth.authenticate(bearer(`Bearer ${token}`, { 'x-user-id': 'u-admin' }))).resolves.toMatchObject({
        userId: 'u-42',
      });
    });

    it('a token that expired within the clock tolerance', async () => {
      const past = createTokenSigner({ ...TRUST, keys: ring, now: () => Date.now() - 70_000 });
      const { token } = await past.signAccessToken({ ...USER, ttlSeconds: 60 }); // expired 10 s ago
      await expect(auth.verifyAccessToken(token)).resolves.toMatchObject({ kind: 'user' });
    });

    it('through verifyAccessToken, for the HTTP gateway', async () => {
      const { token } = await signer.signAccessToken(USER);
      await expect(auth.verifyAccessToken(token)).resolves.toMatchObject({ kind: 'user', userId: 'u-42' });
    });
  });

  describe('refuses', () => {
    it('an unsigned token (alg: none)', async () => {
      const { token } = await signer.signAccessToken(USER);
      const header = decodeProtectedHeader(token);
      const payload = decodeJwt(token);
      for (const alg of ['none', 'None', 'NONE']) {
        const unsigned = `${b64({ ...header, alg })}.${b64(payload)}.`;
        await expectRefused(auth.authenticate(bearer(`Bearer ${unsigned}`)), 'TOKEN_INVALID');
      }
      // The original signature glued onto an alg-none header is no better.
      const [, , signature] = token.split('.');
      await expectRefused(
        auth.verifyToken(`${b64({ ...header, alg: 'none' })}.${b64(payload)}.${signature}`),
        'TOKEN_INVALID',
      );
    });

    it('an HS256 token keyed with the public key bytes (algorithm confusion)', async () => {
      const { token } = await signer.signAccessToken(USER);
      const header = decodeProtectedHeader(token);
      const payload = decodeJwt(token);
      const publicJwk = ring.publicJwks().keys[0] as JWK;
      const spki = await exportSPKI((await importJWK(publicJwk, 'ES256')) as CryptoKey);
      for (const secret of [spki, JSON.stringify(publicJwk), publicJwk.x as string]) {
        for (const alg of ['HS256', 'HS512']) {
          const forged = await new SignJWT(payload)
            .setProtectedHeader({ ...header, alg })
            .sign(new TextEncoder().encode(secret));
          await expectRefused(auth.authenticate(bearer(`Bearer ${forged}`)), 'TOKEN_INVALID');
        }
      }
    });

    it('a token from another issuer', async () => {
      const rogue = createTokenSigner({ ...TRUST, issuer: 'someone-else', keys: ring });
      await expectRefused(auth.verifyToken((await rogue.signAccessToken(USER)).token), 'TOKEN_INVALID');
      await expectRefused(auth.verifyToken((await rogue.signServiceToken({ service: 'chat' })).token), 'TOKEN_INVALID');
    });

    it('a token for another audience', async () => {
      const rogue = createTokenSigner({
        ...TRUST,
        audience: 'billing',
        serviceAudience: 'billing-internal',
        keys: ring,
      });
      await expectRefused(auth.verifyToken((await rogue.signAccessToken(USER)).token), 'TOKEN_INVALID');
      await expectRefused(auth.verifyToken((await rogue.signServiceToken({ service: 'chat' })).token), 'TOKEN_INVALID');
    });

    it('an expired token', async () => {
      const past = createTokenSigner({ ...TRUST, keys: ring, now: () => Date.now() - 20 * 60_000 });
      const access = await past.signAccessToken(USER);
      const service = await past.signServiceToken({ service: 'chat' });
      expect(access.expiresAt * 1000).toBeLessThan(Date.now());
      await expectRefused(auth.authenticate(bearer(`Bearer ${access.token}`)), 'TOKEN_EXPIRED');
      await expectRefused(auth.verifyToken(service.token), 'TOKEN_EXPIRED');
    });

    it('a token signed by another key ring under the same kid', async () => {
      const other = await generateSigningKeyRing();
      const exported = JSON.parse(await other.exportPrivateJwks()) as { keys: JWK[] };
      const [first, second] = exported.keys as [JWK, JWK];
      const impostorKeys = [
        { ...first, kid: ring.signingKey().kid },
        { ...second, kid: 'impostor-next' },
      ];
      const impostor = await importSigningKeyRing(JSON.stringify({ keys: impostorKeys }));
      const forger = createTokenSigner({ ...TRUST, keys: impostor });
      const { token } = await forger.signAccessToken(USER);
      expect(decodeProtectedHeader(token).kid).toBe(ring.signingKey().kid);
      await expectRefused(auth.authenticate(bearer(`Bearer ${token}`)), 'TOKEN_INVALID');
    });

    it('a service token at the user audience, and an access token at the service audience', async () => {
      // Same issuer, same keys, audiences swapped: signatures are valid, kinds are not.
      const swapped = createTokenSigner({
        ...TRUST,
        audience: SERVICE_AUDIENCE,
        serviceAudience: AUDIENCE,
        keys: ring,
      });
      await expectRefused(
        auth.verifyToken((await swapped.signServiceToken({ service: 'chat' })).token),
        'TOKEN_INVALID',
      );
      await expectRefused(auth.verifyToken((await swapped.signAccessToken(USER)).token), 'TOKEN_INVALID');
    });

    it('a service token where an access token is required (gateway)', async () => {
      const { token } = await signer.signServiceToken({ service: 'chat' });
      await expectRefused(auth.verifyAccessToken(token), 'TOKEN_INVALID');
    });

    it('a token whose typ header and token_use disagree, or lack', async () => {
      const key = ring.signingKey();
      const now = Math.floor(Date.now() / 1000);
      const forge = (typ: string | undefined, claims: Record<string, unknown>, aud = AUDIENCE) =>
        new SignJWT({ sid: 's-1', roles: [], ...claims })
          .setProtectedHeader(typ === undefined ? { alg: 'ES256', kid: key.kid } : { alg: 'ES256', kid: key.kid, typ })
          .setIssuer(ISSUER)
          .setAudience(aud)
          .setSubject('u-42')
          .setIssuedAt(now)
          .setExpirationTime(now + 60)
          .setJti('j-1')
          .sign(key.privateKey);
      await expectRefused(auth.verifyToken(await forge('JWT', { token_use: 'access' })), 'TOKEN_INVALID');
      await expectRefused(auth.verifyToken(await forge(undefined, { token_use: 'access' })), 'TOKEN_INVALID');
      await expectRefused(auth.verifyToken(await forge('at+jwt', {})), 'TOKEN_INVALID');
      await expectRefused(auth.verifyToken(await forge('at+jwt', { token_use: 'service' })), 'TOKEN_INVALID');
      await expectRefused(
        auth.verifyToken(await forge('service+jwt', { token_use: 'access' }, SERVICE_AUDIENCE)),
        'TOKEN_INVALID',
      );
      // The control: the same forge with matching typ and token_use passes.
      await expect(auth.verifyToken(await forge('application/at+jwt', { token_use: 'access' }))).resolves.toMatchObject(
        {
          kind: 'user',
        },
      );
    });

    it('a token living longer than 15 minutes, even if validly signed', async () => {
      const key = ring.signingKey();
      const now = Math.floor(Date.now() / 1000);
      const longLived = await new SignJWT({ sid: 's-1', roles: [], token_use: 'access' })
        .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject('u-42')
        .setIssuedAt(now)
        .setExpirationTime(now + 24 * 3600)
        .setJti('j-1')
        .sign(key.privateKey);
      await expectRefused(auth.verifyToken(longLived), 'TOKEN_INVALID');
    });

    it('a token of a revoked session, and only that session', async () => {
      const { token } = await signer.signAccessToken(USER);
      const other = await signer.signAccessToken({ ...USER, sessionId: 's-2' });
      await expect(auth.verifyToken(token)).resolves.toMatchObject({ kind: 'user' });
      await revocations.revokeSession('s-1', Math.floor(Date.now() / 1000) + TOKEN_VALIDITY_HORIZON_SECONDS);
      await expectRefused(auth.authenticate(bearer(`Bearer ${token}`)), 'TOKEN_REVOKED');
      await expectRefused(auth.verifyAccessToken(token), 'TOKEN_REVOKED');
      await expect(auth.verifyToken(other.token)).resolves.toMatchObject({ sessionId: 's-2' });
    });

    it('a tampered token', async () => {
      const { token } = await signer.signAccessToken(USER);
      const [header, , signature] = token.split('.');
      const payload = b64({ ...decodeJwt(token), roles: ['admin', 'superuser'] });
      await expectRefused(auth.verifyToken(`${header}.${payload}.${signature}`), 'TOKEN_INVALID');
      await expectRefused(auth.verifyToken(`${token.slice(0, -4)}AAAA`), 'TOKEN_INVALID');
    });

    it.each([
      ['scheme only', 'Bearer', 'CREDENTIALS_MALFORMED'],
      ['scheme and a space', 'Bearer ', 'CREDENTIALS_MALFORMED'],
      ['empty', '', 'CREDENTIALS_MALFORMED'],
      ['basic credentials', 'Basic dXNlcjpwYXNz', 'CREDENTIALS_MALFORMED'],
      ['basic x', 'Basic x', 'CREDENTIALS_MALFORMED'],
      ['garbage', 'garbage', 'CREDENTIALS_MALFORMED'],
      ['two tokens', 'Bearer a b', 'CREDENTIALS_MALFORMED'],
      ['an oversized header', `Bearer ${'a'.repeat(9000)}`, 'CREDENTIALS_MALFORMED'],
      ['a garbage token', 'Bearer garbage', 'TOKEN_INVALID'],
      ['a JWT-shaped garbage token', 'Bearer a.b.c', 'TOKEN_INVALID'],
      ['empty segments', 'Bearer ..', 'TOKEN_INVALID'],
    ])('a malformed authorization header: %s', async (_label, header, reason) => {
      await expectRefused(auth.authenticate(bearer(header)), reason);
    });

    it('non-token characters in a header value (as the gateway might pass them)', () => {
      expect(() => bearerTokenOf('Bearer ä.b.c')).toThrow(DomainError);
      expect(() => bearerTokenOf('Bearer a.b.c\r\nx-user-id: u-admin')).toThrow(DomainError);
      expect(bearerTokenOf(undefined)).toBeUndefined();
      expect(bearerTokenOf('Bearer a.b.c')).toBe('a.b.c');
    });

    it('two authorization values', async () => {
      const { token } = await signer.signAccessToken(USER);
      await expectRefused(auth.authenticate(bearer([`Bearer ${token}`, `Bearer ${token}`])), 'CREDENTIALS_MALFORMED');
    });

    it('an empty or non-string bare token', async () => {
      await expectRefused(auth.verifyToken(''), 'TOKEN_INVALID');
      await expectRefused(auth.verifyAccessToken(undefined as unknown as string), 'TOKEN_INVALID');
    });
  });

  describe('start-up checks', () => {
    it('refuses equal audiences, a missing issuer and an excessive clock tolerance', () => {
      const base = { ...TRUST, jwks: createLocalJwksSource(ring), revocations };
      expect(() => createTokenAuthenticator({ ...base, serviceAudience: AUDIENCE })).toThrow(/must differ/);
      expect(() => createTokenAuthenticator({ ...base, issuer: '' })).toThrow(/issuer is required/);
      expect(() => createTokenAuthenticator({ ...base, clockToleranceSeconds: 3600 })).toThrow(/clockTolerance/);
    });
  });

  describe('infrastructure failures', () => {
    it('reports unreachable keys as unavailable, not as a bad token', async () => {
      const { token } = await signer.signAccessToken(USER);
      const down = createTokenAuthenticator({
        ...TRUST,
        jwks: createRemoteJwksSource(async () => {
          throw new Error('connect ECONNREFUSED 10.0.0.7:50051');
        }),
        revocations,
      });
      const error = await refusal(down.verifyToken(token));
      expect({ kind: error.kind, reason: error.reason }).toEqual({
        kind: ErrorKind.Unavailable,
        reason: JWKS_UNAVAILABLE,
      });
      expect(error.message).not.toMatch(/ECONNREFUSED/);
    });

    it('answers a revocation-store failure with a retryable unavailable, not an internal error', async () => {
      const broken: RevocationList = {
        revokeSession: async () => {},
        isRevoked: async () => {
          throw new Error('redis down');
        },
      };
      const withBroken = createTokenAuthenticator({ ...TRUST, jwks: createLocalJwksSource(ring), revocations: broken });
      const { token } = await signer.signAccessToken(USER);
      const error = await withBroken.verifyToken(token).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DomainError);
      expect(error).toMatchObject({ kind: ErrorKind.Unavailable, reason: REVOCATIONS_UNAVAILABLE });
      expect((error as Error).message).not.toMatch(/redis down/);
    });
  });
});

describe('token authenticator with a remote JWKS and key rotation', () => {
  let t: number;
  const now = () => t;
  let ring: SigningKeyRing;
  let signer: TokenSigner;
  let fetches: number;
  let revocations: InMemoryRevocationList;
  let auth: TokenAuthenticator;

  beforeEach(async () => {
    t = Date.now();
    fetches = 0;
    ring = await generateSigningKeyRing({ now });
    signer = createTokenSigner({ ...TRUST, keys: ring, now });
    revocations = new InMemoryRevocationList({ now });
    const source = createRemoteJwksSource(async () => {
      fetches++;
      await new Promise((resolve) => setTimeout(resolve, 5)); // a network round trip
      return structuredClone(ring.publicJwks().keys);
    });
    // No verified-token cache: these tests are about key resolution.
    auth = createTokenAuthenticator({ ...TRUST, jwks: source, revocations, now, cacheSize: 0 });
  });
  afterEach(() => revocations.close());

  it('still verifies a token signed before rotate()', async () => {
    const before = (await signer.signAccessToken(USER)).token;
    await expect(auth.verifyToken(before)).resolves.toMatchObject({ kind: 'user' });
    await ring.rotate();
    const after = (await signer.signAccessToken(USER)).token;
    expect(decodeProtectedHeader(after).kid).not.toBe(decodeProtectedHeader(before).kid);
    await expect(auth.verifyToken(before)).resolves.toMatchObject({ kind: 'user' });
    await expect(auth.verifyToken(after)).resolves.toMatchObject({ kind: 'user' });
    // The next key was published before it signed anything: no refresh was needed.
    expect(fetches).toBe(1);
    // Even after the cache ages out and is refetched, the retired key is still published.
    t += 11 * 60_000;
    await expect(auth.verifyToken(before)).resolves.toMatchObject({ kind: 'user' });
    expect(fetches).toBe(2);
  });

  it('refreshes exactly once for a new kid, however many verifications race', async () => {
    await auth.verifyToken((await signer.signAccessToken(USER)).token);
    expect(fetches).toBe(1);
    // Two rotations: the active key is now one the cached set has never seen.
    await ring.rotate();
    await ring.rotate();
    t += 31_000;
    const { token } = await signer.signAccessToken(USER);
    const callers = await Promise.all(Array.from({ length: 20 }, () => auth.verifyToken(token)));
    expect(callers.every((c) => c.kind === 'user')).toBe(true);
    expect(fetches).toBe(2);
  });

  it('refuses an unknown kid without hammering the source', async () => {
    await auth.verifyToken((await signer.signAccessToken(USER)).token);
    expect(fetches).toBe(1);
    const strangerRing = await generateSigningKeyRing({ now });
    const stranger = createTokenSigner({ ...TRUST, keys: strangerRing, now });
    const { token } = await stranger.signAccessToken(USER);

    t += 31_000;
    await Promise.all(Array.from({ length: 20 }, () => expectRefused(auth.verifyToken(token), 'TOKEN_INVALID')));
    for (let i = 0; i < 30; i++) await expectRefused(auth.verifyToken(token), 'TOKEN_INVALID');
    t += 10_000;
    await expectRefused(auth.verifyToken(token), 'TOKEN_INVALID');
    expect(fetches).toBe(2); // one refresh for the whole burst, none within the cooldown

    t += 21_000; // cooldown over: one more look
    await expectRefused(auth.verifyToken(token), 'TOKEN_INVALID');
    await expectRefused(auth.verifyToken(token), 'TOKEN_INVALID');
    expect(fetches).toBe(3);
  });

  it('stops verifying with a key once it is no longer published', async () => {
    const before = (await signer.signAccessToken({ ...USER, ttlSeconds: 60 })).token;
    await auth.verifyToken(before);
    await ring.rotate();
    t += (TOKEN_VALIDITY_HORIZON_SECONDS + 1) * 1000;
    expect(ring.publicJwks().keys.map((k) => k.kid)).not.toContain(decodeProtectedHeader(before).kid);
    // The aged cache is refetched and no longer holds the key: refused before its claims are even read.
    await expectRefused(auth.verifyToken(before), 'TOKEN_INVALID');
    expect(fetches).toBe(2);
  });
});

describe('verified-token cache', () => {
  let t: number;
  const now = () => t;

  it('skips the signature check on a repeat, yet still honours revocation and expiry', async () => {
    t = Date.now();
    const ring = await generateSigningKeyRing({ now });
    const signer = createTokenSigner({ ...TRUST, keys: ring, now });
    const revocations = new InMemoryRevocationList({ now });
    let fetches = 0;
    const source = createRemoteJwksSource(async () => {
      fetches++;
      return structuredClone(ring.publicJwks().keys);
    });
    const auth = createTokenAuthenticator({ ...TRUST, jwks: source, revocations, now, jwksMaxAgeSeconds: 1 });
    try {
      const { token } = await signer.signAccessToken({ ...USER, ttlSeconds: 300 });
      await expect(auth.verifyToken(token)).resolves.toMatchObject({ kind: 'user' });
      // Past the JWKS max age a real verification would refetch the keys; a cached one does not.
      t += 5_000;
      await expect(auth.verifyToken(token)).resolves.toMatchObject({ kind: 'user' });
      expect(fetches).toBe(1);

      const caller = await auth.verifyAccessToken(token);
      await revocations.revokeSession(caller.sessionId, t / 1000 + 600);
      await expect(auth.verifyToken(token)).rejects.toMatchObject({ reason: 'TOKEN_REVOKED' });

      const second = (await signer.signAccessToken({ ...USER, sessionId: 'other-session', ttlSeconds: 60 })).token;
      await expect(auth.verifyToken(second)).resolves.toMatchObject({ kind: 'user' });
      t += 120_000;
      await expect(auth.verifyToken(second)).rejects.toMatchObject({ reason: 'TOKEN_EXPIRED' });
    } finally {
      revocations.close();
    }
  });
});
