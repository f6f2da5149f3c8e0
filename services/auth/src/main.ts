// Composition root of the auth service as its own process (cluster mode):
// config → signing keys → runtime (bus, revocation list, authenticator) →
// store → user service client → gRPC server, drained on SIGTERM; in
// AUTH_WORKERS processes sharing the port.
import {
  cachedServiceTokenSource,
  createLocalJwksSource,
  createTokenSigner,
  generateSigningKeyRing,
  importSigningKeyRing,
} from '@messenger/platform/auth';
import {
  openServiceStore,
  requireClusterSecrets,
  runServiceWorkers,
  startServiceRuntime,
} from '@messenger/platform/runtime';
import { startAuthService } from './app.ts';
import { grpcUserProfiles } from './clients/user-profiles.client.ts';
import { authPolicyDeps, loadAuthConfig } from './config.ts';
import type { AuthStore } from './store/auth-store.ts';
import { MemoryAuthStore } from './store/memory/memory-auth-store.ts';
import { openMongoAuthStore } from './store/mongo/mongo-auth-store.ts';

const config = loadAuthConfig(process.env);
requireClusterSecrets({ AUTH_SERVICE_SECRETS: config.serviceSecrets.size > 0 });
// Generated keys are each worker's own: a token one signs fails at another's JWKS.
const perWorkerState = config.signingKeys === 'generate' ? ['AUTH_SIGNING_KEYS=generate'] : [];
await runServiceWorkers({ service: 'auth', config, perWorkerState }, async (startup) => {
  const keys =
    config.signingKeys === 'generate' ? await generateSigningKeyRing() : await importSigningKeyRing(config.signingKeys);
  // Auth verifies its own tokens from its own ring: no call to itself.
  const runtime = await startServiceRuntime('auth', config, { jwks: createLocalJwksSource(keys) });
  startup.opened(() => runtime.close());
  const { logger } = runtime;
  const signer = createTokenSigner({
    issuer: config.tokenIssuer,
    audience: config.tokenAudience,
    serviceAudience: config.serviceTokenAudience,
    keys,
  });
  const storage = await openServiceStore<AuthStore>(config, openMongoAuthStore, MemoryAuthStore);
  startup.opened(() => storage.close());

  const users = grpcUserProfiles({
    pool: runtime.pool,
    address: config.userServiceAddress,
    // Auth is the issuer of service tokens: it signs its own instead of asking itself.
    tokens: cachedServiceTokenSource(() => signer.signServiceToken({ service: 'auth' })),
  });

  if (config.signingKeys === 'generate') {
    logger.warn('AUTH_SIGNING_KEYS is not set: signing with fresh keys, so tokens do not survive a restart');
  }
  const running = await startAuthService(
    {
      ...runtime,
      store: storage.store,
      signer,
      keys,
      users,
      ...authPolicyDeps(config),
    },
    {
      host: config.grpcHost,
      port: config.grpcPort,
      tls: runtime.grpcTls,
      transport: config.grpcServerTransport,
    },
  );
  const mail = config.smtpUrl === '' ? 'links logged' : 'smtp';
  return { runtime, running, storage, fields: { providers: config.oidcProviders.map((p) => p.name), mail } };
});
