// A signed-in caller for the benches that call the gRPC upstream directly:
// a fresh signing key ring (its private JWKS is what the upstream verifies
// with, BENCH_JWKS) and one user's access token.
import { randomUUID } from 'node:crypto';
import { createTokenSigner, generateSigningKeyRing } from '@messenger/platform/auth';

const TRUST = { issuer: 'messenger-auth', audience: 'messenger', serviceAudience: 'messenger-internal' };

export interface BenchCaller {
  readonly userId: string;
  readonly token: string;
  /** The ring's private JWKS, for the upstream's BENCH_JWKS. */
  readonly jwks: string;
}

export async function benchCaller(): Promise<BenchCaller> {
  const ring = await generateSigningKeyRing();
  const signer = createTokenSigner({ ...TRUST, keys: ring });
  const userId = randomUUID();
  const { token } = await signer.signAccessToken({ userId, sessionId: randomUUID(), roles: [], ttlSeconds: 900 });
  return { userId, token, jwks: await ring.exportPrivateJwks() };
}
