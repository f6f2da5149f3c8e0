// The whole system in one process (`make run`): every service on its own
// loopback gRPC port, so real gRPC is exercised, with in-process stores, event
// bus and revocation list shared between them. The process holds the signing
// key ring, so service credentials are signed locally.
import {
  cachedServiceTokenSource,
  createClientPool,
  createLocalJwksSource,
  createLogger,
  createMetrics,
  createTokenAuthenticator,
  createTokenSigner,
  exitOnShutdownSignal,
  generateSigningKeyRing,
  InMemoryRevocationList,
  InProcessEventBus,
  loadMessengerCatalog,
} from '@messenger/platform';
import { grpcUserDirectory, MemoryFriendshipStore, startSubscriberService } from '@messenger/subscriber';
import { MemoryUserStore, startUserService } from '@messenger/user';
import { loadEmbeddedConfig } from './config.ts';

const config = loadEmbeddedConfig(process.env);
const base = config.user;
const logger = createLogger({ level: base.logLevel, service: 'embedded' });
const metrics = createMetrics();
const catalog = await loadMessengerCatalog();
const pool = createClientPool({ catalog, metrics, defaultDeadlineMs: base.grpcClientDeadlineMs });
const bus = new InProcessEventBus({ log: logger });
const revocations = new InMemoryRevocationList();

const ring = await generateSigningKeyRing();
const trust = {
  issuer: base.tokenIssuer,
  audience: base.tokenAudience,
  serviceAudience: base.serviceTokenAudience,
};
const signer = createTokenSigner({ ...trust, keys: ring });
const authenticator = createTokenAuthenticator({ ...trust, jwks: createLocalJwksSource(ring), revocations });
const serviceTokens = (service: string) => cachedServiceTokenSource(() => signer.signServiceToken({ service }));
const shared = { bus, metrics, catalog, authenticator };

const user = await startUserService(
  { ...shared, logger: logger.child({ service: 'user' }), store: new MemoryUserStore() },
  { host: config.user.grpcHost, port: config.user.grpcPort },
);
const subscriber = await startSubscriberService(
  {
    ...shared,
    logger: logger.child({ service: 'subscriber' }),
    store: new MemoryFriendshipStore(),
    users: grpcUserDirectory({
      pool,
      address: `${config.user.grpcHost}:${user.port}`,
      tokens: serviceTokens('subscriber'),
    }),
  },
  { host: config.subscriber.grpcHost, port: config.subscriber.grpcPort },
);

const services = [
  { name: 'subscriber', running: subscriber, host: config.subscriber.grpcHost },
  { name: 'user', running: user, host: config.user.grpcHost },
];
for (const s of [...services].reverse()) {
  process.stdout.write(`${s.name.padEnd(12)} grpc://${s.host}:${s.running.port}\n`);
}
process.stdout.write('messenger ready (embedded mode)\n');

exitOnShutdownSignal(logger, async () => {
  // Callers first, so no service loses a dependency while it drains.
  for (const s of services) await s.running.stop(base.shutdownGraceMs);
  await bus.close();
  revocations.close();
  pool.close();
});
