import type { Redis } from 'ioredis';
import { type ApiCatalog, loadMessengerCatalog } from '../api-catalog.ts';
import type { JwksSource } from '../auth/jwks-source.ts';
import { followRevocations, LayeredRevocationList } from '../auth/layered-revocation-list.ts';
import { RedisRevocationList } from '../auth/redis-revocation-list.ts';
import { InMemoryRevocationList, type RevocationList } from '../auth/revocation.ts';
import type { ServiceTokenSource } from '../auth/service-token-source.ts';
import { createTokenAuthenticator, type TokenAuthenticator } from '../auth/token-verifier.ts';
import { ConfigError, type ConfigOf, type ConfigSpec, commonSettings, setting } from '../config.ts';
import { type DependencyMonitor, type DependencyProbe, monitorDependencies } from '../dependencies.ts';
import type { EventBus } from '../events/event-bus.ts';
import { InProcessEventBus } from '../events/in-process-event-bus.ts';
import { KafkaEventBus } from '../events/kafka-event-bus.ts';
import { type ClientPool, createClientPool } from '../grpc/client-pool.ts';
import { GRPC_SERVER_TRANSPORTS } from '../grpc/server.ts';
import type { GrpcTls } from '../grpc/tls.ts';
import type { Startup } from '../lifecycle.ts';
import { createLogger, type Logger } from '../logger.ts';
import { createMetrics, type Metrics, serveMetrics } from '../metrics.ts';
import { closeRedisClient, createRedisClient } from '../redis.ts';
import { tracedEventBus } from '../tracing/events.ts';
import { startTracing, tracingOptionsOf } from '../tracing/sdk.ts';
import { authServiceJwksSource, authServiceTokenSource } from './auth-service-client.ts';
import { grpcTlsSettings, loadGrpcTls } from './grpc-tls.ts';
import { kafkaSecurityOptions } from './kafka-security.ts';
import { type Listening, runWorkers, workerIdentity, workersSetting } from './workers.ts';

/**
 * Settings every service process shares: where trust comes from, which event
 * bus and revocation list to use. A service's config spreads these next to its own.
 */
