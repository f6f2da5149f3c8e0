// Composition root of the notification service as its own process (cluster
// mode): config → runtime (logging, metrics, event bus, trust) → store (NOTIFICATION_STORE) →
// push senders and the chat service's presence → gRPC server and the event consumers, drained on
// SIGTERM; in NOTIFICATION_WORKERS processes sharing the port.
import {
  openServiceStore,
  requireClusterSecrets,
  runServiceWorkers,
  startServiceRuntime,
} from '@messenger/platform/runtime';
import { notificationServiceOptionsOf, startNotificationService } from './app.ts';
import { chatPresence } from './clients/chat-presence.client.ts';
import { loadNotificationConfig } from './config.ts';
import { pushSendersOf } from './push/senders.ts';
import type { DeviceStore } from './store/device-store.ts';
import { MemoryDeviceStore } from './store/memory/memory-device-store.ts';
import { openMongoDeviceStore } from './store/mongo/mongo-device-store.ts';

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
await runServiceWorkers({ service: 'notification', config }, async (startup) => {
  const runtime = await startServiceRuntime('notification', config);
  startup.opened(() => runtime.close());
  const storage = await openServiceStore<DeviceStore>(config, openMongoDeviceStore, MemoryDeviceStore);
  startup.opened(() => storage.close());
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
