import type { ApiCatalog } from '@messenger/platform/api-catalog';
import type { RevocationList, SigningKeyRing, TokenSigner } from '@messenger/platform/auth';
import { type EventBus, startOutboxRelay } from '@messenger/platform/events';
import { type Authenticator, createGrpcServer } from '@messenger/platform/grpc';
import type { Logger } from '@messenger/platform/logger';
import type { Metrics } from '@messenger/platform/metrics';
import { normalizeEmail } from './domain/account.ts';
import { createAuthUseCases } from './domain/auth-use-cases.ts';
import { createOAuthUseCases } from './domain/oauth-use-cases.ts';
import { createScryptHasher, type PasswordHasher } from './domain/password-hasher.ts';
import { createServiceSecrets } from './domain/secrets.ts';
import { createSessions, type TokenLifetimes } from './domain/sessions.ts';
import type { UserProfiles } from './domain/user-profiles.ts';
import { userDeletedConsumer } from './events/user-deleted.consumer.ts';
import { authServiceHandlers } from './grpc/auth.handlers.ts';
import { createOpenIdOidcClient, type OidcProviderConfig } from './oidc/openid-oidc-client.ts';
import type { AuthStore } from './store/auth-store.ts';

/** A started service, as the embedded runner and main.ts hold it. */
export interface RunningService {
  readonly port: number;
  /** Drains the gRPC server (in-flight calls get `graceMs`), leaves the event group, then stops the outbox relay. */
  stop(graceMs: number): Promise<void>;
}

export interface OAuthSettings {
  readonly providers: readonly OidcProviderConfig[];
  /** Redirect URIs StartOAuth accepts, compared exactly. */
  readonly redirectUris: Iterable<string>;
  /** Default 600. */
  readonly stateTtlSeconds?: number;
  /** Per call to a provider; default 10. */
  readonly timeoutSeconds?: number;
}

/** Adapters already built by the caller, who also closes them after `stop`. */
export interface AuthServiceDeps {
  readonly store: AuthStore;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly catalog: ApiCatalog;
  /** Verifies the tokens of auth's own non-public methods (Logout, SetUserRole). */
  readonly authenticator: Authenticator;
  /** Signs access tokens and service tokens with `keys`' active key. */
  readonly signer: TokenSigner;
  /** Published by GetJwks. */
  readonly keys: SigningKeyRing;
  /** The list every verifier checks (Redis in a cluster, the one in-process list in embedded mode). */
  readonly revocations: RevocationList;
  /** The user service's profiles, called with auth's own service token. */
  readonly users: UserProfiles;
  readonly oauth: OAuthSettings;
  /** Emails whose accounts are admins. */
  readonly adminEmails: Iterable<string>;
  /** Service name → the shared secret it exchanges for a service token. */
  readonly serviceSecrets: ReadonlyMap<string, string>;
  readonly lifetimes?: Partial<TokenLifetimes>;
  /** scrypt with the default cost unless given. */
  readonly passwordHasher?: PasswordHasher;
  readonly now?: () => Date;
}

const DEFAULT_LIFETIMES: TokenLifetimes = {
  accessTokenSeconds: 900,
  refreshTokenSeconds: 30 * 24 * 3600,
  serviceTokenSeconds: 600,
};

export async function startAuthService(
  deps: AuthServiceDeps,
  listen: { host: string; port: number },
): Promise<RunningService> {
  const now = deps.now ?? (() => new Date());
  const lifetimes = { ...DEFAULT_LIFETIMES, ...deps.lifetimes };
  const hasher = deps.passwordHasher ?? (await createScryptHasher());
  const relay = startOutboxRelay({
    source: deps.store.outbox,
    bus: deps.bus,
    log: deps.logger.child({ component: 'outbox-relay' }),
  });
  const onCommit = () => relay.notify();
  const sessions = createSessions({
    store: deps.store,
    signer: deps.signer,
    revocations: deps.revocations,
    adminEmails: new Set([...deps.adminEmails].map(normalizeEmail)),
    lifetimes,
    logger: deps.logger,
    onCommit,
    now,
  });
  const auth = createAuthUseCases({
    sessions,
    store: deps.store,
    users: deps.users,
    hasher,
    signer: deps.signer,
    serviceSecrets: createServiceSecrets(deps.serviceSecrets),
    serviceTokenSeconds: lifetimes.serviceTokenSeconds,
    logger: deps.logger,
    onCommit,
    now,
  });
  const oauth = createOAuthUseCases({
    store: deps.store,
    users: deps.users,
    sessions,
    oidc: createOpenIdOidcClient({
      providers: deps.oauth.providers,
      logger: deps.logger.child({ component: 'oidc' }),
      ...(deps.oauth.timeoutSeconds === undefined ? {} : { timeoutSeconds: deps.oauth.timeoutSeconds }),
    }),
    redirectUris: new Set(deps.oauth.redirectUris),
    stateTtlSeconds: deps.oauth.stateTtlSeconds ?? 600,
    logger: deps.logger,
    onCommit,
    now,
  });

  const server = createGrpcServer({
    name: 'auth',
    services: [authServiceHandlers(auth, oauth, deps.keys)],
    catalog: deps.catalog,
    logger: deps.logger,
    metrics: deps.metrics,
    authenticator: deps.authenticator,
  });
  let subscription: { unsubscribe(): Promise<void> } | undefined;
  let port: number;
  try {
    subscription = await deps.bus.subscribe(userDeletedConsumer(auth, deps.logger.child({ component: 'user-events' })));
    port = await server.listen(listen.host, listen.port);
  } catch (error) {
    await subscription?.unsubscribe();
    await relay.stop();
    throw error;
  }
  return {
    port,
    async stop(graceMs) {
      await server.shutdown(graceMs);
      await subscription?.unsubscribe();
      await relay.stop();
    },
  };
}