export const runtimeSettings = {
  ...commonSettings,
  authServiceAddress: setting.address('AUTH_SERVICE_ADDRESS', '127.0.0.1:50051', {
    description: "host:port of the auth service: token verification keys (GetJwks) and each service's own token.",
  }),
  tokenIssuer: setting.string('AUTH_TOKEN_ISSUER', 'messenger-auth', { description: 'The `iss` of accepted tokens.' }),
  tokenAudience: setting.string('AUTH_TOKEN_AUDIENCE', 'messenger', {
    description: 'The `aud` of user access tokens.',
  }),
  serviceTokenAudience: setting.string('AUTH_SERVICE_TOKEN_AUDIENCE', 'messenger-internal', {
    description: 'The `aud` of service tokens; must differ from AUTH_TOKEN_AUDIENCE.',
  }),
  ...grpcTlsSettings,
  grpcServerTransport: setting.oneOf('GRPC_SERVER_TRANSPORT', GRPC_SERVER_TRANSPORTS, 'http2', {
    description:
      "What serves this process's gRPC: http2 (the platform's own HTTP/2, a fraction of the CPU and garbage per call) or grpc-js (its server on node:http2).",
  }),
  grpcClientDeadlineMs: setting.int(
    'GRPC_CLIENT_DEADLINE_MS',
    5000,
    { min: 100, max: 60000 },
    { description: 'Deadline of outgoing gRPC calls that set none.' },
  ),
  eventBus: setting.oneOf('EVENT_BUS', ['memory', 'kafka'], 'memory', {
    description: 'memory: events stay inside this process (embedded mode); kafka: KAFKA_BROKERS.',
  }),
  kafkaBrokers: setting.list('KAFKA_BROKERS', '127.0.0.1:9092', {
    description: 'Comma-separated Kafka bootstrap servers, used when EVENT_BUS=kafka.',
  }),
  kafkaSsl: setting.bool('KAFKA_SSL', false, {
    description:
      'TLS to the Kafka brokers (managed Kafka: MSK, Confluent Cloud), verified against the system CAs or KAFKA_SSL_CA_FILE. The brokers then listen on their TLS port (often 9093 or 9094): list those in KAFKA_BROKERS.',
  }),
  kafkaSslCaFile: setting.optionalString('KAFKA_SSL_CA_FILE', {
    description:
      'PEM file of the CA(s) that sign the brokers’ certificates, instead of the system CAs; needs KAFKA_SSL=true. Read at start-up.',
  }),
  kafkaSaslMechanism: setting.oneOf(
    'KAFKA_SASL_MECHANISM',
    ['none', 'plain', 'scram-sha-256', 'scram-sha-512'],
    'none',
    {
      description:
        'SASL authentication to the brokers, with KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD; plain needs KAFKA_SSL=true (it sends the password as is).',
    },
  ),
  kafkaSaslUsername: setting.optionalString('KAFKA_SASL_USERNAME', {
    description: 'SASL user name; required with KAFKA_SASL_MECHANISM other than none.',
  }),
  kafkaSaslPassword: setting.optionalString('KAFKA_SASL_PASSWORD', {
    description: 'SASL password; required with KAFKA_SASL_MECHANISM other than none.',
    secret: true,
  }),
  kafkaIdempotentProducer: setting.bool('KAFKA_IDEMPOTENT_PRODUCER', true, {
    description: 'Idempotent producer (exactly-once per partition on real Kafka; test mock clusters need false).',
  }),
  kafkaCreateTopics: setting.bool('KAFKA_CREATE_TOPICS', true, {
    description: 'Create missing topics at start-up (false where the broker auto-creates them, e.g. test mocks).',
  }),
  metricsPort: setting.int(
    'METRICS_PORT',
    0,
    { min: 0, max: 65535 },
    {
      description:
        'Port of the Prometheus endpoint GET /metrics on every interface (9464 in containers), for the gateway too: its public HTTP port has no /metrics; 0: off.',
    },
  ),
  revocationStore: setting.oneOf('REVOCATION_STORE', ['memory', 'redis'], 'memory', {
    description: 'Where revoked sessions are kept: this process (embedded mode) or Redis shared by every process.',
  }),
  redisUrl: setting.string('REDIS_URL', 'redis://127.0.0.1:6379', {
    description: 'Redis connection URL, used when REVOCATION_STORE=redis (revoked sessions; chat presence too).',
    secret: true,
  }),
  redisCommandTimeoutMs: setting.int(
    'REDIS_COMMAND_TIMEOUT_MS',
    250,
    { min: 10, max: 10000 },
    {
      description:
        'Longest wait for one Redis command on a request path (revocation checks, rate limits, cache) before the process goes on without Redis.',
    },
  ),
  healthCheckIntervalMs: setting.int(
    'HEALTH_CHECK_INTERVAL_MS',
    2000,
    { min: 100, max: 60000 },
    {
      description:
        'How often a service checks its datastore (MongoDB ping, for its gRPC health and dependency_up) and event bus (Kafka metadata, for dependency_up only); a check unanswered within one interval counts as failed.',
    },
  ),
  healthDependencyGraceMs: setting.int(
    'HEALTH_DEPENDENCY_GRACE_MS',
    10000,
    { min: 0, max: 600000 },
    {
      description:
        'How long a datastore may keep failing its checks before the service reports NOT_SERVING (readiness); it reports SERVING again at the first successful check. The event bus never gates readiness (the outbox carries writes through its outages), and the liveness health name depends on neither.',
    },
  ),
} satisfies ConfigSpec;

export type RuntimeConfig = ConfigOf<typeof runtimeSettings>;

/**
 * The settings every gRPC service has under its own prefix (`USER_GRPC_PORT`,
 * `USER_STORE`, …): where it listens and where its data lives. `holds`
 * completes "Where … live" in the store's description, e.g. `profiles`.
 */
