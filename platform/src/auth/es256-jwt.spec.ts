// The conformance suite of verifyEs256Jwt: every token below goes through it
// and through jose's jwtVerify with the same options, and both must come to
// the same outcome (accepted with the same claims, expired, or invalid).
import { KeyObject, sign } from 'node:crypto';
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, errors as joseErrors, jwtVerify } from 'jose';
import { JwtRejected, verifyEs256Jwt } from './es256-jwt.ts';

const ISSUER = 'messenger-auth';
const AUDIENCE = ['messenger', 'messenger-internal'];
const NOW_S = 1_800_000_000;
const TOLERANCE = 30;
const MAX_AGE = 900;

type Outcome = 'invalid' | 'expired' | { readonly accepted: Record<string, unknown> };

const b64 = (value: unknown) =>
  (Buffer.isBuffer(value) ? value : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))).toString(
    'base64url',
  );

describe('verifyEs256Jwt against jose jwtVerify', () => {
  let privateKey: CryptoKey;
  let publicKey: CryptoKey;
  let otherPrivateKey: CryptoKey;

  beforeAll(async () => {
    ({ privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true }));
    ({ privateKey: otherPrivateKey } = await generateKeyPair('ES256', { extractable: true }));
  });

  /** A compact JWS of `header` and `payload` (raw segment strings or JSON values), signed with node:crypto. */
  const jws = (header: unknown, payload: unknown, key: CryptoKey = privateKey) => {
    const input = `${b64(header)}.${b64(payload)}`;
    const signature = sign('sha256', Buffer.from(input), { key: KeyObject.from(key), dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  };
  const claims = (overrides: Record<string, unknown> = {}) => ({
    iss: ISSUER,
    aud: 'messenger',
    sub: 'user-1',
    jti: 'token-1',
    iat: NOW_S - 60,
    exp: NOW_S + 600,
    ...overrides,
  });
  const header = (overrides: Record<string, unknown> = {}) => ({
    alg: 'ES256',
    kid: 'k1',
    typ: 'at+jwt',
    ...overrides,
  });

  const ours = async (token: string): Promise<Outcome> => {
    try {
      const { payload } = await verifyEs256Jwt(token, async () => publicKey, {
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ['sub', 'iat', 'exp', 'jti'],
        maxTokenAgeSeconds: MAX_AGE,
        clockToleranceSeconds: TOLERANCE,
        nowMs: NOW_S * 1000 + 999,
      });
      return { accepted: payload };
    } catch (error) {
      if (!(error instanceof JwtRejected)) throw error;
      return error.expired ? 'expired' : 'invalid';
    }
  };
  const jose = async (token: string): Promise<Outcome> => {
    try {
      const { payload } = await jwtVerify(token, async () => publicKey, {
        algorithms: ['ES256'],
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ['sub', 'iat', 'exp', 'jti'],
        maxTokenAge: MAX_AGE,
        clockTolerance: TOLERANCE,
        currentDate: new Date(NOW_S * 1000 + 999),
      });
      return { accepted: payload as Record<string, unknown> };
    } catch (error) {
      if (!(error instanceof joseErrors.JOSEError)) throw error;
      return error instanceof joseErrors.JWTExpired ? 'expired' : 'invalid';
    }
  };

  const cases: [string, () => string | Promise<string>, 'accepted' | 'invalid' | 'expired'][] = [
    ['a valid token', () => jws(header(), claims()), 'accepted'],
    [
      'an audience list with one of ours',
      () => jws(header(), claims({ aud: ['x', 'messenger-internal'] })),
      'accepted',
    ],
    ['exp just inside the tolerance', () => jws(header(), claims({ exp: NOW_S - TOLERANCE + 1 })), 'accepted'],
    ['exp at the tolerance', () => jws(header(), claims({ exp: NOW_S - TOLERANCE })), 'expired'],
    ['exp long past', () => jws(header(), claims({ exp: NOW_S - 3600, iat: NOW_S - 3700 })), 'expired'],
    [
      'iat older than the longest age',
      () => jws(header(), claims({ iat: NOW_S - MAX_AGE - TOLERANCE - 1 })),
      'expired',
    ],
    ['iat at the longest age', () => jws(header(), claims({ iat: NOW_S - MAX_AGE - TOLERANCE })), 'accepted'],
    ['iat in the future beyond the tolerance', () => jws(header(), claims({ iat: NOW_S + TOLERANCE + 1 })), 'invalid'],
    ['iat in the future within the tolerance', () => jws(header(), claims({ iat: NOW_S + TOLERANCE })), 'accepted'],
    ['nbf in the future', () => jws(header(), claims({ nbf: NOW_S + TOLERANCE + 1 })), 'invalid'],
    ['nbf within the tolerance', () => jws(header(), claims({ nbf: NOW_S + TOLERANCE })), 'accepted'],
    ['nbf not a number', () => jws(header(), claims({ nbf: '1' })), 'invalid'],
    ['exp not a number', () => jws(header(), claims({ exp: `${NOW_S + 600}` })), 'invalid'],
    ['iat not a number', () => jws(header(), claims({ iat: null })), 'invalid'],
    ['no exp', () => jws(header(), claims({ exp: undefined })), 'invalid'],
    ['no jti', () => jws(header(), claims({ jti: undefined })), 'invalid'],
    ['no sub', () => jws(header(), claims({ sub: undefined })), 'invalid'],
    ['another issuer', () => jws(header(), claims({ iss: 'someone-else' })), 'invalid'],
    ['no issuer', () => jws(header(), claims({ iss: undefined })), 'invalid'],
    ['another audience', () => jws(header(), claims({ aud: 'elsewhere' })), 'invalid'],
    ['an audience list without ours', () => jws(header(), claims({ aud: ['a', 'b'] })), 'invalid'],
    ['an audience of the wrong type', () => jws(header(), claims({ aud: 7 })), 'invalid'],
    ['no audience', () => jws(header(), claims({ aud: undefined })), 'invalid'],
    ['a payload that is an array', () => jws(header(), [claims()]), 'invalid'],
    ['a payload that is not JSON', () => jws(header(), 'not json'), 'invalid'],
    [
      'a payload that is not UTF-8',
      () => jws(header(), Buffer.concat([Buffer.from('{"iss":"'), Buffer.from([0xff]), Buffer.from('"}')])),
      'invalid',
    ],
    ['alg none', () => jws(header({ alg: 'none' }), claims()), 'invalid'],
    ['alg HS256', () => jws(header({ alg: 'HS256' }), claims()), 'invalid'],
    ['alg ES384', () => jws(header({ alg: 'ES384' }), claims()), 'invalid'],
    ['no alg', () => jws(header({ alg: undefined }), claims()), 'invalid'],
    ['a critical extension', () => jws(header({ crit: ['exp'], exp: 1 }), claims()), 'invalid'],
    ['an unencoded payload', () => jws(header({ crit: ['b64'], b64: false }), claims()), 'invalid'],
    ['a header that is not JSON', () => jws('nope', claims()), 'invalid'],
    ['a header that is an array', () => jws([header()], claims()), 'invalid'],
    ['a signature by another key', () => jws(header(), claims(), otherPrivateKey), 'invalid'],
    [
      'a payload changed after signing',
      () => {
        const [h, , s] = jws(header(), claims()).split('.');
        return `${h}.${b64(claims({ sub: 'user-2' }))}.${s}`;
      },
      'invalid',
    ],
    ['a signature cut short', () => jws(header(), claims()).slice(0, -4), 'invalid'],
    ['a signature with a character outside base64url', () => `${jws(header(), claims()).slice(0, -1)}*`, 'invalid'],
    ['a signature in DER form', () => derSigned(), 'invalid'],
    ['two segments', () => jws(header(), claims()).split('.').slice(0, 2).join('.'), 'invalid'],
    ['four segments', () => `${jws(header(), claims())}.x`, 'invalid'],
    ['empty', () => '', 'invalid'],
  ];

  /** A token whose signature is DER-encoded (as OpenSSL emits by default), not the JWS form. */
  const derSigned = () => {
    const input = `${b64(header())}.${b64(claims())}`;
    return `${input}.${sign('sha256', Buffer.from(input), { key: KeyObject.from(privateKey), dsaEncoding: 'der' }).toString('base64url')}`;
  };

  it.each(cases)('%s: the same outcome as jose', async (_name, make, expected) => {
    const token = await make();
    const [mine, reference] = [await ours(token), await jose(token)];
    expect(mine).toEqual(reference);
    expect(typeof mine === 'string' ? mine : 'accepted').toBe(expected);
  });

  it('accepts what jose signs, with a key imported from a JWK as the JWKS resolver gives it', async () => {
    const { SignJWT } = await import('jose');
    const token = await new SignJWT({ sid: 's', token_use: 'access' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setAudience('messenger')
      .setSubject('user-9')
      .setJti('j')
      .setIssuedAt(NOW_S - 1)
      .setExpirationTime(NOW_S + 600)
      .sign(privateKey);
    const imported = (await importJWK(await exportJWK(publicKey), 'ES256')) as CryptoKey;
    const { header: seen, payload } = await verifyEs256Jwt(token, async () => imported, {
      issuer: ISSUER,
      audience: AUDIENCE,
      requiredClaims: ['sub'],
      maxTokenAgeSeconds: MAX_AGE,
      clockToleranceSeconds: 0,
      nowMs: NOW_S * 1000,
    });
    expect(seen).toEqual({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: 'user-9', sid: 's' });
  });

  it('lets an error of the key lookup through as it is', async () => {
    const failure = new Error('keys unavailable');
    await expect(
      verifyEs256Jwt(
        jws(header(), claims()),
        async () => {
          throw failure;
        },
        {
          issuer: ISSUER,
          audience: AUDIENCE,
          requiredClaims: [],
          maxTokenAgeSeconds: MAX_AGE,
          clockToleranceSeconds: 0,
          nowMs: NOW_S * 1000,
        },
      ),
    ).rejects.toBe(failure);
  });
});
