import type { ApiCatalog } from '@messenger/platform/api-catalog';
import type { DependencyHealth } from '@messenger/platform/dependencies';
import type { EventBus } from '@messenger/platform/events';
import { type Authenticator, createGrpcServer } from '@messenger/platform/grpc';
import type { Logger } from '@messenger/platform/logger';
import type { Metrics } from '@messenger/platform/metrics';
import type { NotificationConfig } from './config.ts';
import type { Device } from './domain/device.ts';
import { createDeviceUseCases } from './domain/device-use-cases.ts';
import { createNotifier } from './domain/notifier.ts';
import { NOBODY_KNOWN_ONLINE, type Presence, type PushSender } from './domain/ports.ts';
import { chatEventsConsumer } from './events/chat-events.consumer.ts';
import { userDeletedConsumer } from './events/user-deleted.consumer.ts';
import { notificationServiceHandlers } from './grpc/notification.handlers.ts';
import type { DeviceStore } from './store/device-store.ts';

/** A started service, as the embedded runner and main.ts hold it. */
export interface RunningService {
  readonly port: number;
  /** Drains the gRPC server (in-flight calls get `graceMs`), leaves the event subscriptions, pushes what coalescing windows hold. */
  stop(graceMs: number): Promise<void>;
}

/** The service's behaviour settings, from its config. */
export interface NotificationServiceOptions {
  readonly maxDevicesPerUser: number;
  readonly allowLoopbackHttp: boolean;
  readonly coalesceWindowMs: number;
  /** Attempts per push on 429/5xx; default 4. */
  readonly maxAttempts?: number;
  /** First retry delay in ms, doubled per attempt; default 500. */
  readonly baseBackoffMs?: number;
}

export function notificationServiceOptionsOf(config: NotificationConfig): NotificationServiceOptions {
  return {
    maxDevicesPerUser: config.maxDevicesPerUser,
    allowLoopbackHttp: config.allowLoopbackHttpEndpoints,
    coalesceWindowMs: config.coalesceWindowMs,
  };
}

/** Adapters already built by the caller, who also closes them after `stop`. */
export interface NotificationServiceDeps {
  /** Devices, handled events, and the copy of members' mutes the notifier honours. */
  readonly store: DeviceStore;
  /** The push service of each device kind; a kind without one keeps its devices but is not pushed to. */
  readonly senders: Partial<Record<Device['target']['kind'], PushSender>>;
  /** The VAPID public key the Web Push sender signs with, handed to browsers. */
  readonly webPushPublicKey: string;
  /** Who is online (the chat service, `chatPresence`); default: nobody is known to be. */
  readonly presence?: Presence;
  readonly options: NotificationServiceOptions;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly catalog: ApiCatalog;
  readonly authenticator: Authenticator;
  readonly dependencies?: DependencyHealth;
}

export async function startNotificationService(
  deps: NotificationServiceDeps,
  listen: { host: string; port: number },
): Promise<RunningService> {
  const devices = createDeviceUseCases({
    store: deps.store,
    maxDevicesPerUser: deps.options.maxDevicesPerUser,
    allowLoopbackHttp: deps.options.allowLoopbackHttp,
    webPushPublicKey: deps.webPushPublicKey,
  });
  const notifier = createNotifier({
    store: deps.store,
    senders: deps.senders,
    presence: deps.presence ?? NOBODY_KNOWN_ONLINE,
    preferences: deps.store,
    coalesceWindowMs: deps.options.coalesceWindowMs,
    ...(deps.options.maxAttempts === undefined ? {} : { maxAttempts: deps.options.maxAttempts }),
    ...(deps.options.baseBackoffMs === undefined ? {} : { baseBackoffMs: deps.options.baseBackoffMs }),
    log: deps.logger.child({ component: 'notifier' }),
  });
  const server = createGrpcServer({
    name: 'notification',
    services: [notificationServiceHandlers(devices)],
    catalog: deps.catalog,
    logger: deps.logger,
    metrics: deps.metrics,
    authenticator: deps.authenticator,
    dependencies: deps.dependencies,
  });
  const subscriptions: Awaited<ReturnType<EventBus['subscribe']>>[] = [];
  const unsubscribe = () => Promise.all(subscriptions.map((sub) => sub.unsubscribe()));
  try {
    subscriptions.push(await deps.bus.subscribe(chatEventsConsumer(notifier, deps.store)));
    subscriptions.push(await deps.bus.subscribe(userDeletedConsumer(deps.store)));
    const port = await server.listen(listen.host, listen.port);
    return {
      port,
      async stop(graceMs) {
        await server.shutdown(graceMs);
        await unsubscribe();
        await notifier.stop();
      },
    };
  } catch (error) {
    await unsubscribe();
    await notifier.stop();
    throw error;
  }
}
