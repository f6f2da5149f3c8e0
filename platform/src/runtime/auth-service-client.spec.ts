import { randomUUID } from 'node:crypto';
import { Server, ServerCredentials, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { AuthServiceService } from '@messenger/gen/messenger/auth/v1/auth';
import { createTestAuth, TEST_AUDIENCE, TEST_ISSUER, TEST_SERVICE_AUDIENCE } from '../../testing/index.ts';
import { loadMessengerCatalog } from '../api-catalog.ts';
import { InMemoryRevocationList } from '../auth/revocation.ts';
import { createTokenAuthenticator } from '../auth/token-verifier.ts';
import { createClientPool } from '../grpc/client-pool.ts';
import { createMetrics } from '../metrics.ts';
import { authServiceJwksSource } from './auth-service-client.ts';

it('verifies tokens with keys fetched from the auth service over gRPC', async () => {
  const auth = await createTestAuth();
  // A stand-in auth service that only serves GetJwks, from the test key ring.
  const server = new Server();
  const getJwks: UntypedServiceImplementation[string] = (_call: unknown, callback: (e: null, r: unknown) => void) =>
    callback(null, { keys: auth.ring.publicJwks().keys });
  server.addService(AuthServiceService, { getJwks });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  const pool = createClientPool({
    catalog: await loadMessengerCatalog(),
    metrics: createMetrics({ defaultMetrics: false }),
    // The first call also connects; on a loaded machine that has taken over 2 s.
    defaultDeadlineMs: 10_000,
  });
  const revocations = new InMemoryRevocationList();
  try {
    const authenticator = createTokenAuthenticator({
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      serviceAudience: TEST_SERVICE_AUDIENCE,
      jwks: authServiceJwksSource(pool, `127.0.0.1:${port}`),
      revocations,
    });
    const userId = randomUUID();
    await expect(authenticator.verifyToken(await auth.userToken(userId))).resolves.toMatchObject({
      kind: 'user',
      userId,
    });
  } finally {
    revocations.close();
    pool.close();
    server.forceShutdown();
    auth.close();
  }
});
