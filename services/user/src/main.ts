// Composition root of the user service as its own process (cluster mode):
// config → runtime (logging, metrics, event bus, trust) → store → gRPC server,
// drained on SIGTERM.
import { exitOnShutdownSignal } from '@messenger/platform/lifecycle';
import { startServiceRuntime } from '@messenger/platform/runtime';
import { startUserService } from './app.ts';
import { loadUserConfig } from './config.ts';
import { MemoryUserStore } from './store/memory/memory-user-store.ts';
import { openMongoUserStore } from './store/mongo/mongo-user-store.ts';

const config = loadUserConfig(process.env);
const runtime = await startServiceRuntime('user', config);
const { store, close: closeStore } =
  config.store === 'mongo'
    ? await openMongoUserStore(config.mongoUrl, config.mongoDatabase)
    : { store: new MemoryUserStore(), close: async () => {} };

const running = await startUserService({ ...runtime, store }, { host: config.grpcHost, port: config.grpcPort });
runtime.logger.info({ port: running.port, store: config.store, eventBus: config.eventBus }, 'user service listening');

exitOnShutdownSignal(runtime.logger, async () => {
  await running.stop(config.shutdownGraceMs);
  await runtime.close();
  await closeStore();
});
