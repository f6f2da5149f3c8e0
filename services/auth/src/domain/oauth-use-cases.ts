import { randomInt, randomUUID } from 'node:crypto';
import { DomainError, throwIfInvalid, violation } from '@messenger/platform/domain';
import type { Logger } from '@messenger/platform/logger';
import {
  type Account,
  emailProblem,
  nicknameFrom,
  normalizeEmail,
  type OAuthIdentity,
  providerProblem,
} from './account.ts';
import type { AdminBootstrap } from './admin-bootstrap.ts';
import {
  AuthErrorReason,
  accountKeptChanging,
  oauthEmailNotVerified,
  oauthEmailUnusable,
  oauthLinkRequiresVerifiedEmail,
  oauthProviderNotFound,
  oauthStateInvalid,
} from './auth-errors.ts';
import { type AuthStorage, isStoreError } from './auth-storage.ts';
import type { OidcClient, OidcIdentity } from './oidc.ts';
import { secretHash } from './secrets.ts';
import type { Sessions, TokenPair } from './sessions.ts';
import type { Profile, UserProfiles } from './user-profiles.ts';

export interface OAuthUseCaseDeps {
  readonly store: AuthStorage;
  readonly users: UserProfiles;
  readonly sessions: Sessions;
  readonly admins: AdminBootstrap;
  readonly oidc: OidcClient;
  /** Redirect URIs a flow may return to, compared exactly. */
  readonly redirectUris: ReadonlySet<string>;
  /** How long a started flow can be completed; the contract's default is 600. */
  readonly stateTtlSeconds: number;
  /** Started flows kept at most; beyond it the oldest are dropped (`OAuthStore.saveOAuthAttempt`). */
  readonly maxPendingAttempts: number;
  readonly logger: Logger;
  readonly now: () => Date;
}

export interface OAuthSignedIn {
  readonly tokens: TokenPair;
  readonly user: Profile;
  readonly created: boolean;
}

/** Nicknames tried for a new account before giving up: the derived one, then with random numeric suffixes. */
const NICKNAME_ATTEMPTS = 6;

export type OAuthUseCases = ReturnType<typeof createOAuthUseCases>;

