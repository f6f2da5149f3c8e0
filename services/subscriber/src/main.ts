// Composition root of the subscriber service as its own process (cluster mode):
// config → runtime (logging, metrics, event bus, trust) → store → user
// directory → gRPC server, drained on SIGTERM.
import { exitOnShutdownSignal } from '@messenger/platform/lifecycle';
import { startServiceRuntime } from '@messenger/platform/runtime';
import { startSubscriberService } from './app.ts';
import { grpcUserDirectory } from './clients/user-directory.client.ts';
import { loadSubscriberConfig } from './config.ts';
import { MemoryFriendshipStore } from './store/memory/memory-friendship-store.ts';
import { openMongoFriendshipStore } from './store/mongo/mongo-friendship-store.ts';

const config = loadSubscriberConfig(process.env);
const runtime = await startServiceRuntime('subscriber', config);
const { store, close: closeStore } =
  config.store === 'mongo'
    ? await openMongoFriendshipStore(config.mongoUrl, config.mongoDatabase)
    : { store: new MemoryFriendshipStore(), close: async () => {} };

const users = grpcUserDirectory({
  pool: runtime.pool,
  address: config.userServiceAddress,
  tokens: runtime.serviceTokens('subscriber', config.serviceSecret),
});

const running = await startSubscriberService(
  { ...runtime, store, users },
  { host: config.grpcHost, port: config.grpcPort },
);
runtime.logger.info(
  { port: running.port, store: config.store, eventBus: config.eventBus },
  'subscriber service listening',
);

exitOnShutdownSignal(runtime.logger, async () => {
  await running.stop(config.shutdownGraceMs);
  await runtime.close();
  await closeStore();
});
