// Composition root of the auth service as its own process (cluster mode):
// config → signing keys → runtime (bus, revocation list, authenticator) →
// store → user service client → gRPC server, drained on SIGTERM.
import {
  cachedServiceTokenSource,
  createLocalJwksSource,
  createTokenSigner,
  generateSigningKeyRing,
  importSigningKeyRing,
} from '@messenger/platform/auth';
import { exitOnShutdownSignal } from '@messenger/platform/lifecycle';
import { startServiceRuntime } from '@messenger/platform/runtime';
import { startAuthService } from './app.ts';
import { grpcUserProfiles } from './clients/user-profiles.client.ts';
import { authPolicyDeps, loadAuthConfig } from './config.ts';
import type { AuthStore } from './store/auth-store.ts';
import { MemoryAuthStore } from './store/memory/memory-auth-store.ts';
import { openMongoAuthStore } from './store/mongo/mongo-auth-store.ts';

const config = loadAuthConfig(process.env);
const keys =
  config.signingKeys === 'generate' ? await generateSigningKeyRing() : await importSigningKeyRing(config.signingKeys);
// Auth verifies its own tokens from its own ring: no call to itself.
const runtime = await startServiceRuntime('auth', config, { jwks: createLocalJwksSource(keys) });
const { logger } = runtime;
const signer = createTokenSigner({
  issuer: config.tokenIssuer,
  audience: config.tokenAudience,
  serviceAudience: config.serviceTokenAudience,
  keys,
});

const { store, close: closeStore }: { store: AuthStore; close(): Promise<void> } =
  config.store === 'mongo'
    ? await openMongoAuthStore(config.mongoUrl, config.mongoDatabase)
    : { store: new MemoryAuthStore(), close: async () => {} };

const users = grpcUserProfiles({
  pool: runtime.pool,
  address: config.userServiceAddress,
  // Auth is the issuer of service tokens: it signs its own instead of asking itself.
  tokens: cachedServiceTokenSource(() => signer.signServiceToken({ service: 'auth' })),
});

if (config.signingKeys === 'generate') {
  logger.warn('AUTH_SIGNING_KEYS is not set: signing with fresh keys, so tokens do not survive a restart');
}
const devSecrets = [...config.serviceSecrets].filter(([, secret]) => secret.startsWith('dev-only-'));
if (devSecrets.length > 0) {
  logger.warn({ services: devSecrets.map(([name]) => name) }, 'development service secrets in use');
}

const running = await startAuthService(
  {
    ...runtime,
    store,
    signer,
    keys,
    users,
    ...authPolicyDeps(config),
  },
  { host: config.grpcHost, port: config.grpcPort },
);
logger.info(
  {
    port: running.port,
    store: config.store,
    eventBus: config.eventBus,
    providers: config.oidcProviders.map((p) => p.name),
    mail: config.smtpUrl === '' ? 'links logged' : 'smtp',
  },
  'auth service listening',
);

exitOnShutdownSignal(logger, async () => {
  await running.stop(config.shutdownGraceMs);
  await runtime.close();
  await closeStore();
});
