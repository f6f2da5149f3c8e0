import type { ApiCatalog } from '@messenger/platform/api-catalog';
import type { RevocationList, SigningKeyRing, TokenSigner } from '@messenger/platform/auth';
import type { DependencyHealth } from '@messenger/platform/dependencies';
import { type EventBus, startOutboxRelay } from '@messenger/platform/events';
import { type Authenticator, createGrpcServer, type GrpcListen } from '@messenger/platform/grpc';
import type { Logger } from '@messenger/platform/logger';
import type { Metrics } from '@messenger/platform/metrics';
import { normalizeEmail } from './domain/account.ts';
import { createAdminBootstrap } from './domain/admin-bootstrap.ts';
import { createAuthUseCases } from './domain/auth-use-cases.ts';
import { createBackground } from './domain/background.ts';
import { createEmailUseCases } from './domain/email-use-cases.ts';
import type { Mailer } from './domain/mail.ts';
import { createOAuthUseCases } from './domain/oauth-use-cases.ts';
import { createScryptHasher, DEFAULT_SCRYPT_PARAMS, type ScryptParams } from './domain/password-hasher.ts';
import { createServiceSecrets } from './domain/secrets.ts';
import { createSessions, type TokenLifetimes } from './domain/sessions.ts';
import type { UserProfiles } from './domain/user-profiles.ts';
import { authEventEntry } from './events/auth-events.ts';
import { userDeletedConsumer } from './events/user-deleted.consumer.ts';
import { authServiceHandlers } from './grpc/auth.handlers.ts';
import { createLogMailer } from './mail/log-mailer.ts';
import { createSmtpMailer } from './mail/smtp-mailer.ts';
import { createOpenIdOidcClient, type OidcProviderConfig } from './oidc/openid-oidc-client.ts';
import { type AuthStore, withEventEncoding } from './store/auth-store.ts';

/** A started service, as the embedded runner and main.ts hold it. */
export interface RunningService {
  readonly port: number;
  /** Drains the gRPC server (in-flight calls get `graceMs`) and pending mails, leaves the event group, then stops the outbox relay. */
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
  /** Started flows kept at most; default 100,000. */
  readonly maxPendingAttempts?: number;
}

/** Verification and password-reset mail. */
export interface MailSettings {
  /** `smtp://` or `smtps://`; absent: nothing is sent, each mail's link is logged (and a warning says so at start). */
  readonly smtpUrl?: string;
  /** The From header; required with `smtpUrl`. */
  readonly from?: string;
  /** The web app the links open (`linkFor`); empty gives links relative to it. */
  readonly linkBaseUrl?: string;
  /** Default 24 h. */
  readonly verificationTtlSeconds?: number;
  /** Default 1 h. */
  readonly resetTtlSeconds?: number;
  /** Default 60. */
  readonly resendIntervalSeconds?: number;
}

/** Adapters already built by the caller, who also closes them after `stop`. */
export interface AuthServiceDeps {
  readonly store: AuthStore;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly catalog: ApiCatalog;
  /** Verifies the tokens of auth's own non-public methods (Logout, RequestEmailVerification, SetUserRole). */
  readonly authenticator: Authenticator;
  /** Whether its datastore and event bus allow serving (readiness); absent, health reflects the process alone. */
  readonly dependencies?: DependencyHealth;
  /** Signs access tokens and service tokens with `keys`' active key. */
  readonly signer: TokenSigner;
  /** Published by GetJwks. */
  readonly keys: SigningKeyRing;
  /** The list every verifier checks (Redis in a cluster, the one in-process list in embedded mode). */
  readonly revocations: RevocationList;
  /** The user service's profiles, called with auth's own service token. */
  readonly users: UserProfiles;
  readonly oauth: OAuthSettings;
  /** Absent: as `MailSettings` without `smtpUrl`. */
  readonly mail?: MailSettings;
  /** Emails whose accounts become admins when the email is verified (`AdminBootstrap`). */
  readonly adminEmails: Iterable<string>;
  /** Service name → the shared secret it exchanges for a service token. */
  readonly serviceSecrets: ReadonlyMap<string, string>;
  readonly lifetimes?: Partial<TokenLifetimes>;
  /** Default 50. */
  readonly maxSessionsPerUser?: number;
  /** For new password hashes; default `DEFAULT_SCRYPT_PARAMS` (tests lower it). */
  readonly scrypt?: ScryptParams;
  readonly now?: () => Date;
}

const DEFAULT_LIFETIMES: TokenLifetimes = {
  accessTokenSeconds: 900,
  refreshTokenSeconds: 30 * 24 * 3600,
  serviceTokenSeconds: 600,
};

