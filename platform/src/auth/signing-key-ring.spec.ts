import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import { generateSigningKeyRing, importSigningKeyRing, type SigningKeyRing } from './signing-key-ring.ts';
import { TOKEN_VALIDITY_HORIZON_SECONDS } from './token-claims.ts';

const kidsOf = (ring: SigningKeyRing) => ring.publicJwks().keys.map((k) => k.kid);

async function signWith(ring: SigningKeyRing): Promise<string> {
  const { kid, privateKey } = ring.signingKey();
  return new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid }).sign(privateKey);
}

async function verifiesWith(token: string, jwk: JWK): Promise<boolean> {
  const key = (await importJWK(jwk, 'ES256')) as CryptoKey;
  return jwtVerify(token, key, { algorithms: ['ES256'] }).then(
    () => true,
    () => false,
  );
}

describe('signing key ring', () => {
  it('publishes public keys only, with kid, alg and use', async () => {
    const ring = await generateSigningKeyRing();
    const { keys } = ring.publicJwks();
    expect(keys).toHaveLength(2); // active + next
    for (const key of keys) {
      expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    }
    expect(keys[0]?.kid).toBe(ring.signingKey().kid);
    expect(new Set(kidsOf(ring)).size).toBe(2);
  });

  it('hands out copies, so callers cannot alter the published set', async () => {
    const ring = await generateSigningKeyRing();
    const first = ring.publicJwks().keys[0] as JWK;
    first.x = 'tampered';
    expect(ring.publicJwks().keys[0]?.x).not.toBe('tampered');
  });

  it('signs with the active key, which the published set verifies', async () => {
    const ring = await generateSigningKeyRing();
    const token = await signWith(ring);
    const published = ring.publicJwks().keys.find((k) => k.kid === ring.signingKey().kid) as JWK;
    await expect(verifiesWith(token, published)).resolves.toBe(true);
  });

  it('rotates to the pre-published next key and keeps the retired key for the validity horizon', async () => {
    let t = 1_700_000_000_000;
    const ring = await generateSigningKeyRing({ now: () => t });
    const [oldKid, nextKid] = kidsOf(ring) as [string, string];
    const oldToken = await signWith(ring);

    await expect(ring.rotate()).resolves.toBe(nextKid);
    expect(ring.signingKey().kid).toBe(nextKid);
    const afterRotation = kidsOf(ring);
    expect(afterRotation[0]).toBe(nextKid);
    expect(afterRotation).toContain(oldKid);
    expect(afterRotation).toHaveLength(3); // active, a new next, the retired one

    const retired = ring.publicJwks().keys.find((k) => k.kid === oldKid) as JWK;
    await expect(verifiesWith(oldToken, retired)).resolves.toBe(true);

    t += (TOKEN_VALIDITY_HORIZON_SECONDS - 1) * 1000;
    expect(kidsOf(ring)).toContain(oldKid);
    t += 2000;
    expect(kidsOf(ring)).not.toContain(oldKid);
    expect(kidsOf(ring)).toHaveLength(2);
  });

  it('refuses a retention shorter than the validity horizon', async () => {
    await expect(generateSigningKeyRing({ retainSeconds: 60 })).rejects.toThrow(/retainSeconds/);
  });

  describe('import', () => {
    it('round-trips through exportPrivateJwks: same kids, old tokens verify', async () => {
      const ring = await generateSigningKeyRing();
      const token = await signWith(ring);
      const restored = await importSigningKeyRing(await ring.exportPrivateJwks());
      expect(kidsOf(restored)).toEqual(kidsOf(ring));
      expect(restored.signingKey().kid).toBe(ring.signingKey().kid);
      const published = restored.publicJwks().keys[0] as JWK;
      await expect(verifiesWith(token, published)).resolves.toBe(true);
      // And the restored ring rotates to the persisted next key, as every replica would.
      await expect(restored.rotate()).resolves.toBe(kidsOf(ring)[1]);
    });

    it('takes a single JWK, computing a thumbprint kid and staging a next key', async () => {
      const { privateKey } = await generateKeyPair('ES256', { extractable: true });
      const jwk = await exportJWK(privateKey);
      const ring = await importSigningKeyRing(JSON.stringify(jwk));
      expect(ring.signingKey().kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(kidsOf(ring)).toHaveLength(2);
    });

    it('keeps further keys published (verification only) until the operator removes them', async () => {
      let t = 1_700_000_000_000;
      const a = await generateSigningKeyRing();
      const b = await generateSigningKeyRing();
      const [a1, a2] = (JSON.parse(await a.exportPrivateJwks()) as { keys: JWK[] }).keys as [JWK, JWK];
      const [b1] = (JSON.parse(await b.exportPrivateJwks()) as { keys: JWK[] }).keys as [JWK];
      const ring = await importSigningKeyRing(JSON.stringify({ keys: [a1, a2, b1] }), { now: () => t });
      expect(kidsOf(ring)).toEqual([a1.kid, a2.kid, b1.kid]);
      for (const published of ring.publicJwks().keys) expect(published).not.toHaveProperty('d');
      t += 24 * 3600 * 1000;
      expect(kidsOf(ring)).toContain(b1.kid);
    });

    it.each([
      ['not JSON', '{"keys": [', /not valid JSON/],
      ['an empty set', '{"keys": []}', /empty/],
      ['a non-object', '[1]', /not a JSON object/],
      ['an RSA key', '{"kty":"RSA","n":"x","e":"AQAB","d":"x"}', /EC P-256/],
      ['another curve', '{"kty":"EC","crv":"P-384","x":"x","y":"y","d":"d"}', /EC P-256/],
    ])('refuses %s', async (_label, json, message) => {
      await expect(importSigningKeyRing(json)).rejects.toThrow(message);
    });

    it('refuses a public-only key, a wrong alg, duplicate kids and a mismatched public half', async () => {
      const ring = await generateSigningKeyRing();
      const [k1, k2] = (JSON.parse(await ring.exportPrivateJwks()) as { keys: JWK[] }).keys as [JWK, JWK];
      const { d: _d, ...publicOnly } = k1;
      await expect(importSigningKeyRing(JSON.stringify(publicOnly))).rejects.toThrow(/private key/);
      await expect(importSigningKeyRing(JSON.stringify({ ...k1, alg: 'HS256' }))).rejects.toThrow(/alg/);
      await expect(importSigningKeyRing(JSON.stringify({ keys: [k1, { ...k2, kid: k1.kid }] }))).rejects.toThrow(
        /share a kid/,
      );
      await expect(importSigningKeyRing(JSON.stringify({ ...k1, x: k2.x, y: k2.y }))).rejects.toThrow(/does not match/);
    });

    it('never echoes key material in its errors', async () => {
      const ring = await generateSigningKeyRing();
      const [k1] = (JSON.parse(await ring.exportPrivateJwks()) as { keys: JWK[] }).keys as [JWK];
      const error = await importSigningKeyRing(`${JSON.stringify(k1)}x`).catch((e: Error) => e);
      expect(String(error)).not.toContain(k1.d);
      const mismatch = await importSigningKeyRing(JSON.stringify({ ...k1, y: k1.x })).catch((e: Error) => e);
      expect(String(mismatch)).not.toContain(k1.d);
    });
  });
});
