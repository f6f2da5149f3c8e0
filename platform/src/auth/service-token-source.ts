import type { SignedToken } from './token-signer.ts';

/**
 * Where a service gets the credential it presents when calling another
 * service. Tokens are short-lived; the source renews one shortly before it
 * expires and concurrent callers share a single renewal.
 */
export interface ServiceTokenSource {
  token(): Promise<string>;
}

/** Renew this long before expiry so a token never expires in flight. */
const RENEW_BEFORE_SECONDS = 60;

/**
 * Wraps `issue` (a local signer in embedded mode and tests, or a call to the
 * auth service's IssueServiceToken in a cluster) with caching and renewal.
 */
export function cachedServiceTokenSource(
  issue: () => Promise<SignedToken>,
  now: () => number = () => Date.now() / 1000,
): ServiceTokenSource {
  let current: SignedToken | undefined;
  let pending: Promise<SignedToken> | undefined;
  return {
    async token() {
      if (current && current.expiresAt - RENEW_BEFORE_SECONDS > now()) return current.token;
      pending ??= issue().finally(() => {
        pending = undefined;
      });
      current = await pending;
      return current.token;
    },
  };
}