export async function startAuthService(
  deps: AuthServiceDeps,
  /** `tls`: serve TLS only (GRPC_TLS_*); absent, plaintext. */
  listen: GrpcListen,
): Promise<RunningService> {
  const now = deps.now ?? (() => new Date());
  const lifetimes = { ...DEFAULT_LIFETIMES, ...deps.lifetimes };
  const scrypt = deps.scrypt ?? DEFAULT_SCRYPT_PARAMS;
  if (scrypt.logN < DEFAULT_SCRYPT_PARAMS.logN) {
    deps.logger.warn({ logN: scrypt.logN }, 'scrypt cost below the recommended N = 2^17: for tests only');
  }
  const hasher = await createScryptHasher(scrypt);
  const mail = deps.mail ?? {};
  const smtp = mail.smtpUrl === undefined ? undefined : createSmtpMailer({ url: mail.smtpUrl, from: mail.from ?? '' });
  if (!smtp) {
    deps.logger.warn(
      'AUTH_SMTP_URL is not set: verification and password-reset mails are not sent; their links are logged instead (development only)',
    );
  }
  const mailer: Mailer = smtp ?? createLogMailer(deps.logger.child({ component: 'mail' }));
  const background = createBackground(deps.logger.child({ component: 'background' }));
  const admins = createAdminBootstrap(new Set([...deps.adminEmails].map(normalizeEmail)));
  const relay = startOutboxRelay({
    source: deps.store.outbox,
    bus: deps.bus,
    log: deps.logger.child({ component: 'outbox-relay' }),
    metrics: { registry: deps.metrics.registry, service: 'auth' },
  });
  const store = withEventEncoding(deps.store, authEventEntry);
  const sessions = createSessions({
    store,
    signer: deps.signer,
    revocations: deps.revocations,
    lifetimes,
    maxSessionsPerUser: deps.maxSessionsPerUser ?? 50,
    logger: deps.logger,
    now,
  });
  const auth = createAuthUseCases({
    sessions,
    store,
    users: deps.users,
    hasher,
    signer: deps.signer,
    serviceSecrets: createServiceSecrets(deps.serviceSecrets),
    serviceTokenSeconds: lifetimes.serviceTokenSeconds,
    logger: deps.logger,
    now,
  });
  const oauth = createOAuthUseCases({
    store,
    users: deps.users,
    sessions,
    admins,
    oidc: createOpenIdOidcClient({
      providers: deps.oauth.providers,
      logger: deps.logger.child({ component: 'oidc' }),
      ...(deps.oauth.timeoutSeconds === undefined ? {} : { timeoutSeconds: deps.oauth.timeoutSeconds }),
    }),
    redirectUris: new Set(deps.oauth.redirectUris),
    stateTtlSeconds: deps.oauth.stateTtlSeconds ?? 600,
    maxPendingAttempts: deps.oauth.maxPendingAttempts ?? 100_000,
    logger: deps.logger,
    now,
  });
  const email = createEmailUseCases({
    store,
    sessions,
    hasher,
    mailer,
    admins,
    background,
    settings: {
      linkBaseUrl: mail.linkBaseUrl ?? '',
      verificationTtlSeconds: mail.verificationTtlSeconds ?? 24 * 3600,
      resetTtlSeconds: mail.resetTtlSeconds ?? 3600,
      resendIntervalSeconds: mail.resendIntervalSeconds ?? 60,
    },
    logger: deps.logger,
    now,
  });

  const server = createGrpcServer({
    name: 'auth',
    services: [authServiceHandlers(auth, oauth, email, deps.keys)],
    catalog: deps.catalog,
    logger: deps.logger,
    metrics: deps.metrics,
    authenticator: deps.authenticator,
    dependencies: deps.dependencies,
    tls: listen.tls,
    transport: listen.transport,
  });
  let subscription: { unsubscribe(): Promise<void> } | undefined;
  let port: number;
  try {
    subscription = await deps.bus.subscribe(userDeletedConsumer(auth, deps.logger.child({ component: 'user-events' })));
    port = await server.listen(listen.host, listen.port);
  } catch (error) {
    await subscription?.unsubscribe();
    await relay.stop();
    smtp?.close();
    throw error;
  }
  return {
    port,
    async stop(graceMs) {
      await server.shutdown(graceMs);
      // Mails promised by answers already given (ForgotPassword).
      await background.drain();
      smtp?.close();
      await subscription?.unsubscribe();
      await relay.stop();
    },
  };
}
