import { decodeJwt, decodeProtectedHeader } from 'jose';
import { generateSigningKeyRing, type SigningKeyRing } from './signing-key-ring.ts';
import { createTokenSigner, type TokenSigner } from './token-signer.ts';

const TRUST = { issuer: 'messenger-auth', audience: 'messenger', serviceAudience: 'messenger-internal' };
const NOW = 1_700_000_000_000;

describe('token signer', () => {
  let ring: SigningKeyRing;
  let signer: TokenSigner;

  beforeEach(async () => {
    ring = await generateSigningKeyRing();
    signer = createTokenSigner({ ...TRUST, keys: ring, now: () => NOW });
  });

  it('signs an access token with the RFC 9068 header and the user claims', async () => {
    const { token, expiresAt } = await signer.signAccessToken({
      userId: 'u-1',
      sessionId: 's-1',
      roles: ['admin'],
      ttlSeconds: 600,
    });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', kid: ring.signingKey().kid, typ: 'at+jwt' });
    const claims = decodeJwt(token);
    expect(claims).toEqual({
      iss: 'messenger-auth',
      aud: 'messenger',
      sub: 'u-1',
      sid: 's-1',
      roles: ['admin'],
      token_use: 'access',
      iat: NOW / 1000,
      exp: NOW / 1000 + 600,
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(expiresAt).toBe(NOW / 1000 + 600);
  });

  it('signs a service token for the internal audience', async () => {
    const { token } = await signer.signServiceToken({ service: 'api-gateway', ttlSeconds: 60 });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', typ: 'service+jwt' });
    expect(decodeJwt(token)).toMatchObject({
      iss: 'messenger-auth',
      aud: 'messenger-internal',
      sub: 'service:api-gateway',
      token_use: 'service',
      exp: NOW / 1000 + 60,
    });
    expect(decodeJwt(token)).not.toHaveProperty('sid');
  });

  it('defaults to, and caps at, 15 minutes', async () => {
    const { expiresAt } = await signer.signAccessToken({ userId: 'u-1', sessionId: 's-1', roles: [] });
    expect(expiresAt).toBe(NOW / 1000 + 900);
    for (const ttlSeconds of [0, -1, 901, 3600, 1.5, Number.NaN]) {
      await expect(async () =>
        signer.signAccessToken({ userId: 'u', sessionId: 's', roles: [], ttlSeconds }),
      ).rejects.toThrow(RangeError);
      await expect(async () => signer.signServiceToken({ service: 'chat', ttlSeconds })).rejects.toThrow(RangeError);
    }
  });

  it('gives every token its own jti', async () => {
    const a = await signer.signAccessToken({ userId: 'u-1', sessionId: 's-1', roles: [] });
    const b = await signer.signAccessToken({ userId: 'u-1', sessionId: 's-1', roles: [] });
    expect(decodeJwt(a.token).jti).not.toBe(decodeJwt(b.token).jti);
  });

  it('signs with the new key after rotation', async () => {
    const next = await ring.rotate();
    const { token } = await signer.signServiceToken({ service: 'chat' });
    expect(decodeProtectedHeader(token).kid).toBe(next);
  });

  it('refuses bad requests', async () => {
    await expect(async () => signer.signAccessToken({ userId: '', sessionId: 's', roles: [] })).rejects.toThrow(
      /userId/,
    );
    await expect(async () => signer.signAccessToken({ userId: 'u', sessionId: '', roles: [] })).rejects.toThrow(
      /sessionId/,
    );
    await expect(async () =>
      signer.signAccessToken({ userId: 'service:chat', sessionId: 's', roles: [] }),
    ).rejects.toThrow(/service:/);
    await expect(async () => signer.signAccessToken({ userId: 'u', sessionId: 's', roles: [''] })).rejects.toThrow(
      /roles/,
    );
    for (const service of ['', 'Chat', 'chat service', 'service:chat', '-chat']) {
      await expect(async () => signer.signServiceToken({ service })).rejects.toThrow(/service must match/);
    }
  });

  it('checks its options at start-up', () => {
    expect(() => createTokenSigner({ ...TRUST, serviceAudience: TRUST.audience, keys: ring })).toThrow(/must differ/);
    expect(() => createTokenSigner({ ...TRUST, audience: '', keys: ring })).toThrow(/audience is required/);
  });
});
