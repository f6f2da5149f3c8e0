// What the embedded runner needs to start the notification service in its own process.
export {
  type NotificationServiceDeps,
  notificationServiceOptionsOf,
  type RunningService,
  startNotificationService,
} from './app.ts';
export { chatPresence } from './clients/chat-presence.client.ts';
export { loadNotificationConfig, type NotificationConfig, notificationSettings } from './config.ts';
export { pushSendersOf } from './push/senders.ts';
export type { DeviceStore } from './store/device-store.ts';
export { MemoryDeviceStore } from './store/memory/memory-device-store.ts';
export { SqliteDeviceStore } from './store/sqlite/sqlite-device-store.ts';
