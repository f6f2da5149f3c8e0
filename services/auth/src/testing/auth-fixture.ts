// Tests only: the real auth service and the real user service on loopback
// ports, sharing one key ring, one revocation list and one in-process event
// bus, as in embedded mode, with a real SMTP server on loopback receiving
// auth's mails. Never imported by production code.
import { credentials, type Metadata, status } from '@grpc/grpc-js';
import {
  AuthServiceClient,
  type LoginResponse,
  type RefreshTokenResponse,
  type RegisterResponse,
  type TokenPair,
  type VerifyEmailResponse,
} from '@messenger/gen/messenger/auth/v1/auth';
import { SessionsRevoked } from '@messenger/gen/messenger/auth/v1/events';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { UserServiceClient } from '@messenger/gen/messenger/user/v1/user';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import {
  cachedServiceTokenSource,
  createLocalJwksSource,
  createTokenAuthenticator,
  type RevocationList,
} from '@messenger/platform/auth';
import { InProcessEventBus } from '@messenger/platform/events';
import { type ClientPool, createClientPool, fieldViolationsOf } from '@messenger/platform/grpc';
import { createLogger } from '@messenger/platform/logger';
import { createMetrics } from '@messenger/platform/metrics';
import {
  call,
  createTestAuth,
  failure,
  TEST_AUDIENCE,
  TEST_ISSUER,
  TEST_SERVICE_AUDIENCE,
  type TestAuth,
} from '@messenger/platform/testing';
import { MemoryUserStore, startUserService } from '@messenger/user';
import {
  type AuthServiceDeps,
  type MailSettings,
  type OAuthSettings,
  type RunningService,
  startAuthService,
} from '../app.ts';
import { grpcUserProfiles } from '../clients/user-profiles.client.ts';
import type { ScryptParams } from '../domain/password-hasher.ts';
import { MemoryAuthStore } from '../store/memory/memory-auth-store.ts';
import { type ReceivedMail, startTestSmtpServer, type TestSmtpServer } from './smtp-test-server.ts';

export const CHAT_SECRET = 'chat-secret-0123456789';
export const ROOT_EMAIL = 'root@example.com';
/** More addresses on the fixture's admin list (AUTH_ADMIN_EMAILS), for tests of the list itself. */
export const LISTED_EMAILS = ['listed.one@example.com', 'listed.two@example.com', 'listed.three@example.com'] as const;
/** The password `register` and `login` use unless told otherwise. */
export const PASSWORD = 'correct horse battery';
export const MAIL_FROM = 'Messenger <no-reply@messenger.test>';
export const LINK_BASE = 'https://app.messenger.test';
/** Cheap enough for many sign-ins per test, costly enough that timing comparisons see the hash. */
export const TEST_SCRYPT: ScryptParams = { logN: 12, r: 8, p: 1 };

type Registration = Partial<{ email: string; password: string; nickname: string }>;

export interface AuthFixture {
  readonly auth: TestAuth;
  readonly bus: InProcessEventBus;
  readonly pool: ClientPool;
  readonly store: MemoryAuthStore;
  /** The SMTP server auth sends its mails to. */
  readonly smtp: TestSmtpServer;
  /** Replaced by `restartAuth`. */
  readonly client: AuthServiceClient;
  readonly users: UserServiceClient;
  readonly authAddress: string;
  readonly userAddress: string;
  /** Every event published on `auth.events` and `user.events`, in arrival order. */
  readonly events: EventEnvelope[];
  waitForEvent(predicate: (e: EventEnvelope) => boolean, what?: string): Promise<EventEnvelope>;
  /** A unique email and nickname per call. */
  unique(base?: string): { email: string; nickname: string };
  /** Registers a new account: a unique email and nickname and `PASSWORD`, unless given. */
  register(over?: Registration): Promise<RegisterResponse>;
  login(email: string, password?: string): Promise<LoginResponse>;
  refresh(tokens: TokenPair | undefined): Promise<RefreshTokenResponse>;
  /** Asks for the verification mail with the account's token and reads it at the SMTP server. */
  requestVerificationMail(tokens: TokenPair | undefined, email: string): Promise<ReceivedMail>;
  /** Verifies the account's email as its owner would: asks for the mail, follows its link. */
  verifyEmail(tokens: TokenPair | undefined, email: string): Promise<VerifyEmailResponse>;
  /** Signs in as ROOT_EMAIL, registering and verifying it the first time: an admin by the admin list. */
  root(): Promise<RegisterResponse | LoginResponse>;
  /** Stops the auth service and starts it again on the same store, users and bus, with `over` changed. */
  restartAuth(over: Partial<AuthServiceDeps>): Promise<void>;
  /** Whether another service, sharing the revocation list, still accepts the access token. */
  accepted(tokens: TokenPair | undefined): Promise<boolean>;
  /** The `auth.session.revoked` event that names the session. */
  revokedEvent(sessionId: string): Promise<EventEnvelope>;
  close(): Promise<void>;
}

