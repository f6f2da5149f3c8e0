import type { ApiCatalog } from '@messenger/platform/api-catalog';
import type { DependencyHealth } from '@messenger/platform/dependencies';
import { type EventBus, startOutboxRelay } from '@messenger/platform/events';
import { type Authenticator, createGrpcServer, type GrpcListen } from '@messenger/platform/grpc';
import type { Logger } from '@messenger/platform/logger';
import type { Metrics } from '@messenger/platform/metrics';
import { createFriendshipUseCases } from './domain/friendship-use-cases.ts';
import type { UserDirectory } from './domain/user-directory.ts';
import { friendshipEventEntry } from './events/friendship-events.ts';
import { userDeletedConsumer } from './events/user-deleted.consumer.ts';
import { subscriberServiceHandlers } from './grpc/subscriber.handlers.ts';
import { type FriendshipStore, withEventEncoding } from './store/friendship-store.ts';

/** A started service, as the embedded runner and main.ts hold it. */
export interface RunningService {
  readonly port: number;
  /** Drains the gRPC server (in-flight calls get `graceMs`), leaves the event subscription, stops the outbox relay. */
  stop(graceMs: number): Promise<void>;
}

/** Adapters already built by the caller, who also closes them after `stop`. */
export interface SubscriberServiceDeps {
  readonly store: FriendshipStore;
  /** Whether a user exists: the user service, over gRPC, in production. */
  readonly users: UserDirectory;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly catalog: ApiCatalog;
  readonly authenticator: Authenticator;
  /** Whether its datastore and event bus allow serving (readiness); absent, health reflects the process alone. */
  readonly dependencies?: DependencyHealth;
}

export async function startSubscriberService(
  deps: SubscriberServiceDeps,
  /** `tls`: serve TLS only (GRPC_TLS_*); absent, plaintext. */
  listen: GrpcListen,
): Promise<RunningService> {
  const relay = startOutboxRelay({
    source: deps.store.outbox,
    bus: deps.bus,
    log: deps.logger.child({ component: 'outbox-relay' }),
    metrics: { registry: deps.metrics.registry, service: 'subscriber' },
  });
  // The store's outbox wakes the relay when a write commits events: the use cases need not.
  const friendships = createFriendshipUseCases({
    store: withEventEncoding(deps.store, friendshipEventEntry),
    users: deps.users,
  });
  const server = createGrpcServer({
    name: 'subscriber',
    services: [subscriberServiceHandlers(friendships)],
    catalog: deps.catalog,
    logger: deps.logger,
    metrics: deps.metrics,
    authenticator: deps.authenticator,
    dependencies: deps.dependencies,
    tls: listen.tls,
    transport: listen.transport,
  });
  let subscription: Awaited<ReturnType<EventBus['subscribe']>> | undefined;
  try {
    subscription = await deps.bus.subscribe(userDeletedConsumer(friendships));
    const port = await server.listen(listen.host, listen.port);
    return {
      port,
      async stop(graceMs) {
        await server.shutdown(graceMs);
        await subscription?.unsubscribe();
        await relay.stop();
      },
    };
  } catch (error) {
    await subscription?.unsubscribe();
    await relay.stop();
    throw error;
  }
}