export function grpcServiceSettings(service: string, defaultPort: number, holds: string) {
  const prefix = service.toUpperCase();
  return {
    grpcHost: setting.string(`${prefix}_GRPC_HOST`, '127.0.0.1', {
      description: 'Interface the gRPC server binds (0.0.0.0 in a container).',
    }),
    grpcPort: setting.port(`${prefix}_GRPC_PORT`, defaultPort, { description: 'gRPC port; 0 picks a free one.' }),
    store: setting.oneOf(`${prefix}_STORE`, ['memory', 'mongo'], 'memory', {
      description: `Where ${holds} live when this service runs as its own process: in process memory (lost on exit) or MongoDB. The embedded mode ignores it (EMBEDDED_STORAGE).`,
    }),
    mongoUrl: setting.string(`${prefix}_MONGODB_URL`, 'mongodb://127.0.0.1:27017/?replicaSet=rs0', {
      description: `MongoDB connection string (a replica set: writes use transactions); used when ${prefix}_STORE=mongo.`,
      secret: true,
    }),
    mongoDatabase: setting.string(`${prefix}_MONGODB_DATABASE`, service, {
      description: 'The database the service owns.',
    }),
    mongoServerSelectionTimeoutMs: setting.int(
      `${prefix}_MONGODB_SERVER_SELECTION_TIMEOUT_MS`,
      5000,
      { min: 100, max: 60000 },
      {
        description: `Longest wait of one MongoDB operation for a usable server (the primary, for a write) before it fails, e.g. during an election or outage; also bounds start-up's wait for the server. Used when ${prefix}_STORE=mongo.`,
      },
    ),
    workers: workersSetting(
      `${prefix}_WORKERS`,
      1,
      `Processes serving this service on its port (node:cluster: a primary forks them, restarts one that dies, drains them on SIGTERM); auto: one per CPU; 1: one process, no primary. Each worker is a replica with its own outbox relay, consumers and connections; with ${prefix}_STORE, EVENT_BUS or REVOCATION_STORE on memory each worker has its own data (start-up warns). Default 1: Kubernetes scales a service by replicas.`,
    ),
  } satisfies ConfigSpec;
}

/**
 * The store `<PREFIX>_STORE` names: MongoDB, opened by `openMongo` from
 * `<PREFIX>_MONGODB_URL`, `_DATABASE` and `_SERVER_SELECTION_TIMEOUT_MS`,
 * or a fresh one in memory.
 */
export async function openServiceStore<S>(
  config: {
    readonly store: 'memory' | 'mongo';
    readonly mongoUrl: string;
    readonly mongoDatabase: string;
    readonly mongoServerSelectionTimeoutMs: number;
  },
  openMongo: (
    url: string,
    database: string,
    options: { readonly serverSelectionTimeoutMS: number },
  ) => Promise<OpenedServiceStore<S>>,
  Memory: new () => S,
): Promise<OpenedServiceStore<S>> {
  if (config.store === 'mongo') {
    return openMongo(config.mongoUrl, config.mongoDatabase, {
      serverSelectionTimeoutMS: config.mongoServerSelectionTimeoutMs,
    });
  }
  return { store: new Memory(), close: async () => {} };
}

/** A store opened by `openServiceStore`; `probe` is absent for memory, which cannot be down. */
export interface OpenedServiceStore<S> {
  readonly store: S;
  readonly probe?: DependencyProbe;
  close(): Promise<void>;
}

/** What a gRPC service's worker started, for `runServiceWorkers`. */
export interface StartedServiceParts {
  readonly runtime: ServiceRuntime;
  readonly running: { readonly port: number; stop(graceMs: number): Promise<void> };
  /** Its `probe`, if any, joins the runtime's dependency checks. */
  readonly storage: { readonly probe?: DependencyProbe; close(): Promise<void> };
  /** More fields for the listening line. */
  readonly fields?: Readonly<Record<string, unknown>>;
}

/**
 * A gRPC service's process, in `<PREFIX>_WORKERS` processes (`runWorkers`),
 * each started by `start`, which registers each part it opens with
 * `startup.opened` so that a shutdown during start-up closes them. The group logs `<service> service listening`
 * (port, store, event bus, then `fields`) once; a worker stops by draining
 * its server (calls in flight get SHUTDOWN_GRACE_MS), then closing the
 * runtime, then the store. The settings that keep state in one process's
 * memory, and `perWorkerState` (e.g. auth's generated keys), are named in the
 * primary's warning.
 */
export function runServiceWorkers(
  group: {
    readonly service: string;
    readonly config: RuntimeConfig & { readonly workers: number; readonly store: string };
    readonly perWorkerState?: readonly string[];
  },
  start: (startup: Startup) => Promise<StartedServiceParts>,
): Promise<Listening | undefined> {
  const { service, config } = group;
  const inMemory = [
    config.store === 'memory' ? `${service.toUpperCase()}_STORE=memory` : undefined,
    config.eventBus === 'memory' ? 'EVENT_BUS=memory' : undefined,
    config.revocationStore === 'memory' ? 'REVOCATION_STORE=memory' : undefined,
  ].filter((s) => s !== undefined);
  const options = {
    service,
    workers: config.workers,
    logLevel: config.logLevel,
    shutdownGraceMs: config.shutdownGraceMs,
    perWorkerState: [...inMemory, ...(group.perWorkerState ?? [])],
  };
  return runWorkers(options, async (startup) => {
    const { runtime, running, storage, fields } = await start(startup);
    if (storage.probe) runtime.dependencies.watch(storage.probe);
    return {
      logger: runtime.logger,
      listening: {
        msg: `${service} service listening`,
        port: running.port,
        store: config.store,
        eventBus: config.eventBus,
        ...fields,
      },
      async stop() {
        await running.stop(config.shutdownGraceMs);
        await runtime.close();
        await storage.close();
      },
    };
  });
}

