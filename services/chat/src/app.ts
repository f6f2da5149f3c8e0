import type { ApiCatalog } from '@messenger/platform/api-catalog';
import type { BlobStore } from '@messenger/platform/blob';
import type { DependencyHealth } from '@messenger/platform/dependencies';
import { type EventBus, type SubscriptionHandle, startOutboxRelay } from '@messenger/platform/events';
import { type Authenticator, createGrpcServer, type GrpcListen } from '@messenger/platform/grpc';
import type { Logger } from '@messenger/platform/logger';
import type { Metrics } from '@messenger/platform/metrics';
import { createChatUseCases } from './domain/chat-use-cases.ts';
import type { FriendshipChecker, UserProfiles } from './domain/directories.ts';
import {
  createPresenceUseCases,
  PRESENCE_GRACE_MS,
  PRESENCE_LEASE_HEARTBEATS,
  type PresenceRegistry,
  presenceTracker,
} from './domain/presence.ts';
import { pacedReadReceipts } from './domain/read-receipts.ts';
import { createTypingUseCases } from './domain/typing.ts';
import type { ChatLimits } from './domain/use-case-context.ts';
import { chatEventEntry } from './events/chat-events.ts';
import { liveUpdatesConsumer } from './events/live-updates.consumer.ts';
import type { LiveUpdate } from './events/live-updates.ts';
import { busPresenceSignals } from './events/presence-signals.ts';
import { busReadReceipts } from './events/read-receipts.ts';
import { sessionRevocationsConsumer } from './events/session-revocations.consumer.ts';
import { busTypingSignals, EPHEMERAL_TOPIC, ephemeralUpdatesConsumer } from './events/typing-signals.ts';
import { userEventsConsumer } from './events/user-events.consumer.ts';
import { chatServiceHandlers } from './grpc/chat.handlers.ts';
import { SessionEnds } from './live/session-ends.ts';
import { UpdateHub, type UpdateHubOptions } from './live/update-hub.ts';
import { startAttachmentCollector } from './media/attachment-collector.ts';
import { blobMediaContent } from './media/media-content.ts';
import { MemoryPresenceRegistry } from './presence/memory-presence-registry.ts';
import { type ChatStore, withEventEncoding } from './store/chat-store.ts';

/** A started service, as the embedded runner and main.ts hold it. */
export interface RunningService {
  readonly port: number;
  /**
   * Ends the live-updates streams (clients resume elsewhere), drains the gRPC
   * server (in-flight calls get `graceMs`), leaves the event subscriptions,
   * stops the outbox relay.
   */
  stop(graceMs: number): Promise<void>;
}

/** Tunables; every one has a default (config.ts reads them from the environment). */
export interface ChatServiceOptions {
  readonly limits?: Partial<ChatLimits>;
  /** Default 20 000. */
  readonly heartbeatIntervalMs?: number;
  /** The resume window and the slow-reader bound of live-updates streams. */
  readonly updates?: Pick<UpdateHubOptions, 'windowPerPartition' | 'windowMaxAgeMs' | 'queueLimit'>;
  /** How often the outbox relay looks for events written by another replica (default 500). */
  readonly relayPollIntervalMs?: number;
  /** In a group, at most one read receipt per member and chat per interval (default 2000). */
  readonly readReceiptGroupIntervalMs?: number;
  /** A user stays online this long after their last stream closed (default 10 000). */
  readonly presenceGraceMs?: number;
  /** How often the attachment collector runs (default 600 000). */
  readonly attachmentGcIntervalMs?: number;
}

/** Adapters already built by the caller, who also closes them after `stop`. */
export interface ChatServiceDeps {
  readonly store: ChatStore;
  /** Who exists, with their profiles: the user service, over gRPC, in production. */
  readonly users: UserProfiles;
  /** Who are friends: the subscriber service, over gRPC, in production. */
  readonly friends: FriendshipChecker;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly catalog: ApiCatalog;
  readonly authenticator: Authenticator;
  /** Whether its datastore and event bus allow serving (readiness); absent, health reflects the process alone. */
  readonly dependencies?: DependencyHealth;
  readonly options?: ChatServiceOptions;
  /** Who holds live streams: shared by every chat process (Redis) in a cluster; absent, this process alone. */
  readonly presence?: PresenceRegistry;
  /** The media store the gateway keeps attachments in; absent, uploads cannot complete and nothing is collected. */
  readonly media?: BlobStore;
}

