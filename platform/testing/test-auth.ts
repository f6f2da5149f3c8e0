// Real credentials for tests: a freshly generated key ring, the real signer
// and the real verifier over it, so tests exercise the same token checks as
// production instead of a stand-in authenticator.
import type { Metadata } from '@grpc/grpc-js';
import {
  cachedServiceTokenSource,
  createLocalJwksSource,
  createTokenAuthenticator,
  createTokenSigner,
  generateSigningKeyRing,
  InMemoryRevocationList,
  type ServiceTokenSource,
  type SigningKeyRing,
  type TokenAuthenticator,
  type TokenSigner,
} from '@messenger/platform/auth';
import { outgoingMetadata } from '@messenger/platform/grpc';

export const TEST_ISSUER = 'messenger-auth';
export const TEST_AUDIENCE = 'messenger';
export const TEST_SERVICE_AUDIENCE = 'messenger-internal';

export interface TestAuth {
  readonly ring: SigningKeyRing;
  readonly signer: TokenSigner;
  readonly authenticator: TokenAuthenticator;
  readonly revocations: InMemoryRevocationList;
  /** An access token for `userId` (a new session each time). */
  userToken(userId: string, roles?: readonly string[]): Promise<string>;
  /** A service token for `service`, e.g. `auth`. */
  serviceToken(service: string): Promise<string>;
  /** A source of service tokens for `service`, as a calling service holds one. */
  serviceTokenSource(service: string): ServiceTokenSource;
  /** Call metadata carrying `Authorization: Bearer <token>`. */
  bearer(token: string): Metadata;
  /** Stops the revocation list's sweep timer. */
  close(): void;
}

export async function createTestAuth(): Promise<TestAuth> {
  const ring = await generateSigningKeyRing();
  const signer = createTokenSigner({
    issuer: TEST_ISSUER,
    audience: TEST_AUDIENCE,
    serviceAudience: TEST_SERVICE_AUDIENCE,
    keys: ring,
  });
  const revocations = new InMemoryRevocationList();
  const authenticator = createTokenAuthenticator({
    issuer: TEST_ISSUER,
    audience: TEST_AUDIENCE,
    serviceAudience: TEST_SERVICE_AUDIENCE,
    jwks: createLocalJwksSource(ring),
    revocations,
  });
  let sessions = 0;
  return {
    ring,
    signer,
    authenticator,
    revocations,
    userToken: async (userId, roles = []) =>
      (await signer.signAccessToken({ userId, sessionId: `test-session-${++sessions}`, roles })).token,
    serviceToken: async (service) => (await signer.signServiceToken({ service })).token,
    serviceTokenSource: (service) => cachedServiceTokenSource(() => signer.signServiceToken({ service })),
    bearer: (token) => outgoingMetadata(`test-${Date.now()}`, token),
    close: () => revocations.close(),
  };
}
