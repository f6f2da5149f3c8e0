// The whole system in one process: every service on its own loopback gRPC
// port, so real gRPC is exercised. Every service's store, the revocation
// list and the signing keys are those storage.ts opens (SQLite files in the
// data directory, or memory); the gateway's state is in memory. The auth
// service's signing key ring is in this process, so verifiers read it
// directly. The event bus is in-process unless the caller passes another
// (whole-system tests pass the Kafka one).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mediaOptionsOf, rateLimitBudgetsOf, startGateway } from '@messenger/api-gateway';
import { authPolicyDeps, grpcUserProfiles, startAuthService } from '@messenger/auth';
import {
  chatServiceOptionsOf,
  grpcUserProfiles as chatUserProfiles,
  grpcFriendshipChecker,
  startChatService,
} from '@messenger/chat';
import {
  chatPresence,
  notificationServiceOptionsOf,
  pushSendersOf,
  startNotificationService,
} from '@messenger/notification';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import {
  cachedServiceTokenSource,
  createLocalJwksSource,
  createTokenAuthenticator,
  createTokenSigner,
} from '@messenger/platform/auth';
import { openMediaStore } from '@messenger/platform/blob';
import { type EventBus, InProcessEventBus } from '@messenger/platform/events';
import { createClientPool } from '@messenger/platform/grpc';
import { createLogger, type Logger } from '@messenger/platform/logger';
import { createMetrics, serveMetrics } from '@messenger/platform/metrics';
import { tracedEventBus } from '@messenger/platform/tracing/events';
import { grpcUserDirectory, startSubscriberService } from '@messenger/subscriber';
import { startUserService } from '@messenger/user';
import type { EmbeddedConfig } from './config.ts';
import { openEmbeddedStorage } from './storage.ts';

export interface SystemOptions {
  /** The event bus every part shares; default in-process. Closed by `stop()`. */
  readonly bus?: EventBus;
  /** The process's root logger, without a `service` binding: each part adds its own. */
  readonly logger?: Logger;
}

export interface RunningSystem {
  /** `http://host:port` of the gateway. */
  readonly gatewayUrl: string;
  /** The absolute data directory (EMBEDDED_STORAGE=sqlite); undefined when everything is in memory. */
  readonly dataDir: string | undefined;
  /** `http://127.0.0.1:port/metrics`, the whole process's metrics, when METRICS_PORT is set; else undefined. */
  readonly metricsUrl: string | undefined;
  /** Where each gRPC service listens. */
  readonly services: readonly { readonly name: string; readonly host: string; readonly port: number }[];
  /** Drains the gateway, then every service (callers first), then closes the shared adapters and the data files. */
  stop(): Promise<void>;
}

