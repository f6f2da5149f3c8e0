// Composition root of the notification service as its own process (cluster
// mode): config → runtime (logging, metrics, event bus, trust) → store →
// push senders and the chat service's presence → gRPC server and the event consumers, drained on
// SIGTERM; in NOTIFICATION_WORKERS processes sharing the port.
import { requireClusterSecrets, runServiceWorkers, startServiceRuntime } from '@messenger/platform/runtime';
import { notificationServiceOptionsOf, startNotificationService } from './app.ts';
import { chatPresence } from './clients/chat-presence.client.ts';
import { loadNotificationConfig } from './config.ts';
import { pushSendersOf } from './push/senders.ts';
import { MemoryDeviceStore } from './store/memory/memory-device-store.ts';

const config = loadNotificationConfig(process.env);
// Browsers subscribe with the VAPID public key: a key generated per start would orphan every subscription.
requireClusterSecrets({
  // Its own credential for GetOnlineUsers on the chat service.
  NOTIFICATION_SERVICE_SECRET: config.serviceSecret !== '',
  ...(config.vapidGenerate
    ? {}
    : {
        NOTIFICATION_VAPID_PUBLIC_KEY: config.vapidPublicKey !== '',
        NOTIFICATION_VAPID_PRIVATE_KEY: config.vapidPrivateKey !== '',
      }),
});
// Each worker has its own devices in memory: the primary's start-up warning says so.
await runServiceWorkers({ service: 'notification', config: { ...config, store: 'memory' } }, async (startup) => {
  const runtime = await startServiceRuntime('notification', config);
  startup.opened(() => runtime.close());
  const storage = { store: new MemoryDeviceStore(), close: async () => {} };
  const push = pushSendersOf(config, runtime.logger);
  const presence = chatPresence({
    pool: runtime.pool,
    address: config.chatServiceAddress,
    tokens: runtime.serviceTokens('notification', config.serviceSecret),
    timeoutMs: config.presenceTimeoutMs,
    log: runtime.logger.child({ component: 'presence' }),
  });
  const running = await startNotificationService(
    { ...runtime, store: storage.store, ...push, presence, options: notificationServiceOptionsOf(config) },
    { host: config.grpcHost, port: config.grpcPort },
  );
  return { runtime, running, storage };
});
