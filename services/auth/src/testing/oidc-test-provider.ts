// Tests only: a real OpenID provider (oidc-provider) on loopback, and a
// browser stand-in that walks its login and consent pages over HTTP.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type AccountClaims } from 'oidc-provider';

export interface TestOidcProvider {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Adds (or replaces) an account at the provider; `sub` is also what is typed as the login. */
  addAccount(claims: AccountClaims): void;
  /**
   * What a browser does with the authorization URL: follows the redirects,
   * signs in as `login` on the login page, approves the consent page, and
   * returns the final redirect to the client (carrying `code` and `state`).
   */
  signIn(authorizationUrl: string, login: string): Promise<URL>;
  close(): Promise<void>;
}

export interface TestOidcProviderOptions {
  readonly redirectUris: readonly string[];
  /**
   * oidc-provider's default (true) keeps scope claims such as `email` out of
   * the code flow's ID token (clients read them from userinfo); false puts
   * them in the ID token, as e.g. Google does.
   */
  readonly conformIdTokenClaims?: boolean;
}

export async function startTestOidcProvider(opts: TestOidcProviderOptions): Promise<TestOidcProvider> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'messenger';
  const clientSecret = 'messenger-client-secret';
  const accounts = new Map<string, AccountClaims>();
  const provider = quietly(
    () =>
      new Provider(issuer, {
        clients: [
          {
            client_id: clientId,
            client_secret: clientSecret,
            redirect_uris: [...opts.redirectUris],
            response_types: ['code'],
            grant_types: ['authorization_code'],
            token_endpoint_auth_method: 'client_secret_basic',
          },
        ],
        // Every authorization request must carry a PKCE challenge.
        pkce: { required: () => true },
        claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['preferred_username'] },
        conformIdTokenClaims: opts.conformIdTokenClaims ?? true,
        cookies: { keys: ['oidc-test-provider-cookie-key'] },
        ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
        // The provider's own login and consent pages (development interactions).
        features: { devInteractions: { enabled: true } },
        findAccount: async (_ctx, id) => {
          const claims = accounts.get(id);
          return claims && { accountId: id, claims: async () => claims };
        },
      }),
  );
  server.on('request', provider.callback());

  return {
    issuer,
    clientId,
    clientSecret,
    addAccount: (claims) => {
      accounts.set(claims.sub, claims);
    },
    signIn: (authorizationUrl, login) => walk(authorizationUrl, login, opts.redirectUris),
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/**
 * Runs `build` without oidc-provider's start-up warnings about its
 * development-only defaults (in-memory storage, generated keys, built-in
 * login pages): using them is the point here. Other output passes through.
 */
function quietly<T>(build: () => T): T {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('oidc-provider WARNING')) return;
    warn(...args);
  };
  try {
    return build();
  } finally {
    console.warn = warn;
  }
}

/** Follows redirects by hand (fetch with `redirect: 'manual'`), keeping cookies, submitting each interaction form. */
async function walk(start: string, login: string, redirectUris: readonly string[]): Promise<URL> {
  const cookies = new Map<string, string>();
  const remember = (response: Response) => {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) cookies.delete(name);
      else cookies.set(name, value);
    }
  };
  const request = async (url: URL, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (cookies.size > 0) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    remember(response);
    return response;
  };

  let url = new URL(start);
  for (let step = 0; step < 12; step++) {
    const response = await request(url);
    if (response.status >= 300 && response.status < 400) {
      const next = new URL(response.headers.get('location') ?? '', url);
      if (redirectUris.some((r) => next.href.startsWith(r))) return next;
      url = next;
      continue;
    }
    const page = await response.text();
    if (response.status !== 200) throw new Error(`provider answered ${response.status}: ${page.slice(0, 500)}`);
    // A login or consent page: submit its form as a person would.
    const prompt = /name="prompt" value="(\w+)"/.exec(page)?.[1];
    const action = /<form[^>]*action="([^"]+)"/.exec(page)?.[1];
    if (!prompt || !action) throw new Error(`unexpected page at ${url.href}: ${page.slice(0, 500)}`);
    const form = new URLSearchParams({ prompt });
    if (prompt === 'login') {
      form.set('login', login);
      form.set('password', 'any password: the development login accepts any');
    }
    const submitted = await request(new URL(action.replaceAll('&amp;', '&'), url), {
      method: 'POST',
      body: form,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    if (submitted.status < 300 || submitted.status >= 400) {
      throw new Error(`submitting ${prompt} answered ${submitted.status}: ${(await submitted.text()).slice(0, 500)}`);
    }
    url = new URL(submitted.headers.get('location') ?? '', url);
  }
  throw new Error('the provider never redirected back to the client');
}
