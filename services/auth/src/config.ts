import { ConfigError, type ConfigOf, type ConfigSpec, loadConfig, setting } from '@messenger/platform/config';
import { grpcServiceSettings, runtimeSettings, serviceAddressSettings } from '@messenger/platform/runtime';
import type { AuthServiceDeps } from './app.ts';
import { emailProblem, normalizeEmail } from './domain/account.ts';
import { isLoopbackHost } from './loopback.ts';
import type { OidcProviderConfig } from './oidc/openid-oidc-client.ts';

/** Every setting of the auth service; the only place its environment is read. */
export const authSettings = {
  ...runtimeSettings,
  // USER_SERVICE_ADDRESS: where registration creates profiles.
  userServiceAddress: serviceAddressSettings.userServiceAddress,
  ...grpcServiceSettings('auth', 50051, 'accounts and sessions'),
  signingKeys: setting.string('AUTH_SIGNING_KEYS', 'generate', {
    description:
      'The token signing keys: a JWK set of EC P-256 private keys, `{"keys": [active, next, ...published]}`, shared by every auth replica so tokens survive restarts; rotate by setting `[next, new, old]` and dropping `old` 20 minutes later. `generate`: a fresh ring at each start (the embedded mode with EMBEDDED_STORAGE=sqlite generates one once and keeps it in DATA_DIR).',
    secret: true,
  }),
  accessTokenTtlSeconds: setting.int(
    'AUTH_ACCESS_TOKEN_TTL_SECONDS',
    900,
    { min: 60, max: 900 },
    { description: 'Lifetime of access tokens.' },
  ),
  refreshTokenTtlSeconds: setting.int(
    'AUTH_REFRESH_TOKEN_TTL_SECONDS',
    30 * 24 * 3600,
    { min: 3600, max: 365 * 24 * 3600 },
    { description: 'Lifetime of a refresh token from its issue; every refresh issues a new one.' },
  ),
  serviceTokenTtlSeconds: setting.int(
    'AUTH_SERVICE_TOKEN_TTL_SECONDS',
    600,
    { min: 120, max: 900 },
    { description: 'Lifetime of service tokens from IssueServiceToken (callers renew 60 s before expiry).' },
  ),
  adminEmails: setting.list('AUTH_ADMIN_EMAILS', '', {
    description:
      'Comma-separated emails whose accounts become admins once, when the email is verified (verification link, password reset, or an OAuth sign-up whose provider asserts it); never at sign-in, so a later demotion sticks. An account verified before its email was listed is promoted with SetUserRole.',
  }),
  maxSessionsPerUser: setting.int(
    'AUTH_MAX_SESSIONS_PER_USER',
    50,
    { min: 1, max: 1000 },
    { description: 'Active sessions one user may hold; a sign-in beyond it ends the least recently used session.' },
  ),
  scryptLogN: setting.int(
    'AUTH_SCRYPT_LOG_N',
    17,
    { min: 10, max: 20 },
    {
      description:
        "log2 of scrypt's cost N for new password hashes (r = 8, p = 1; 17 is OWASP's recommendation, 128 MiB per hash). Hashes with other params still verify and are replaced at the next sign-in. Lower only in tests.",
    },
  ),
  smtpUrl: setting.optionalString('AUTH_SMTP_URL', {
    description:
      "The SMTP server that verification and password-reset mails go through: `smtps://user:password@host:465` (TLS) or `smtp://…` (STARTTLS, required unless the host is loopback); URL-encode the user and password. Unset: nothing is sent and each mail's link is logged instead (embedded mode, development only).",
    secret: true,
  }),
  mailFrom: setting.optionalString('AUTH_MAIL_FROM', {
    description: "The From of auth's mails, e.g. `Messenger <no-reply@example.com>`. Required with AUTH_SMTP_URL.",
  }),
  emailLinkBaseUrl: setting.optionalString('AUTH_EMAIL_LINK_BASE_URL', {
    description:
      'The web app the mailed links open: `<base>/verify-email#token=…` and `<base>/reset-password#token=…`; its pages POST the token to /v1/auth/email/verify and /v1/auth/password/reset. https (http only on loopback), no query or fragment. Required with AUTH_SMTP_URL.',
  }),
  emailVerificationTtlSeconds: setting.int(
    'AUTH_EMAIL_VERIFICATION_TTL_SECONDS',
    24 * 3600,
    { min: 600, max: 7 * 24 * 3600 },
    { description: 'How long an email verification link works.' },
  ),
  passwordResetTtlSeconds: setting.int(
    'AUTH_PASSWORD_RESET_TTL_SECONDS',
    3600,
    { min: 300, max: 24 * 3600 },
    { description: 'How long a password-reset link works.' },
  ),
  emailResendIntervalSeconds: setting.int(
    'AUTH_EMAIL_RESEND_INTERVAL_SECONDS',
    60,
    { min: 0, max: 3600 },
    { description: 'The least time between two mails of one kind to one account (a new mail voids the earlier link).' },
  ),
  serviceSecrets: setting.optionalString('AUTH_SERVICE_SECRETS', {
    description:
      'The secret of each service that may ask IssueServiceToken: `name:secret,…` or a JSON object `{"name": "secret"}`; secrets of at least 16 characters, each equal to that service\'s `<NAME>_SERVICE_SECRET`. Required in cluster mode (no default); embedded mode does not use it.',
    secret: true,
  }),
  oidcProviders: setting.string('AUTH_OIDC_PROVIDERS', '[]', {
    description:
      'OpenID Connect providers as a JSON array of `{"name", "issuer", "clientId", "clientSecret"}` (optional `"tokenEndpointAuthMethod"`: `client_secret_basic` (default) or `client_secret_post`). Issuers must be https (http only on loopback).',
    secret: true,
  }),
  oauthRedirectUris: setting.list('AUTH_OAUTH_REDIRECT_URIS', '', {
    description:
      'Comma-separated redirect URIs StartOAuth accepts, compared exactly; https (http only on loopback), no query or fragment. Required when providers are configured.',
  }),
  oauthStateTtlSeconds: setting.int(
    'AUTH_OAUTH_STATE_TTL_SECONDS',
    600,
    { min: 60, max: 3600 },
    { description: 'How long a started OAuth sign-in can be completed.' },
  ),
  oauthMaxPendingAttempts: setting.int(
    'AUTH_OAUTH_MAX_PENDING_ATTEMPTS',
    100_000,
    { min: 100, max: 10_000_000 },
    {
      description:
        'Started OAuth sign-ins kept at most; beyond it the oldest are dropped (expired ones always are), so a flood of StartOAuth calls cannot grow the store without bound.',
    },
  ),
  oidcTimeoutSeconds: setting.int(
    'AUTH_OIDC_TIMEOUT_SECONDS',
    10,
    { min: 1, max: 60 },
    { description: 'Timeout of each call to an OpenID provider (discovery, token, userinfo).' },
  ),
} satisfies ConfigSpec;