export interface AuthFixtureOptions {
  readonly oauth?: OAuthSettings;
  readonly maxSessionsPerUser?: number;
  /** Over the fixture's: its SMTP server, MAIL_FROM and LINK_BASE. */
  readonly mail?: Partial<MailSettings>;
  /** The revocation list both services (and their authenticator) use; the test key ring's in-memory one by default. */
  readonly revocations?: RevocationList;
  /** The bus both services publish on; a new one by default. Closed by `close()` either way. */
  readonly bus?: InProcessEventBus;
}

export async function startAuthFixture(opts: AuthFixtureOptions = {}): Promise<AuthFixture> {
  const auth = await createTestAuth();
  const revocations = opts.revocations ?? auth.revocations;
  const authenticator = opts.revocations
    ? createTokenAuthenticator({
        issuer: TEST_ISSUER,
        audience: TEST_AUDIENCE,
        serviceAudience: TEST_SERVICE_AUDIENCE,
        jwks: createLocalJwksSource(auth.ring),
        revocations,
      })
    : auth.authenticator;
  const bus = opts.bus ?? new InProcessEventBus();
  const events: EventEnvelope[] = [];
  await bus.subscribe({
    topics: ['auth.events', 'user.events'],
    group: 'auth-spec',
    delivery: 'broadcast',
    handle: async (event) => {
      events.push(event);
    },
  });
  const logger = createLogger({ level: 'silent', service: 'auth' });
  const metrics = createMetrics({ defaultMetrics: false });
  const catalog = await loadMessengerCatalog();
  const user = await startUserService(
    { store: new MemoryUserStore(), bus, logger, metrics, catalog, authenticator },
    { host: '127.0.0.1', port: 0 },
  );
  const pool = createClientPool({ catalog, metrics, defaultDeadlineMs: 5000 });
  const store = new MemoryAuthStore();
  const smtp = await startTestSmtpServer();
  let deps: AuthServiceDeps = {
    store,
    bus,
    logger,
    metrics,
    catalog,
    authenticator,
    signer: auth.signer,
    keys: auth.ring,
    revocations,
    users: grpcUserProfiles({
      pool,
      address: `127.0.0.1:${user.port}`,
      tokens: cachedServiceTokenSource(() => auth.signer.signServiceToken({ service: 'auth' })),
    }),
    oauth: opts.oauth ?? { providers: [], redirectUris: [] },
    mail: { smtpUrl: smtp.url, from: MAIL_FROM, linkBaseUrl: LINK_BASE, ...opts.mail },
    adminEmails: [ROOT_EMAIL, ...LISTED_EMAILS],
    serviceSecrets: new Map([['chat', CHAT_SECRET]]),
    scrypt: TEST_SCRYPT,
    ...(opts.maxSessionsPerUser === undefined ? {} : { maxSessionsPerUser: opts.maxSessionsPerUser }),
  };
  let running: RunningService = await startAuthService(deps, { host: '127.0.0.1', port: 0 });
  let authAddress = `127.0.0.1:${running.port}`;
  let client = new AuthServiceClient(authAddress, credentials.createInsecure());
  const users = new UserServiceClient(`127.0.0.1:${user.port}`, credentials.createInsecure());
  let seq = 0;
  const unique = (base = 'user') => {
    const tag = `${++seq}${Math.floor(Math.random() * 1e6)}`;
    return { email: `${base}.${tag}@example.com`, nickname: `${base}_${tag}` };
  };
  const waitForEvent = async (predicate: (e: EventEnvelope) => boolean, what = 'event') => {
    for (let i = 0; i < 300; i++) {
      const found = events.find(predicate);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`${what} did not arrive`);
  };
  const fixture: AuthFixture = {
    auth,
    bus,
    pool,
    store,
    smtp,
    get client() {
      return client;
    },
    users,
    userAddress: `127.0.0.1:${user.port}`,
    get authAddress() {
      return authAddress;
    },
    events,
    waitForEvent,
    unique,
    register: (over = {}) => call(client, client.register, { ...unique(), password: PASSWORD, ...over }),
    login: (email, password = PASSWORD) => call(client, client.login, { email, password }),
    refresh: (tokens) => call(client, client.refreshToken, { refreshToken: tokens?.refreshToken ?? '' }),
    async requestVerificationMail(tokens, email) {
      const since = smtp.mails.length;
      await call(client, client.requestEmailVerification, {}, auth.bearer(tokens?.accessToken ?? ''));
      return smtp.nextMail(email, { subject: 'Verify', since });
    },
    async verifyEmail(tokens, email) {
      const mail = await fixture.requestVerificationMail(tokens, email);
      return call(client, client.verifyEmail, { token: mail.token ?? '' });
    },
    async root() {
      const signedIn = await fixture.login(ROOT_EMAIL).catch(() => undefined);
      if (signedIn) return signedIn;
      const registered = await fixture.register({ email: ROOT_EMAIL });
      await fixture.verifyEmail(registered.tokens, ROOT_EMAIL);
      // The promotion shows in tokens from the next refresh on; a new sign-in has it.
      return fixture.login(ROOT_EMAIL);
    },
    async restartAuth(over) {
      client.close();
      await running.stop(1000);
      deps = { ...deps, ...over };
      running = await startAuthService(deps, { host: '127.0.0.1', port: 0 });
      authAddress = `127.0.0.1:${running.port}`;
      client = new AuthServiceClient(authAddress, credentials.createInsecure());
    },
    accepted(tokens) {
      const other = createTokenAuthenticator({
        issuer: TEST_ISSUER,
        audience: TEST_AUDIENCE,
        serviceAudience: TEST_SERVICE_AUDIENCE,
        jwks: createLocalJwksSource(auth.ring),
        revocations,
      });
      return other.verifyAccessToken(tokens?.accessToken ?? '').then(
        () => true,
        () => false,
      );
    },
    revokedEvent: (sessionId) =>
      waitForEvent(
        (e) => e.type === 'auth.session.revoked' && payloadOf(e, SessionsRevoked.decode).sessionIds.includes(sessionId),
        `auth.session.revoked of ${sessionId}`,
      ),
    async close() {
      client.close();
      users.close();
      await running.stop(1000);
      await user.stop(1000);
      await bus.close();
      await smtp.close();
      pool.close();
      auth.close();
    },
  };
  return fixture;
}

/** The claims of a JWT, read without verifying it (tests only). */
export function claimsOf(token: string): Record<string, unknown> {
  const payload = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** The session id (`sid`) of a pair's access token. */
export function sessionOf(tokens: TokenPair | undefined): string {
  return claimsOf(tokens?.accessToken ?? '').sid as string;
}

export function payloadOf<T>(event: EventEnvelope, decode: (bytes: Uint8Array) => T): T {
  return decode(event.payload?.value ?? new Uint8Array());
}

export function bearer(fixture: AuthFixture, tokens: TokenPair | undefined): Metadata {
  return fixture.auth.bearer(tokens?.accessToken ?? '');
}

/** The field paths of an INVALID_ARGUMENT failure. */
export async function violations(pending: Promise<unknown>): Promise<string[]> {
  const error = await failure(pending);
  expect(error.code).toBe(status.INVALID_ARGUMENT);
  return fieldViolationsOf(error).map((v) => v.field);
}

export { call, failure };
