/** The OpenID Connect relying-party side, as the use cases need it; implemented with openid-client. */
export interface OidcClient {
  /** Whether `provider` is configured. */
  has(provider: string): boolean;
  /**
   * A new authorization-code attempt with PKCE (S256), `state` and `nonce`:
   * the URL to send the browser to, and the values to keep server-side.
   * `unavailable` when the provider's metadata cannot be fetched.
   */
  begin(provider: string, redirectUri: string): Promise<OidcAttempt>;
  /**
   * Exchanges the code at the provider's token endpoint (with the PKCE
   * verifier) and validates the ID token (issuer, audience, expiry, nonce).
   * `unauthenticated` when the provider refuses the code or the ID token is
   * not valid; `unavailable` when the provider cannot be reached.
   */
  finish(provider: string, callback: OidcCallback): Promise<OidcIdentity>;
}

export interface OidcAttempt {
  readonly authorizationUrl: string;
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
}

export interface OidcCallback {
  readonly redirectUri: string;
  readonly code: string;
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
}

/** Who the provider says signed in. */
export interface OidcIdentity {
  readonly subject: string;
  readonly email: string | undefined;
  /** Only `true` from the provider counts. */
  readonly emailVerified: boolean;
  readonly preferredUsername: string | undefined;
}