/**
 * The shared secret a service exchanges for its own service token (auth's
 * IssueServiceToken). It has no default: embedded mode signs service tokens
 * in-process and never reads it, and a cluster-mode process refuses to start
 * without it (`requireClusterSecrets`), so no deployment runs on a known value.
 */
export function serviceSecretSetting(service: string) {
  return setting.optionalString(`${service.toUpperCase()}_SERVICE_SECRET`, {
    description:
      "The shared secret this service exchanges for its service token (IssueServiceToken): the same value as this service's entry in auth's AUTH_SERVICE_SECRETS. Required in cluster mode (no default); embedded mode does not use it.",
    secret: true,
  });
}

/**
 * Cluster mode (a service's own main.ts) starts only with the secrets set
 * that embedded mode does without: each unset one is named, the process exits.
 */
export function requireClusterSecrets(isSet: Readonly<Record<string, boolean>>): void {
  const problems = Object.entries(isSet)
    .filter(([, set]) => !set)
    .map(([env]) => `${env}: is required in cluster mode (there is no default secret; see docs/OPERATIONS.md)`);
  if (problems.length > 0) throw new ConfigError(problems);
}

/** Where each service listens, for the processes that call it; defaults are embedded mode's ports. */
export const serviceAddressSettings = {
  userServiceAddress: setting.address('USER_SERVICE_ADDRESS', '127.0.0.1:50052', {
    description: 'host:port of the user service.',
  }),
  subscriberServiceAddress: setting.address('SUBSCRIBER_SERVICE_ADDRESS', '127.0.0.1:50054', {
    description: 'host:port of the subscriber service.',
  }),
  chatServiceAddress: setting.address('CHAT_SERVICE_ADDRESS', '127.0.0.1:50053', {
    description: 'host:port of the chat service.',
  }),
  notificationServiceAddress: setting.address('NOTIFICATION_SERVICE_ADDRESS', '127.0.0.1:50055', {
    description: 'host:port of the notification service.',
  }),
} satisfies ConfigSpec;

/** The adapters a service process shares between its parts, built from configuration. */
export interface ServiceRuntime {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly catalog: ApiCatalog;
  readonly pool: ClientPool;
  readonly bus: EventBus;
  readonly revocations: RevocationList;
  readonly authenticator: TokenAuthenticator;
  /** The certificates of this process's gRPC server and clients (GRPC_TLS_*); undefined: plaintext. */
  readonly grpcTls: GrpcTls | undefined;
  /**
   * The Redis client when REVOCATION_STORE=redis (cluster mode), for
   * whatever else the service shares between its processes; closed by
   * `close`. Undefined in a process that keeps its state to itself.
   */
  readonly redis: Redis | undefined;
  /**
   * The checks of what the service cannot serve without: the Kafka bus from
   * the start, the store once `runServiceWorkers` has it. Its gRPC server
   * reports them as readiness.
   */
  readonly dependencies: DependencyMonitor;
  /** This service's own credential for calling other services, from the auth service. */
  serviceTokens(serviceName: string, secret: string): ServiceTokenSource;
  /** Closes what `startServiceRuntime` opened, after the service stopped. */
  close(): Promise<void>;
}

export interface ServiceRuntimeOptions {
  /** Overrides where verification keys come from (the auth service serves its own). */
  readonly jwks?: JwksSource;
  /** Overrides the configured event bus (tests wiring several processes onto one bus); the caller closes it. */
  readonly bus?: EventBus;
  /** Whether the process serves gRPC (the services; not the gateway): with TLS it then needs a certificate. Default true. */
  readonly servesGrpc?: boolean;
}

/**
 * The cluster-mode composition shared by every service's main.ts: logger,
 * metrics, the API catalog, a client pool, the event bus and revocation list
 * named by configuration, and the token authenticator.
 */