export function createOAuthUseCases(deps: OAuthUseCaseDeps) {
  const { store, users, sessions, oidc, now } = deps;

  const requireProvider = (provider: string) => {
    throwIfInvalid([violation('provider', providerProblem(provider))]);
    if (!oidc.has(provider)) throw oauthProviderNotFound();
  };

  /** Signs in an account; `undefined` when it (or its profile) was deleted meanwhile. */
  const signIn = async (
    account: Account,
    requestId: string,
    identity?: OAuthIdentity,
  ): Promise<{ tokens: TokenPair; user: Profile } | undefined> => {
    const profile = await users.get(account.id, requestId);
    if (!profile) return undefined;
    try {
      return { tokens: await sessions.signIn(account, requestId, identity ? { identity } : {}), user: profile };
    } catch (error) {
      if (isStoreError(error, 'not_found')) return undefined;
      throw error;
    }
  };

  /** A profile with a nickname derived from the provider's data, suffixed with digits while taken. */
  const createProfile = async (userId: string, who: OidcIdentity, requestId: string): Promise<Profile> => {
    const sources = [who.preferredUsername, who.email?.split('@')[0]];
    for (let attempt = 0; ; attempt++) {
      const suffix = attempt === 0 ? '' : String(randomInt(10 ** Math.min(attempt + 1, 6)));
      try {
        return await users.create(userId, nicknameFrom(sources, suffix), requestId);
      } catch (error) {
        const taken = error instanceof DomainError && error.reason === AuthErrorReason.NicknameTaken;
        if (!taken || attempt + 1 >= NICKNAME_ATTEMPTS) throw error;
      }
    }
  };

  /**
   * Signs in the identity's account; else links the identity to the account
   * holding its verified email, if that account verified the email too
   * (otherwise whoever registered the address first, perhaps to wait for its
   * owner, would be handed their provider sign-in, or the owner theirs); else
   * creates account and profile, the email verified. `undefined` when a
   * concurrent change got in the way (the caller tries again).
   */
  const resolve = async (
    provider: string,
    who: OidcIdentity & { email: string },
    requestId: string,
  ): Promise<OAuthSignedIn | undefined> => {
    const known = await store.findIdentity(provider, who.subject);
    if (known) {
      const account = await store.getAccount(known.userId);
      const signedIn = account && (await signIn(account, requestId));
      return signedIn && { ...signedIn, created: false };
    }
    const emailKey = normalizeEmail(who.email);
    const identity = (userId: string): OAuthIdentity => ({
      provider,
      subject: who.subject,
      userId,
      email: emailKey,
      createTime: now(),
    });
    const byEmail = await store.findAccountByEmail(emailKey);
    if (byEmail) {
      if (!byEmail.emailVerified) throw oauthLinkRequiresVerifiedEmail();
      try {
        const signedIn = await signIn(byEmail, requestId, identity(byEmail.id));
        return signedIn && { ...signedIn, created: false };
      } catch (error) {
        if (isStoreError(error, 'duplicate')) return undefined; // linked concurrently
        throw error;
      }
    }

    const userId = randomUUID();
    const profile = await createProfile(userId, who, requestId);
    const time = now();
    const account: Account = {
      id: userId,
      email: who.email.trim(),
      emailKey,
      passwordHash: undefined,
      emailVerified: true,
      role: deps.admins.initialRole(emailKey, true),
      createTime: time,
      updateTime: time,
      version: 1,
    };
    const opened = sessions.newSession(userId);
    try {
      // As in Register, the account is written only after its profile exists.
      await store.createAccount({ account, session: opened.session, identity: identity(userId) }, [
        { kind: 'account_created', account, oauthProvider: provider, requestId },
      ]);
    } catch (error) {
      if (!isStoreError(error, 'duplicate')) throw error;
      deps.logger.warn({ userId, provider, requestId }, 'OAuth sign-up lost a race; its new profile has no account');
      return undefined;
    }
    return { tokens: await sessions.pairFor(account, opened), user: profile, created: true };
  };

  return {
    async start(
      provider: string,
      redirectUri: string,
    ): Promise<{ authorizationUrl: string; state: string; expireTime: Date }> {
      throwIfInvalid([
        violation('provider', providerProblem(provider)),
        violation('redirect_uri', redirectUri === '' ? 'is required' : undefined),
      ]);
      requireProvider(provider);
      if (!deps.redirectUris.has(redirectUri)) {
        throw DomainError.invalid([{ field: 'redirect_uri', description: 'is not an allowed redirect URI' }]);
      }
      const attempt = await oidc.begin(provider, redirectUri);
      const expireTime = new Date(now().getTime() + deps.stateTtlSeconds * 1000);
      await store.saveOAuthAttempt(
        {
          stateHash: secretHash(attempt.state),
          provider,
          redirectUri,
          codeVerifier: attempt.codeVerifier,
          nonce: attempt.nonce,
          expiresAt: expireTime,
        },
        { now: now(), maxPending: deps.maxPendingAttempts },
      );
      return { authorizationUrl: attempt.authorizationUrl, state: attempt.state, expireTime };
    },

    async complete(
      requestId: string,
      input: { provider: string; code: string; state: string; redirectUri: string },
    ): Promise<OAuthSignedIn> {
      throwIfInvalid([
        violation('provider', providerProblem(input.provider)),
        violation('code', input.code === '' ? 'is required' : undefined),
        violation('state', input.state === '' ? 'is required' : undefined),
        violation('redirect_uri', input.redirectUri === '' ? 'is required' : undefined),
      ]);
      requireProvider(input.provider);
      // Consumed before anything else, so a state is good for one try whatever happens next.
      const attempt = await store.takeOAuthAttempt(secretHash(input.state), now());
      if (!attempt || attempt.provider !== input.provider || attempt.redirectUri !== input.redirectUri) {
        throw oauthStateInvalid();
      }
      const who = await oidc.finish(input.provider, {
        redirectUri: attempt.redirectUri,
        code: input.code,
        state: input.state,
        nonce: attempt.nonce,
        codeVerifier: attempt.codeVerifier,
      });
      if (who.email === undefined || !who.emailVerified) throw oauthEmailNotVerified();
      if (emailProblem(who.email) !== undefined) throw oauthEmailUnusable();
      const verified = { ...who, email: who.email };
      // A lost race (identity linked or email registered meanwhile) resolves on the second pass.
      for (let pass = 0; pass < 2; pass++) {
        const done = await resolve(input.provider, verified, requestId);
        if (done) return done;
      }
      throw accountKeptChanging();
    },
  };
}