export async function startSystem(config: EmbeddedConfig, opts: SystemOptions = {}): Promise<RunningSystem> {
  const { auth: authConfig, gateway: gatewayConfig } = config;
  // First: a data directory that cannot be used stops the start before anything listens.
  const storage = await openEmbeddedStorage(config);
  const root = opts.logger ?? createLogger({ level: authConfig.logLevel });
  const logger = root.child({ service: 'embedded' });
  const metrics = createMetrics();
  const catalog = await loadMessengerCatalog();
  const pool = createClientPool({ catalog, metrics, defaultDeadlineMs: authConfig.grpcClientDeadlineMs });
  const bus = tracedEventBus(opts.bus ?? new InProcessEventBus({ log: logger }), undefined);
  const { revocations, keys } = storage;
  const trust = {
    issuer: authConfig.tokenIssuer,
    audience: authConfig.tokenAudience,
    serviceAudience: authConfig.serviceTokenAudience,
  };
  const signer = createTokenSigner({ ...trust, keys });
  const authenticator = createTokenAuthenticator({ ...trust, jwks: createLocalJwksSource(keys), revocations });
  // Each service's own credential, signed here as the auth service would issue it.
  const serviceTokens = (service: string) => cachedServiceTokenSource(() => signer.signServiceToken({ service }));
  const shared = { bus, metrics, catalog, authenticator };
  const loopback = (host: string, port: number) => `${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;

  const user = await startUserService(
    { ...shared, logger: root.child({ service: 'user' }), store: storage.user },
    { host: config.user.grpcHost, port: config.user.grpcPort },
  );
  const userAddress = loopback(config.user.grpcHost, user.port);
  const auth = await startAuthService(
    {
      ...shared,
      logger: root.child({ service: 'auth' }),
      store: storage.auth,
      signer,
      keys,
      revocations,
      users: grpcUserProfiles({ pool, address: userAddress, tokens: serviceTokens('auth') }),
      ...authPolicyDeps(authConfig),
    },
    { host: authConfig.grpcHost, port: authConfig.grpcPort },
  );
  const subscriber = await startSubscriberService(
    {
      ...shared,
      logger: root.child({ service: 'subscriber' }),
      store: storage.subscriber,
      users: grpcUserDirectory({ pool, address: userAddress, tokens: serviceTokens('subscriber') }),
    },
    { host: config.subscriber.grpcHost, port: config.subscriber.grpcPort },
  );
  const subscriberAddress = loopback(config.subscriber.grpcHost, subscriber.port);
  // Media beside the SQLite files; without a data directory, in a temp dir gone on stop.
  const mediaTemp = storage.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'messenger-media-')) : undefined;
  const mediaDir = mediaTemp ?? join(storage.dataDir ?? '', 'media');
  // The chat service reads the store the gateway writes: one set of settings (the gateway's) in one process.
  const chatMedia = openMediaStore(gatewayConfig, mediaDir);
  const chat = await startChatService(
    {
      ...shared,
      logger: root.child({ service: 'chat' }),
      store: storage.chat,
      users: chatUserProfiles({ pool, address: userAddress, tokens: serviceTokens('chat') }),
      friends: grpcFriendshipChecker({ pool, address: subscriberAddress, tokens: serviceTokens('chat') }),
      options: chatServiceOptionsOf(config.chat),
      media: chatMedia,
    },
    { host: config.chat.grpcHost, port: config.chat.grpcPort },
  );
  const notificationLogger = root.child({ service: 'notification' });
  const notification = await startNotificationService(
    {
      ...shared,
      logger: notificationLogger,
      store: storage.notification,
      ...pushSendersOf(config.notification, notificationLogger),
      presence: chatPresence({
        pool,
        address: loopback(config.chat.grpcHost, chat.port),
        tokens: serviceTokens('notification'),
        timeoutMs: config.notification.presenceTimeoutMs,
        log: notificationLogger.child({ component: 'presence' }),
      }),
      options: notificationServiceOptionsOf(config.notification),
    },
    { host: config.notification.grpcHost, port: config.notification.grpcPort },
  );

  const gateway = await startGateway(
    {
      catalog,
      upstreams: {
        'messenger.auth.v1.AuthService': loopback(authConfig.grpcHost, auth.port),
        'messenger.user.v1.UserService': userAddress,
        'messenger.subscriber.v1.SubscriberService': subscriberAddress,
        'messenger.chat.v1.ChatService': loopback(config.chat.grpcHost, chat.port),
        'messenger.notification.v1.NotificationService': loopback(config.notification.grpcHost, notification.port),
      },
      auth: { verifier: authenticator, revocations },
      eventBus: bus,
      logger: root.child({ service: 'api-gateway' }),
      metrics,
      rateLimits: rateLimitBudgetsOf(gatewayConfig),
      cache: { enabled: gatewayConfig.cacheEnabled },
      deadlines: { defaultMs: gatewayConfig.upstreamDeadlineMs },
      streaming: { heartbeatMs: gatewayConfig.streamHeartbeatMs },
      bodyLimitBytes: gatewayConfig.bodyLimitBytes,
      trustProxy: gatewayConfig.trustedProxies,
      release: gatewayConfig.release,
      exampleClient: gatewayConfig.exampleClient,
      upstreamTransport: gatewayConfig.upstreamTransport,
      media: mediaOptionsOf(gatewayConfig, mediaDir),
      serviceToken: serviceTokens('gateway'),
    },
    {
      host: gatewayConfig.httpHost,
      port: gatewayConfig.httpPort,
      drainDelayMs: gatewayConfig.drainDelayMs,
      shutdownGraceMs: gatewayConfig.shutdownGraceMs,
    },
  );

  // Every part shares one registry, so one endpoint serves them all, as a
  // service's own METRICS_PORT does; the gateway's public port has none.
  const metricsServer =
    authConfig.metricsPort > 0
      ? await serveMetrics(metrics, { host: '0.0.0.0', port: authConfig.metricsPort })
      : undefined;

  return {
    gatewayUrl: gateway.url,
    metricsUrl: metricsServer ? `http://127.0.0.1:${metricsServer.port}/metrics` : undefined,
    dataDir: storage.dataDir,
    services: [
      { name: 'auth', port: auth.port, host: authConfig.grpcHost },
      { name: 'user', port: user.port, host: config.user.grpcHost },
      { name: 'subscriber', port: subscriber.port, host: config.subscriber.grpcHost },
      { name: 'chat', port: chat.port, host: config.chat.grpcHost },
      { name: 'notification', port: notification.port, host: config.notification.grpcHost },
    ],
    async stop() {
      // Callers first, so nothing loses a dependency while it drains.
      await gateway.close();
      await metricsServer?.close();
      const grace = authConfig.shutdownGraceMs;
      await notification.stop(grace);
      await chat.stop(grace);
      await subscriber.stop(grace);
      await auth.stop(grace);
      await user.stop(grace);
      await bus.close();
      pool.close();
      storage.close();
      chatMedia.close();
      if (mediaTemp !== undefined) await rm(mediaTemp, { recursive: true, force: true });
    },
  };
}
