// Composition root of the chat service as its own process (cluster mode):
// config → runtime (logging, metrics, event bus, trust) → store → user and
// subscriber clients → gRPC server, drained on SIGTERM.
import { exitOnShutdownSignal } from '@messenger/platform/lifecycle';
import { startServiceRuntime } from '@messenger/platform/runtime';
import { startChatService } from './app.ts';
import { grpcFriendshipChecker } from './clients/friendship-checker.client.ts';
import { grpcUserProfiles } from './clients/user-profiles.client.ts';
import { chatServiceOptionsOf, loadChatConfig } from './config.ts';
import { MemoryChatStore } from './store/memory/memory-chat-store.ts';
import { openMongoChatStore } from './store/mongo/mongo-chat-store.ts';

const config = loadChatConfig(process.env);
const runtime = await startServiceRuntime('chat', config);
const { store, close: closeStore } =
  config.store === 'mongo'
    ? await openMongoChatStore(config.mongoUrl, config.mongoDatabase)
    : { store: new MemoryChatStore(), close: async () => {} };

const tokens = runtime.serviceTokens('chat', config.serviceSecret);
const running = await startChatService(
  {
    ...runtime,
    store,
    users: grpcUserProfiles({ pool: runtime.pool, address: config.userServiceAddress, tokens }),
    friends: grpcFriendshipChecker({ pool: runtime.pool, address: config.subscriberServiceAddress, tokens }),
    options: chatServiceOptionsOf(config),
  },
  { host: config.grpcHost, port: config.grpcPort },
);
runtime.logger.info({ port: running.port, store: config.store, eventBus: config.eventBus }, 'chat service listening');

exitOnShutdownSignal(runtime.logger, async () => {
  await running.stop(config.shutdownGraceMs);
  await runtime.close();
  await closeStore();
});
