// Around a token's expiry the gateway answers the same whether it remembers
// the token's verification or verifies it afresh: accepted until `exp` plus
// the verifier's clock tolerance, then TOKEN_EXPIRED on either path.
import {
  createLocalJwksSource,
  createTokenAuthenticator,
  createTokenSigner,
  generateSigningKeyRing,
  InMemoryRevocationList,
} from '@messenger/platform/auth';
import { type GatewayFixture, startGateway, type TestAuth, TRUST } from './fixture.ts';

const TOLERANCE_SECONDS = 30;

/** Test auth whose verifier (and the gateway's token cache) read `clock`, and whose tokens are signed at `signedAt`. */
async function authAt(clock: () => number, signedAt: () => number): Promise<TestAuth> {
  const ring = await generateSigningKeyRing();
  const signer = createTokenSigner({ ...TRUST, keys: ring, now: signedAt });
  const revocations = new InMemoryRevocationList();
  const verifier = createTokenAuthenticator({
    ...TRUST,
    jwks: createLocalJwksSource(ring),
    revocations,
    clockToleranceSeconds: TOLERANCE_SECONDS,
    now: clock,
  });
  return {
    verifier,
    revocations,
    token: async (userId, opts = {}) =>
      (await signer.signAccessToken({ userId, sessionId: `s-${userId}`, roles: [], ttlSeconds: opts.ttlSeconds }))
        .token,
  };
}

async function start(auth: TestAuth, now?: () => number): Promise<GatewayFixture> {
  return startGateway({ testAuth: auth, auth: { verifier: auth.verifier, revocations: auth.revocations, now } });
}

async function listContacts(base: string, authorization: string) {
  const res = await fetch(`${base}/v1/contacts`, { headers: { authorization } });
  return { status: res.status, body: (await res.json()) as { details?: { reason?: string }[] } };
}

async function listening(fx: GatewayFixture): Promise<string> {
  await fx.app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(fx.app.server.address() as { port: number }).port}`;
}

describe('a token past its exp but within the clock tolerance', () => {
  let fx: GatewayFixture;
  let base: string;
  let auth: TestAuth;
  beforeAll(async () => {
    // Signed 65 s ago for 60 s: expired 5 s ago, well within the tolerance.
    auth = await authAt(Date.now, () => Date.now() - 65_000);
    fx = await start(auth);
    base = await listening(fx);
  });
  afterAll(async () => {
    await fx.close();
    auth.revocations.close();
  });

  it('is accepted on every request, remembered or not', async () => {
    const authorization = `Bearer ${await auth.token('u-tolerated', { ttlSeconds: 60 })}`;
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await listContacts(base, authorization)).status);
    expect(statuses).toEqual([200, 200, 200, 200]);
  });
});

describe('a remembered token once past the clock tolerance', () => {
  let fx: GatewayFixture;
  let base: string;
  let auth: TestAuth;
  let offsetMs = 0;
  const clock = () => Date.now() + offsetMs;
  beforeAll(async () => {
    auth = await authAt(clock, Date.now);
    fx = await start(auth, clock);
    base = await listening(fx);
  });
  afterAll(async () => {
    await fx.close();
    auth.revocations.close();
  });

  it('is refused as TOKEN_EXPIRED, the verifier’s reason, like a token seen for the first time', async () => {
    const token = await auth.token('u-expiring', { ttlSeconds: 60 });
    const remembered = `Bearer ${token}`;
    expect((await listContacts(base, remembered)).status).toBe(200);

    offsetMs = (60 + TOLERANCE_SECONDS - 5) * 1000;
    expect((await listContacts(base, remembered)).status).toBe(200);

    offsetMs = (60 + TOLERANCE_SECONDS + 5) * 1000;
    const fromCache = await listContacts(base, remembered);
    // The same token in a header spelled otherwise is not remembered: verified afresh.
    const fresh = await listContacts(base, `bearer ${token}`);
    expect(fromCache.status).toBe(401);
    expect(fresh.status).toBe(401);
    expect(fromCache.body.details?.[0]?.reason).toBe('TOKEN_EXPIRED');
    expect(fresh.body.details?.[0]?.reason).toBe('TOKEN_EXPIRED');
  });
});
