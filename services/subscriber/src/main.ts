// Composition root of the subscriber service as its own process (cluster mode):
// config → runtime (logging, metrics, event bus, trust) → store → user
// directory → gRPC server, drained on SIGTERM; in SUBSCRIBER_WORKERS processes
// sharing the port.
import {
  openServiceStore,
  requireClusterSecrets,
  runServiceWorkers,
  startServiceRuntime,
} from '@messenger/platform/runtime';
import { startSubscriberService } from './app.ts';
import { grpcUserDirectory } from './clients/user-directory.client.ts';
import { loadSubscriberConfig } from './config.ts';
import type { FriendshipStore } from './store/friendship-store.ts';
import { MemoryFriendshipStore } from './store/memory/memory-friendship-store.ts';
import { openMongoFriendshipStore } from './store/mongo/mongo-friendship-store.ts';

const config = loadSubscriberConfig(process.env);
requireClusterSecrets({ SUBSCRIBER_SERVICE_SECRET: config.serviceSecret !== '' });
await runServiceWorkers({ service: 'subscriber', config }, async (startup) => {
  const runtime = await startServiceRuntime('subscriber', config);
  startup.opened(() => runtime.close());
  const storage = await openServiceStore<FriendshipStore>(config, openMongoFriendshipStore, MemoryFriendshipStore);
  startup.opened(() => storage.close());
  const users = grpcUserDirectory({
    pool: runtime.pool,
    address: config.userServiceAddress,
    tokens: runtime.serviceTokens('subscriber', config.serviceSecret),
  });
  const running = await startSubscriberService(
    { ...runtime, store: storage.store, users },
    {
      host: config.grpcHost,
      port: config.grpcPort,
      tls: runtime.grpcTls,
      transport: config.grpcServerTransport,
    },
  );
  return { runtime, running, storage };
});