type RawAuthConfig = ConfigOf<typeof authSettings>;

/** The settings, with the structured ones parsed and checked. */
export interface AuthConfig
  extends Omit<RawAuthConfig, 'adminEmails' | 'serviceSecrets' | 'oidcProviders' | 'oauthRedirectUris'> {
  /** Normalized. */
  readonly adminEmails: ReadonlySet<string>;
  readonly serviceSecrets: ReadonlyMap<string, string>;
  readonly oidcProviders: readonly OidcProviderConfig[];
  readonly oauthRedirectUris: ReadonlySet<string>;
}

export function loadAuthConfig(env: Readonly<Record<string, string | undefined>>): AuthConfig {
  const raw = loadConfig(authSettings, env);
  const problems: string[] = [];
  const adminEmails = parseAdminEmails(raw.adminEmails, problems);
  const serviceSecrets = parseServiceSecrets(raw.serviceSecrets, problems);
  const oidcProviders = parseProviders(raw.oidcProviders, problems);
  const oauthRedirectUris = parseRedirectUris(raw.oauthRedirectUris, problems);
  if (oidcProviders.length > 0 && oauthRedirectUris.size === 0) {
    problems.push('AUTH_OAUTH_REDIRECT_URIS: must list at least one URI when AUTH_OIDC_PROVIDERS is set');
  }
  checkMailSettings(raw, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return { ...raw, adminEmails, serviceSecrets, oidcProviders, oauthRedirectUris };
}

/** The service's own settings as `startAuthService` takes them (main.ts and the embedded runner). */
export function authPolicyDeps(
  config: AuthConfig,
): Pick<
  AuthServiceDeps,
  'oauth' | 'adminEmails' | 'serviceSecrets' | 'lifetimes' | 'mail' | 'maxSessionsPerUser' | 'scrypt'
> {
  return {
    oauth: {
      providers: config.oidcProviders,
      redirectUris: config.oauthRedirectUris,
      stateTtlSeconds: config.oauthStateTtlSeconds,
      timeoutSeconds: config.oidcTimeoutSeconds,
      maxPendingAttempts: config.oauthMaxPendingAttempts,
    },
    mail: {
      ...(config.smtpUrl === '' ? {} : { smtpUrl: config.smtpUrl }),
      from: config.mailFrom,
      linkBaseUrl: config.emailLinkBaseUrl,
      verificationTtlSeconds: config.emailVerificationTtlSeconds,
      resetTtlSeconds: config.passwordResetTtlSeconds,
      resendIntervalSeconds: config.emailResendIntervalSeconds,
    },
    maxSessionsPerUser: config.maxSessionsPerUser,
    scrypt: { logN: config.scryptLogN, r: 8, p: 1 },
    adminEmails: config.adminEmails,
    serviceSecrets: config.serviceSecrets,
    lifetimes: {
      accessTokenSeconds: config.accessTokenTtlSeconds,
      refreshTokenSeconds: config.refreshTokenTtlSeconds,
      serviceTokenSeconds: config.serviceTokenTtlSeconds,
    },
  };
}

const SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const PROVIDER_NAME = /^[a-z0-9-]{1,32}$/;
const MIN_SECRET_LENGTH = 16;
const AUTH_METHODS = ['client_secret_basic', 'client_secret_post'] as const;

function parseAdminEmails(list: readonly string[], problems: string[]): Set<string> {
  for (const email of list) {
    if (emailProblem(email)) problems.push(`AUTH_ADMIN_EMAILS: ${JSON.stringify(email)} is not an email address`);
  }
  return new Set(list.map(normalizeEmail));
}

// Secret values are never echoed in problems; names are.
function parseServiceSecrets(text: string, problems: string[]): Map<string, string> {
  const where = 'AUTH_SERVICE_SECRETS';
  let pairs: [string, unknown][];
  if (text.trim().startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      problems.push(`${where}: not valid JSON`);
      return new Map();
    }
    if (!isRecord(parsed)) {
      problems.push(`${where}: must be a JSON object of name → secret`);
      return new Map();
    }
    pairs = Object.entries(parsed);
  } else {
    pairs = text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((entry) => {
        const colon = entry.indexOf(':');
        return colon < 0 ? [entry, undefined] : [entry.slice(0, colon).trim(), entry.slice(colon + 1)];
      });
  }
  const secrets = new Map<string, string>();
  for (const [name, secret] of pairs) {
    if (!SERVICE_NAME.test(name))
      problems.push(`${where}: service name ${JSON.stringify(name)} must match ${SERVICE_NAME}`);
    else if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
      problems.push(`${where}: the secret of ${name} must be at least ${MIN_SECRET_LENGTH} characters`);
    } else if (secrets.has(name)) problems.push(`${where}: ${name} is listed twice`);
    else secrets.set(name, secret);
  }
  return secrets;
}

