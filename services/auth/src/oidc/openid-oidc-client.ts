// The OpenID Connect relying party, on openid-client: discovery, PKCE, state,
// nonce, the code exchange and ID token validation are all the library's.
import { DomainError } from '@messenger/platform/domain';
import type { Logger } from '@messenger/platform/logger';
import * as oidc from 'openid-client';
import { oauthCodeRejected, oauthProviderUnavailable } from '../domain/auth-errors.ts';
import type { OidcAttempt, OidcCallback, OidcClient, OidcIdentity } from '../domain/oidc.ts';

/** One configured provider (AUTH_OIDC_PROVIDERS). */
export interface OidcProviderConfig {
  /** The provider id in the API, e.g. `google`. */
  readonly name: string;
  /** The issuer identifier; its discovery document is at `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** How the client authenticates at the token endpoint; `client_secret_basic` unless the provider wants POST. */
  readonly tokenEndpointAuthMethod: 'client_secret_basic' | 'client_secret_post';
}

export interface OpenIdOidcClientOptions {
  readonly providers: readonly OidcProviderConfig[];
  readonly logger: Logger;
  /** Seconds each call to a provider may take (discovery, token, userinfo); default 10. */
  readonly timeoutSeconds?: number;
}

const SCOPE = 'openid email profile';

/**
 * Provider metadata is discovered on first use and kept; a failed discovery
 * is forgotten so the next call tries again, and a provider that is down
 * fails only its own sign-ins (UNAVAILABLE), never the service's start-up.
 */
export function createOpenIdOidcClient(opts: OpenIdOidcClientOptions): OidcClient {
  const providers = new Map(opts.providers.map((p) => [p.name, p]));
  const discovered = new Map<string, Promise<oidc.Configuration>>();
  const timeout = opts.timeoutSeconds ?? 10;

  const configurationOf = async (name: string): Promise<oidc.Configuration> => {
    const provider = providers.get(name);
    if (!provider) throw new Error(`provider ${name} is not configured`);
    let pending = discovered.get(name);
    if (!pending) {
      const issuer = new URL(provider.issuer);
      const auth =
        provider.tokenEndpointAuthMethod === 'client_secret_post'
          ? oidc.ClientSecretPost(provider.clientSecret)
          : oidc.ClientSecretBasic(provider.clientSecret);
      pending = oidc.discovery(issuer, provider.clientId, { client_secret: provider.clientSecret }, auth, {
        // Plain HTTP only for a provider on this machine (tests, local development); config refuses it elsewhere.
        execute: issuer.protocol === 'http:' ? [oidc.allowInsecureRequests] : [],
        timeout,
      });
      discovered.set(name, pending);
      pending.catch(() => discovered.delete(name));
    }
    try {
      return await pending;
    } catch (error) {
      opts.logger.warn({ err: error, provider: name }, 'OpenID provider discovery failed');
      throw oauthProviderUnavailable(error);
    }
  };

  return {
    has: (provider) => providers.has(provider),

    async begin(provider, redirectUri): Promise<OidcAttempt> {
      const configuration = await configurationOf(provider);
      const codeVerifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const url = oidc.buildAuthorizationUrl(configuration, {
        redirect_uri: redirectUri,
        scope: SCOPE,
        code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      });
      return { authorizationUrl: url.href, state, nonce, codeVerifier };
    },

    async finish(provider, callback: OidcCallback): Promise<OidcIdentity> {
      const configuration = await configurationOf(provider);
      // The browser's redirect rebuilt from what the client passed on. A
      // provider that says it names itself in the redirect
      // (`authorization_response_iss_parameter_supported`) makes openid-client
      // demand `iss`; the state was issued for this provider only, so its
      // issuer is the one the code came from (the contract does not carry
      // `iss` through).
      const currentUrl = new URL(callback.redirectUri);
      currentUrl.searchParams.set('code', callback.code);
      currentUrl.searchParams.set('state', callback.state);
      const metadata = configuration.serverMetadata();
      if (metadata.authorization_response_iss_parameter_supported) currentUrl.searchParams.set('iss', metadata.issuer);
      try {
        const tokens = await oidc.authorizationCodeGrant(configuration, currentUrl, {
          pkceCodeVerifier: callback.codeVerifier,
          expectedState: callback.state,
          expectedNonce: callback.nonce,
          idTokenExpected: true,
        });
        const claims = tokens.claims();
        if (!claims) throw new oidc.ClientError('no ID token in the token response');
        let { email, email_verified: verified, preferred_username: username } = claims;
        // Providers that keep the ID token minimal (OpenID Connect's default
        // for the code flow) give the email and profile claims from userinfo;
        // its `sub` must match the ID token's (openid-client checks).
        if ((email === undefined || verified === undefined) && metadata.userinfo_endpoint) {
          const info = await oidc.fetchUserInfo(configuration, tokens.access_token, claims.sub);
          email ??= info.email;
          verified ??= info.email_verified;
          username ??= info.preferred_username;
        }
        return {
          subject: claims.sub,
          email: typeof email === 'string' && email !== '' ? email : undefined,
          // Some providers send the string "true".
          emailVerified: verified === true || verified === 'true',
          preferredUsername: typeof username === 'string' ? username : undefined,
        };
      } catch (error) {
        throw translate(error, provider, opts.logger);
      }
    },
  };
}

/**
 * Refusals by the provider (an OAuth error, a response or ID token that does
 * not validate) are the caller's UNAUTHENTICATED; anything that looks like
 * the provider being unreachable or broken (network, timeout, 5xx, non-JSON)
 * is UNAVAILABLE. Library and provider text stays in the log.
 */
function translate(error: unknown, provider: string, logger: Logger): DomainError {
  if (error instanceof DomainError) return error;
  const refused =
    error instanceof oidc.ResponseBodyError ||
    error instanceof oidc.AuthorizationResponseError ||
    error instanceof oidc.WWWAuthenticateChallengeError ||
    (error instanceof oidc.ClientError &&
      error.code !== 'OAUTH_RESPONSE_IS_NOT_CONFORM' &&
      error.code !== 'OAUTH_RESPONSE_IS_NOT_JSON');
  logger.info({ err: error, provider, refused }, 'OpenID code exchange failed');
  return refused ? oauthCodeRejected(error) : oauthProviderUnavailable(error);
}
