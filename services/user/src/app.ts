import type { ApiCatalog } from '@messenger/platform/api-catalog';
import type { DependencyHealth } from '@messenger/platform/dependencies';
import { type EventBus, startOutboxRelay } from '@messenger/platform/events';
import { type Authenticator, createGrpcServer, type GrpcListen } from '@messenger/platform/grpc';
import type { Logger } from '@messenger/platform/logger';
import type { Metrics } from '@messenger/platform/metrics';
import { createUserUseCases } from './domain/user-use-cases.ts';
import { userEventEntry } from './events/user-events.ts';
import { userServiceHandlers } from './grpc/user.handlers.ts';
import { type UserStore, withEventEncoding } from './store/user-store.ts';

/** A started service, as the embedded runner and main.ts hold it. */
export interface RunningService {
  readonly port: number;
  /** Drains the gRPC server (in-flight calls get `graceMs`), then stops the outbox relay. */
  stop(graceMs: number): Promise<void>;
}

/** Adapters already built by the caller, who also closes them after `stop`. */
export interface UserServiceDeps {
  readonly store: UserStore;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly catalog: ApiCatalog;
  readonly authenticator: Authenticator;
  /** Whether its datastore and event bus allow serving (readiness); absent, health reflects the process alone. */
  readonly dependencies?: DependencyHealth;
  /** How often the outbox relay looks for events written by another replica (default 500). */
  readonly relayPollIntervalMs?: number;
}

export async function startUserService(
  deps: UserServiceDeps,
  /** `tls`: serve TLS only (GRPC_TLS_*); absent, plaintext. */
  listen: GrpcListen,
): Promise<RunningService> {
  const relay = startOutboxRelay({
    source: deps.store.outbox,
    bus: deps.bus,
    log: deps.logger.child({ component: 'outbox-relay' }),
    metrics: { registry: deps.metrics.registry, service: 'user' },
    ...(deps.relayPollIntervalMs === undefined ? {} : { pollIntervalMs: deps.relayPollIntervalMs }),
  });
  // The store's outbox wakes the relay when a write commits events: the use cases need not.
  const users = createUserUseCases({ store: withEventEncoding(deps.store, userEventEntry) });
  const server = createGrpcServer({
    name: 'user',
    services: [userServiceHandlers(users)],
    catalog: deps.catalog,
    logger: deps.logger,
    metrics: deps.metrics,
    authenticator: deps.authenticator,
    dependencies: deps.dependencies,
    tls: listen.tls,
    transport: listen.transport,
  });
  let port: number;
  try {
    port = await server.listen(listen.host, listen.port);
  } catch (error) {
    await relay.stop();
    throw error;
  }
  return {
    port,
    async stop(graceMs) {
      await server.shutdown(graceMs);
      await relay.stop();
    },
  };
}
