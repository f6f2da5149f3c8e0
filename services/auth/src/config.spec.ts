import { ConfigError } from '@messenger/platform/config';
import { loadAuthConfig } from './config.ts';

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
  it('starts with defaults: no providers, development service secrets, generated keys', () => {
    const config = loadAuthConfig({});
    expect(config.grpcPort).toBe(50051);
    expect(config.oidcProviders).toEqual([]);
    expect([...config.serviceSecrets.keys()]).toEqual(['subscriber', 'chat', 'api-gateway']);
    expect(config.signingKeys).toBe('generate');
    expect(config.accessTokenTtlSeconds).toBe(900);
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
