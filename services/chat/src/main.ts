// Composition root of the chat service as its own process (cluster mode):
// config → runtime (logging, metrics, event bus, trust) → store → user and
// subscriber clients → gRPC server, drained on SIGTERM; in CHAT_WORKERS
// processes sharing the port.
import { openMediaStore } from '@messenger/platform/blob';
import {
  openServiceStore,
  requireClusterSecrets,
  runServiceWorkers,
  startServiceRuntime,
} from '@messenger/platform/runtime';
import { startChatService } from './app.ts';
import { grpcFriendshipChecker } from './clients/friendship-checker.client.ts';
import { grpcUserProfiles } from './clients/user-profiles.client.ts';
import { chatServiceOptionsOf, loadChatConfig } from './config.ts';
import { RedisPresenceRegistry } from './presence/redis-presence-registry.ts';
import type { ChatStore } from './store/chat-store.ts';
import { MemoryChatStore } from './store/memory/memory-chat-store.ts';
import { openMongoChatStore } from './store/mongo/mongo-chat-store.ts';

const config = loadChatConfig(process.env);
requireClusterSecrets({ CHAT_SERVICE_SECRET: config.serviceSecret !== '' });
await runServiceWorkers({ service: 'chat', config }, async (startup) => {
  const runtime = await startServiceRuntime('chat', config);
  startup.opened(() => runtime.close());
  const storage = await openServiceStore<ChatStore>(config, openMongoChatStore, MemoryChatStore);
  startup.opened(() => storage.close());
  const media = openMediaStore(config);
  startup.opened(async () => media.close());
  const tokens = runtime.serviceTokens('chat', config.serviceSecret);
  const running = await startChatService(
    {
      ...runtime,
      store: storage.store,
      users: grpcUserProfiles({ pool: runtime.pool, address: config.userServiceAddress, tokens }),
      friends: grpcFriendshipChecker({ pool: runtime.pool, address: config.subscriberServiceAddress, tokens }),
      options: chatServiceOptionsOf(config),
      media,
      // With Redis every chat process (replica or worker) sees every stream; without it, only its own.
      ...(runtime.redis ? { presence: new RedisPresenceRegistry({ redis: runtime.redis }) } : {}),
    },
    {
      host: config.grpcHost,
      port: config.grpcPort,
      tls: runtime.grpcTls,
      transport: config.grpcServerTransport,
    },
  );
  const close = async () => {
    await storage.close();
    media.close();
  };
  return { runtime, running, storage: { ...(storage.probe ? { probe: storage.probe } : {}), close } };
});