export async function startChatService(
  deps: ChatServiceDeps,
  /** `tls`: serve TLS only (GRPC_TLS_*); absent, plaintext. */
  listen: GrpcListen,
): Promise<RunningService> {
  const options = deps.options ?? {};
  const relay = startOutboxRelay({
    source: deps.store.outbox,
    bus: deps.bus,
    log: deps.logger.child({ component: 'outbox-relay' }),
    metrics: { registry: deps.metrics.registry, service: 'chat' },
    ...(options.relayPollIntervalMs === undefined ? {} : { pollIntervalMs: options.relayPollIntervalMs }),
  });
  const readReceipts = pacedReadReceipts(
    busReadReceipts(deps.bus, EPHEMERAL_TOPIC, deps.logger.child({ component: 'read-receipts' })),
    options.readReceiptGroupIntervalMs,
  );
  const media = deps.media && blobMediaContent(deps.media);
  const chats = createChatUseCases({
    store: withEventEncoding(deps.store, chatEventEntry),
    users: deps.users,
    friends: deps.friends,
    ...(options.limits ? { limits: options.limits } : {}),
    readReceipts,
    ...(media ? { media } : {}),
  });
  const collector =
    media &&
    startAttachmentCollector({
      store: withEventEncoding(deps.store, chatEventEntry),
      media,
      intervalMs: options.attachmentGcIntervalMs ?? 600_000,
      log: deps.logger.child({ component: 'attachment-collector' }),
    });
  const typing = createTypingUseCases({
    store: withEventEncoding(deps.store, chatEventEntry),
    users: deps.users,
    friends: deps.friends,
    signals: busTypingSignals(deps.bus, deps.logger.child({ component: 'typing' })),
  });
  const hub = new UpdateHub<LiveUpdate>(options.updates);
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 20_000;
  const presenceLog = deps.logger.child({ component: 'presence' });
  const registry = deps.presence ?? new MemoryPresenceRegistry();
  const failed = (error: unknown) => presenceLog.warn({ err: error }, 'presence not updated');
  const presence = createPresenceUseCases({
    store: deps.store,
    friends: deps.friends,
    registry,
    signals: busPresenceSignals(deps.bus, EPHEMERAL_TOPIC, presenceLog),
    graceMs: options.presenceGraceMs ?? PRESENCE_GRACE_MS,
    failed,
  });
  const tracker = presenceTracker({
    registry,
    graceMs: options.presenceGraceMs ?? PRESENCE_GRACE_MS,
    // Refreshed every heartbeat interval, a lease survives two missed refreshes; a crashed replica's expire within three.
    leaseMs: PRESENCE_LEASE_HEARTBEATS * heartbeatIntervalMs,
    changed: (change) => void presence.changed(change).catch(failed),
    failed,
  });
  const refreshing = setInterval(() => void tracker.refresh(), heartbeatIntervalMs);
  refreshing.unref();
  const sessions = new SessionEnds();
  const server = createGrpcServer({
    name: 'chat',
    services: [
      chatServiceHandlers(chats, hub, sessions, { heartbeatIntervalMs }, typing, { tracker, useCases: presence }),
    ],
    catalog: deps.catalog,
    logger: deps.logger,
    metrics: deps.metrics,
    authenticator: deps.authenticator,
    dependencies: deps.dependencies,
    tls: listen.tls,
    transport: listen.transport,
  });
  const subscriptions: SubscriptionHandle[] = [];
  const leave = async () => {
    await Promise.all(subscriptions.map((s) => s.unsubscribe()));
  };
  try {
    // Live updates first: a stream may open as soon as the server listens.
    subscriptions.push(await deps.bus.subscribe(liveUpdatesConsumer(hub)));
    subscriptions.push(await deps.bus.subscribe(ephemeralUpdatesConsumer(hub)));
    subscriptions.push(await deps.bus.subscribe(userEventsConsumer(chats)));
    subscriptions.push(
      await deps.bus.subscribe(sessionRevocationsConsumer(sessions, deps.logger.child({ component: 'sessions' }))),
    );
    const port = await server.listen(listen.host, listen.port);
    return {
      port,
      async stop(graceMs) {
        // Streams never end on their own: end them so the drain is not held up by them.
        hub.close();
        await server.shutdown(graceMs);
        await leave();
        await relay.stop();
        readReceipts.close();
        clearInterval(refreshing);
        tracker.close();
        await collector?.stop();
      },
    };
  } catch (error) {
    await collector?.stop();
    hub.close();
    readReceipts.close();
    clearInterval(refreshing);
    tracker.close();
    await leave();
    await relay.stop();
    throw error;
  }
}
