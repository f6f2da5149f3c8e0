// Composition root of the user service as its own process (cluster mode):
// config → runtime (logging, metrics, event bus, trust) → store → gRPC server,
// drained on SIGTERM; in USER_WORKERS processes sharing the port.
import { openServiceStore, runServiceWorkers, startServiceRuntime } from '@messenger/platform/runtime';
import { startUserService } from './app.ts';
import { loadUserConfig } from './config.ts';
import { MemoryUserStore } from './store/memory/memory-user-store.ts';
import { openMongoUserStore } from './store/mongo/mongo-user-store.ts';
import type { UserStore } from './store/user-store.ts';

const config = loadUserConfig(process.env);
await runServiceWorkers({ service: 'user', config }, async (startup) => {
  const runtime = await startServiceRuntime('user', config);
  startup.opened(() => runtime.close());
  const storage = await openServiceStore<UserStore>(config, openMongoUserStore, MemoryUserStore);
  startup.opened(() => storage.close());
  const running = await startUserService(
    { ...runtime, store: storage.store },
    {
      host: config.grpcHost,
      port: config.grpcPort,
      tls: runtime.grpcTls,
      transport: config.grpcServerTransport,
    },
  );
  return { runtime, running, storage };
});
