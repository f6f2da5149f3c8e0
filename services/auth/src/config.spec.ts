import { ConfigError } from '@messenger/platform/config';
import { authPolicyDeps, loadAuthConfig } from './config.ts';

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadAuthConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
};

describe('auth config', () => {
  it('starts with defaults: no providers, no service secrets, generated keys', () => {
    const config = loadAuthConfig({});
    expect(config.grpcPort).toBe(50051);
    expect(config.oidcProviders).toEqual([]);
    expect(config.serviceSecrets.size).toBe(0);
    expect(config.signingKeys).toBe('generate');
    expect(config.accessTokenTtlSeconds).toBe(900);
    // No SMTP: mails are logged; OWASP's scrypt cost; 50 sessions a user.
    expect(authPolicyDeps(config)).toMatchObject({
      mail: { from: '', linkBaseUrl: '', verificationTtlSeconds: 86400, resetTtlSeconds: 3600 },
      scrypt: { logN: 17, r: 8, p: 1 },
      maxSessionsPerUser: 50,
      oauth: { maxPendingAttempts: 100_000 },
    });
    expect(authPolicyDeps(config).mail).not.toHaveProperty('smtpUrl');
  });

  it('takes SMTP settings together, checking each without echoing the URL', () => {
    const config = loadAuthConfig({
      AUTH_SMTP_URL: 'smtps://mailer%40example.com:s3cr%2Ft@smtp.example.com',
      AUTH_MAIL_FROM: 'Messenger <no-reply@example.com>',
      AUTH_EMAIL_LINK_BASE_URL: 'https://app.example.com/',
      AUTH_PASSWORD_RESET_TTL_SECONDS: '900',
    });
    expect(authPolicyDeps(config).mail).toEqual({
      smtpUrl: 'smtps://mailer%40example.com:s3cr%2Ft@smtp.example.com',
      from: 'Messenger <no-reply@example.com>',
      linkBaseUrl: 'https://app.example.com/',
      verificationTtlSeconds: 86400,
      resetTtlSeconds: 900,
      resendIntervalSeconds: 60,
    });
    expect(problemsOf({ AUTH_SMTP_URL: 'smtp://relay.internal:25' })).toEqual([
      'AUTH_MAIL_FROM: is required when AUTH_SMTP_URL is set',
      'AUTH_EMAIL_LINK_BASE_URL: is required when AUTH_SMTP_URL is set',
    ]);
    const problems = problemsOf({
      AUTH_SMTP_URL: 'https://user:hunter2@smtp.example.com',
      AUTH_MAIL_FROM: 'Messenger <not an address>',
      AUTH_EMAIL_LINK_BASE_URL: 'http://app.example.com/?x=1',
    });
    expect(problems).toEqual([
      'AUTH_SMTP_URL: must be smtp://host[:port] or smtps://host[:port], with optional user:password@',
      'AUTH_MAIL_FROM: "Messenger <not an address>" must be an address or "Name <address>"',
      'AUTH_EMAIL_LINK_BASE_URL: "http://app.example.com/?x=1" must be https (http only on a loopback host)',
    ]);
    expect(problems.join('\n')).not.toContain('hunter2');
    expect(problemsOf({ AUTH_SCRYPT_LOG_N: '9', AUTH_MAX_SESSIONS_PER_USER: '0' })).toEqual([
      'AUTH_MAX_SESSIONS_PER_USER: Too small: expected number to be >=1 (got "0")',
      'AUTH_SCRYPT_LOG_N: Too small: expected number to be >=10 (got "9")',
    ]);
  });

  it('parses providers, redirect URIs, admin emails and secrets in both forms', () => {
    const config = loadAuthConfig({
      AUTH_OIDC_PROVIDERS: JSON.stringify([
        { name: 'google', issuer: 'https://accounts.google.com', clientId: 'id', clientSecret: 'secret' },
        {
          name: 'local',
          issuer: 'http://127.0.0.1:9000/oidc',
          clientId: 'id',
          clientSecret: 'secret',
          tokenEndpointAuthMethod: 'client_secret_post',
        },
      ]),
      AUTH_OAUTH_REDIRECT_URIS: 'https://app.example.com/oauth/callback, http://localhost:3000/cb',
      AUTH_ADMIN_EMAILS: 'Root@Example.com',
      AUTH_SERVICE_SECRETS: '{"chat": "0123456789abcdef"}',
    });
    expect(config.oidcProviders.map((p) => [p.name, p.tokenEndpointAuthMethod])).toEqual([
      ['google', 'client_secret_basic'],
      ['local', 'client_secret_post'],
    ]);
    expect([...config.oauthRedirectUris]).toEqual([
      'https://app.example.com/oauth/callback',
      'http://localhost:3000/cb',
    ]);
    expect([...config.adminEmails]).toEqual(['root@example.com']);
    expect(config.serviceSecrets).toEqual(new Map([['chat', '0123456789abcdef']]));
  });

  it('refuses bad values at start-up, naming each, never echoing a secret', () => {
    const problems = problemsOf({
      AUTH_OIDC_PROVIDERS: JSON.stringify([
        { name: 'Bad Name', issuer: 'http://idp.example.com', clientId: '', clientSecret: 'top-secret-value' },
        {
          name: 'ok',
          issuer: 'https://idp.example.com',
          clientId: 'id',
          clientSecret: 's',
          tokenEndpointAuthMethod: 'x',
        },
      ]),
      AUTH_OAUTH_REDIRECT_URIS: 'https://app.example.com/cb?x=1,https://app.example.com',
      AUTH_ADMIN_EMAILS: 'not-an-email',
      AUTH_SERVICE_SECRETS: 'chat:short,Bad:0123456789abcdef',
    });
    expect(problems).toEqual([
      'AUTH_ADMIN_EMAILS: "not-an-email" is not an email address',
      'AUTH_SERVICE_SECRETS: the secret of chat must be at least 16 characters',
      'AUTH_SERVICE_SECRETS: service name "Bad" must match /^[a-z][a-z0-9-]{0,62}$/',
      'AUTH_OIDC_PROVIDERS[0].name: must be 1-32 characters of a-z, 0-9 and "-"',
      'AUTH_OIDC_PROVIDERS[0].issuer: must be https (http only on a loopback host)',
      'AUTH_OIDC_PROVIDERS[0].clientId: is required',
      'AUTH_OIDC_PROVIDERS[1].tokenEndpointAuthMethod: must be one of client_secret_basic, client_secret_post',
      'AUTH_OAUTH_REDIRECT_URIS: "https://app.example.com/cb?x=1" must have no query or fragment',
      'AUTH_OAUTH_REDIRECT_URIS: "https://app.example.com" must be written as https://app.example.com/',
    ]);
    expect(problems.join('\n')).not.toContain('top-secret-value');
    expect(problems.join('\n')).not.toContain('short');
    expect(problemsOf({ AUTH_OIDC_PROVIDERS: 'nope' })).toEqual(['AUTH_OIDC_PROVIDERS: not valid JSON']);
    expect(
      problemsOf({
        AUTH_OIDC_PROVIDERS: JSON.stringify([
          { name: 'a', issuer: 'https://a.example', clientId: 'i', clientSecret: 's' },
        ]),
      }),
    ).toEqual(['AUTH_OAUTH_REDIRECT_URIS: must list at least one URI when AUTH_OIDC_PROVIDERS is set']);
  });
});