function parseProviders(text: string, problems: string[]): OidcProviderConfig[] {
  const where = 'AUTH_OIDC_PROVIDERS';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    problems.push(`${where}: not valid JSON`);
    return [];
  }
  if (!Array.isArray(parsed)) {
    problems.push(`${where}: must be a JSON array`);
    return [];
  }
  const providers: OidcProviderConfig[] = [];
  parsed.forEach((entry: unknown, i) => {
    const at = `${where}[${i}]`;
    if (!isRecord(entry)) {
      problems.push(`${at}: must be an object`);
      return;
    }
    const { name, issuer, clientId, clientSecret, tokenEndpointAuthMethod } = entry;
    const before = problems.length;
    if (typeof name !== 'string' || !PROVIDER_NAME.test(name)) {
      problems.push(`${at}.name: must be 1-32 characters of a-z, 0-9 and "-"`);
    } else if (providers.some((p) => p.name === name)) problems.push(`${at}.name: ${name} is listed twice`);
    const issuerProblem = typeof issuer === 'string' ? urlProblem(issuer, false) : 'is required';
    if (issuerProblem) problems.push(`${at}.issuer: ${issuerProblem}`);
    if (typeof clientId !== 'string' || clientId === '') problems.push(`${at}.clientId: is required`);
    if (typeof clientSecret !== 'string' || clientSecret === '') problems.push(`${at}.clientSecret: is required`);
    const method = tokenEndpointAuthMethod ?? 'client_secret_basic';
    if (!AUTH_METHODS.includes(method as (typeof AUTH_METHODS)[number])) {
      problems.push(`${at}.tokenEndpointAuthMethod: must be one of ${AUTH_METHODS.join(', ')}`);
    }
    if (problems.length > before) return;
    providers.push({
      name: name as string,
      issuer: issuer as string,
      clientId: clientId as string,
      clientSecret: clientSecret as string,
      tokenEndpointAuthMethod: method as OidcProviderConfig['tokenEndpointAuthMethod'],
    });
  });
  return providers;
}

