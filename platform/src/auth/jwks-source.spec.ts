import { errors, type JWK } from 'jose';
import { DomainError, ErrorKind } from '../domain/errors.ts';
import { createJwksKeyResolver, createLocalJwksSource, createRemoteJwksSource } from './jwks-source.ts';
import { generateSigningKeyRing, type SigningKeyRing } from './signing-key-ring.ts';

describe('JWKS key resolver', () => {
  let t: number;
  const now = () => t;
  let ring: SigningKeyRing;
  let fetches: number;
  let failing: boolean;
  const fetchKeys = async (): Promise<JWK[]> => {
    fetches++;
    if (failing) throw new Error('auth unreachable');
    return ring.publicJwks().keys;
  };

  beforeEach(async () => {
    t = 1_700_000_000_000;
    ring = await generateSigningKeyRing({ now });
    fetches = 0;
    failing = false;
  });

  const header = (kid?: string) => ({ alg: 'ES256', ...(kid === undefined ? {} : { kid }) });

  it('fetches lazily, once, and serves known kids from the cache', async () => {
    const resolve = createJwksKeyResolver(createRemoteJwksSource(fetchKeys), { now });
    expect(fetches).toBe(0);
    const kid = ring.signingKey().kid;
    const keys = await Promise.all(Array.from({ length: 10 }, () => resolve(header(kid))));
    expect(keys[0]?.type).toBe('public');
    expect(fetches).toBe(1);
  });

  it('refuses a token without a kid, without fetching', async () => {
    const resolve = createJwksKeyResolver(createRemoteJwksSource(fetchKeys), { now });
    await expect(resolve(header())).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect(fetches).toBe(0);
  });

  it('refetches a set older than maxAge on next use', async () => {
    const resolve = createJwksKeyResolver(createRemoteJwksSource(fetchKeys), { now, maxAgeSeconds: 60 });
    const kid = ring.signingKey().kid;
    await resolve(header(kid));
    t += 59_000;
    await resolve(header(kid));
    expect(fetches).toBe(1);
    t += 1000;
    await resolve(header(kid));
    expect(fetches).toBe(2);
  });

  it('keeps answering from a stale set when the refetch fails', async () => {
    const resolve = createJwksKeyResolver(createRemoteJwksSource(fetchKeys), { now, maxAgeSeconds: 60 });
    const kid = ring.signingKey().kid;
    await resolve(header(kid));
    failing = true;
    t += 61_000;
    await expect(resolve(header(kid))).resolves.toBeDefined();
    expect(fetches).toBe(2);
  });

  it('reports an unreachable source as unavailable, retrying after failureRetrySeconds only', async () => {
    failing = true;
    const resolve = createJwksKeyResolver(createRemoteJwksSource(fetchKeys), { now });
    const kid = ring.signingKey().kid;
    const error = await resolve(header(kid)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).kind).toBe(ErrorKind.Unavailable);
    expect((error as DomainError).message).not.toMatch(/unreachable/);
    expect((error as DomainError).cause).toBeInstanceOf(Error);
    await expect(resolve(header(kid))).rejects.toBeInstanceOf(DomainError);
    expect(fetches).toBe(1);
    failing = false;
    t += 1000;
    await expect(resolve(header(kid))).resolves.toBeDefined();
    expect(fetches).toBe(2);
  });

  it('recovers when the source throws synchronously', async () => {
    let calls = 0;
    const source = {
      getKeys: () => {
        calls++;
        if (calls === 1) throw new Error('sync failure');
        return Promise.resolve(ring.publicJwks().keys);
      },
    };
    const resolve = createJwksKeyResolver(source, { now });
    await expect(resolve(header(ring.signingKey().kid))).rejects.toBeInstanceOf(DomainError);
    t += 1000;
    await expect(resolve(header(ring.signingKey().kid))).resolves.toBeDefined();
  });

  it('reads a local ring without cooldown: two quick rotations are seen at once', async () => {
    const resolve = createJwksKeyResolver(createLocalJwksSource(ring), { now });
    await resolve(header(ring.signingKey().kid));
    await ring.rotate();
    await ring.rotate();
    await expect(resolve(header(ring.signingKey().kid))).resolves.toBeDefined();
  });

  it('checks its options at start-up', () => {
    expect(() => createJwksKeyResolver(createRemoteJwksSource(fetchKeys), { refreshCooldownSeconds: -1 })).toThrow(
      /refreshCooldownSeconds/,
    );
  });
});
