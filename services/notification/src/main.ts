// Composition root of the notification service as its own process (cluster
// mode): config → runtime (logging, metrics, event bus, trust) → store →
// push senders → gRPC server and the event consumers, drained on
// SIGTERM; in NOTIFICATION_WORKERS processes sharing the port.
import { requireClusterSecrets, runServiceWorkers, startServiceRuntime } from '@messenger/platform/runtime';
import { notificationServiceOptionsOf, startNotificationService } from './app.ts';
import { loadNotificationConfig } from './config.ts';
import { pushSendersOf } from './push/senders.ts';
import { MemoryDeviceStore } from './store/memory/memory-device-store.ts';

const config = loadNotificationConfig(process.env);
// Browsers subscribe with the VAPID public key: a key generated per start would orphan every subscription.
if (!config.vapidGenerate) {
  requireClusterSecrets({
    NOTIFICATION_VAPID_PUBLIC_KEY: config.vapidPublicKey !== '',
    NOTIFICATION_VAPID_PRIVATE_KEY: config.vapidPrivateKey !== '',
  });
}
// Each worker has its own devices in memory: the primary's start-up warning says so.
await runServiceWorkers({ service: 'notification', config: { ...config, store: 'memory' } }, async (startup) => {
  const runtime = await startServiceRuntime('notification', config);
  startup.opened(() => runtime.close());
  const storage = { store: new MemoryDeviceStore(), close: async () => {} };
  const push = pushSendersOf(config, runtime.logger);
  const running = await startNotificationService(
    { ...runtime, store: storage.store, ...push, options: notificationServiceOptionsOf(config) },
    { host: config.grpcHost, port: config.grpcPort },
  );
  return { runtime, running, storage };
});
