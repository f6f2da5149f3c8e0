// Logout across processes: the revocation list in Redis, as in a cluster.
// Needs the test infrastructure (scripts/with-test-infra.sh, as `make test` runs it).
import { status } from '@grpc/grpc-js';
import { createLocalJwksSource } from '@messenger/platform/auth';
import { loadConfig } from '@messenger/platform/config';
import { reasonOf } from '@messenger/platform/grpc';
import { runtimeSettings, type ServiceRuntime, startServiceRuntime } from '@messenger/platform/runtime';
import { TEST_AUDIENCE, TEST_ISSUER, TEST_SERVICE_AUDIENCE } from '@messenger/platform/testing';
import { type AuthFixture, bearer, call, failure, startAuthFixture } from '../testing/auth-fixture.ts';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
  throw new Error(
    'REDIS_URL is not set. Run the tests under scripts/with-test-infra.sh, e.g. ' +
      '`scripts/with-test-infra.sh npm test -- services/auth` (after scripts/install-test-deps.sh).',
  );
}

describe('Logout with the revocation list in Redis', () => {
  const config = loadConfig(runtimeSettings, {
    LOG_LEVEL: 'silent',
    REVOCATION_STORE: 'redis',
    REDIS_URL: redisUrl,
    AUTH_TOKEN_ISSUER: TEST_ISSUER,
    AUTH_TOKEN_AUDIENCE: TEST_AUDIENCE,
    AUTH_SERVICE_TOKEN_AUDIENCE: TEST_SERVICE_AUDIENCE,
  });
  let authRuntime: ServiceRuntime;
  let gatewayRuntime: ServiceRuntime;
  let f: AuthFixture;

  beforeAll(async () => {
    // Auth's own connection to Redis, and another process's (the gateway's, say).
    authRuntime = await startServiceRuntime('auth', config);
    f = await startAuthFixture({ revocations: authRuntime.revocations });
    gatewayRuntime = await startServiceRuntime('api-gateway', config, { jwks: createLocalJwksSource(f.auth.ring) });
  });
  afterAll(async () => {
    await f?.close();
    await authRuntime?.close();
    await gatewayRuntime?.close();
  });

  it('makes the access token unusable at once for a verifier in another process', async () => {
    const who = f.unique('redis');
    const registered = await call(f.client, f.client.register, { ...who, password: 'redis password' });
    const token = registered.tokens?.accessToken ?? '';
    await expect(gatewayRuntime.authenticator.verifyAccessToken(token)).resolves.toMatchObject({
      userId: registered.user?.userId,
    });
    await call(f.client, f.client.logout, { allSessions: false }, bearer(f, registered.tokens));
    await expect(gatewayRuntime.authenticator.verifyAccessToken(token)).rejects.toMatchObject({
      reason: 'TOKEN_REVOKED',
    });
    const again = await failure(call(f.client, f.client.logout, { allSessions: false }, bearer(f, registered.tokens)));
    expect([again.code, reasonOf(again)]).toEqual([status.UNAUTHENTICATED, 'TOKEN_REVOKED']);
  });
});