export async function startServiceRuntime(
  service: string,
  config: RuntimeConfig,
  opts: ServiceRuntimeOptions = {},
): Promise<ServiceRuntime> {
  // A worker of a process group (runWorkers) names itself on every line and
  // serves the whole group's metrics.
  // Before anything opens: a bad Kafka security combination or gRPC TLS configuration stops start-up with every problem listed.
  const kafkaSecurity = config.eventBus === 'kafka' ? kafkaSecurityOptions(config) : {};
  const grpcTls = loadGrpcTls(config, opts.servesGrpc ?? true);
  const worker = workerIdentity();
  // First, so that the client pool, the servers and the bus built next trace their calls.
  const tracing = startTracing(tracingOptionsOf(config, service));
  const processLogger = createLogger({ level: config.logLevel, service });
  const logger = worker ? processLogger.child(worker) : processLogger;
  const metrics = createMetrics({ processGroup: worker !== undefined });
  const metricsServer =
    config.metricsPort > 0 ? await serveMetrics(metrics, { host: '0.0.0.0', port: config.metricsPort }) : undefined;
  const catalog = await loadMessengerCatalog();
  // Tokens cross every hop: in cluster mode plaintext is allowed (local clusters, a mesh that encrypts) but said.
  if (!grpcTls) logger.warn('gRPC to and from this process is plaintext: set GRPC_TLS_CA_FILE (docs/SECURITY.md)');
  else {
    logger.info(
      { mutual: grpcTls.requireClientCert, serverName: grpcTls.serverName },
      'gRPC to and from this process uses TLS',
    );
  }
  const pool = createClientPool({
    catalog,
    metrics,
    defaultDeadlineMs: config.grpcClientDeadlineMs,
    tls: grpcTls,
  });

  const dependencies = monitorDependencies({
    intervalMs: config.healthCheckIntervalMs,
    timeoutMs: config.healthCheckIntervalMs,
    graceMs: config.healthDependencyGraceMs,
    logger,
    registry: metrics.registry,
  });
  let bus: EventBus;
  if (opts.bus) {
    bus = opts.bus;
  } else if (config.eventBus === 'kafka') {
    const kafka = new KafkaEventBus({
      brokers: config.kafkaBrokers,
      clientId: service,
      log: logger,
      idempotentProducer: config.kafkaIdempotentProducer,
      createTopics: config.kafkaCreateTopics,
      ...kafkaSecurity,
    });
    await kafka.connect();
    // Reported, not gating: the outbox carries writes through an outage (see DependencyProbe).
    dependencies.watch({ dependency: 'kafka', gatesReadiness: false, check: () => kafka.ping() });
    bus = kafka;
  } else {
    bus = new InProcessEventBus({ log: logger });
  }
  bus = tracedEventBus(bus, config.eventBus === 'kafka' && !opts.bus ? 'kafka' : undefined);

  let redis: Redis | undefined;
  let revocations: RevocationList;
  let closeRevocations = async () => {};
  if (config.revocationStore === 'redis') {
    // Redis is the shared fast path; each process also keeps the revocations
    // it hears of by event, so an unreachable or emptied Redis forgets none.
    const client = createRedisClient({
      url: config.redisUrl,
      name: 'revocations',
      commandTimeoutMs: config.redisCommandTimeoutMs,
      logger,
      registry: metrics.registry,
    });
    const layered = new LayeredRevocationList({ shared: new RedisRevocationList({ redis: client }), logger });
    // A Redis that comes back may have come back empty: give it what this process knows.
    client.on('ready', () => {
      layered.resync().catch((err: unknown) => logger.warn({ err }, 'copying revocations back into redis failed'));
    });
    // Verifying needs no Redis, so a Redis down at start-up is logged (by the client), not fatal.
    await client.connect().catch(() => {});
    const following = await followRevocations(bus, layered, `${service}.revocations`, logger);
    redis = client;
    revocations = layered;
    closeRevocations = async () => {
      await following.unsubscribe();
      layered.close();
    };
  } else {
    const memory = new InMemoryRevocationList();
    revocations = memory;
    closeRevocations = async () => memory.close();
  }

  const authenticator = createTokenAuthenticator({
    issuer: config.tokenIssuer,
    audience: config.tokenAudience,
    serviceAudience: config.serviceTokenAudience,
    jwks: opts.jwks ?? authServiceJwksSource(pool, config.authServiceAddress),
    revocations,
  });

  return {
    logger,
    metrics,
    catalog,
    pool,
    bus,
    revocations,
    authenticator,
    grpcTls,
    redis,
    dependencies,
    serviceTokens: (serviceName, secret) =>
      authServiceTokenSource(pool, config.authServiceAddress, serviceName, secret),
    async close() {
      dependencies.close();
      await metricsServer?.close();
      await closeRevocations();
      if (!opts.bus) await bus.close();
      if (redis) await closeRedisClient(redis);
      pool.close();
      await tracing?.shutdown();
    },
  };
}