/** The SMTP URL (never echoed: it may hold a password), and what sending needs besides it. */
function checkMailSettings(raw: RawAuthConfig, problems: string[]): void {
  if (raw.smtpUrl !== '') {
    const url = URL.parse(raw.smtpUrl);
    if (!url || (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') || url.hostname === '') {
      problems.push('AUTH_SMTP_URL: must be smtp://host[:port] or smtps://host[:port], with optional user:password@');
    } else if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
      problems.push('AUTH_SMTP_URL: must have no path, query or fragment');
    }
    if (raw.mailFrom === '') problems.push('AUTH_MAIL_FROM: is required when AUTH_SMTP_URL is set');
    if (raw.emailLinkBaseUrl === '') problems.push('AUTH_EMAIL_LINK_BASE_URL: is required when AUTH_SMTP_URL is set');
  }
  if (raw.mailFrom !== '') {
    const address = /^(?:[^<>]*<([^<>]+)>|([^<>]+))$/.exec(raw.mailFrom.trim());
    if (/[\r\n]/.test(raw.mailFrom) || !address || emailProblem(address[1] ?? address[2] ?? '') !== undefined) {
      problems.push(`AUTH_MAIL_FROM: ${JSON.stringify(raw.mailFrom)} must be an address or "Name <address>"`);
    }
  }
  if (raw.emailLinkBaseUrl !== '') {
    const problem = urlProblem(raw.emailLinkBaseUrl, false);
    if (problem) problems.push(`AUTH_EMAIL_LINK_BASE_URL: ${JSON.stringify(raw.emailLinkBaseUrl)} ${problem}`);
  }
}

function parseRedirectUris(list: readonly string[], problems: string[]): Set<string> {
  for (const uri of list) {
    const problem = urlProblem(uri, true);
    if (problem) problems.push(`AUTH_OAUTH_REDIRECT_URIS: ${JSON.stringify(uri)} ${problem}`);
  }
  return new Set(list);
}

/**
 * https, or http on a loopback host; no query or fragment (the code exchange
 * sends a redirect URI without them, and it must match the one authorized).
 * A redirect URI must be in canonical form (`exact`), since it is compared
 * exactly and the code exchange sends the canonical form.
 */
function urlProblem(text: string, exact: boolean): string | undefined {
  const url = URL.parse(text);
  if (!url) return 'must be an absolute URL';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    return 'must be https (http only on a loopback host)';
  }
  if (url.search !== '' || url.hash !== '' || text.includes('?') || text.includes('#')) {
    return 'must have no query or fragment';
  }
  if (url.username !== '' || url.password !== '') return 'must not carry credentials';
  if (exact && url.href !== text) return `must be written as ${url.href}`;
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
