import { randomUUID } from 'node:crypto';
import { type RevocationList, TOKEN_VALIDITY_HORIZON_SECONDS, type TokenSigner } from '@messenger/platform/auth';
import type { Logger } from '@messenger/platform/logger';
import type { Account, AuthEvent, NewSession, OAuthIdentity, RevocationReason, Role } from './account.ts';
import type { AuthStorage } from './auth-storage.ts';
import { newOpaqueToken, secretHash } from './secrets.ts';

/** The tokens of a session as the use cases return them. */
export interface TokenPair {
  readonly accessToken: string;
  readonly accessTokenExpiresAt: Date;
  readonly refreshToken: string;
  readonly refreshTokenExpiresAt: Date;
}

export interface TokenLifetimes {
  /** 1-900; the contract's default is 900 (15 min). */
  readonly accessTokenSeconds: number;
  /** The refresh token's lifetime from its issue; each rotation starts it again. */
  readonly refreshTokenSeconds: number;
  /** 1-900; the contract's default is 600. */
  readonly serviceTokenSeconds: number;
}

export interface SessionDeps {
  readonly store: AuthStorage;
  readonly signer: TokenSigner;
  readonly revocations: RevocationList;
  readonly lifetimes: TokenLifetimes;
  /** Active sessions one user may hold; a sign-in beyond it ends the least recently refreshed. */
  readonly maxSessionsPerUser: number;
  readonly logger: Logger;
  readonly now: () => Date;
}

export type Sessions = ReturnType<typeof createSessions>;

/** What every way of signing in shares: opening sessions, issuing tokens, ending sessions everywhere. */
export function createSessions(deps: SessionDeps) {
  const { store, signer, revocations, lifetimes, now } = deps;

  const accessToken = (userId: string, sessionId: string, role: Role) =>
    signer.signAccessToken({ userId, sessionId, roles: [role], ttlSeconds: lifetimes.accessTokenSeconds });

  const self = {
    /** A new session for `userId` with its first refresh token; `token` is the only copy of the secret. */
    newSession(userId: string): { session: NewSession; token: string } {
      const time = now();
      const token = newOpaqueToken();
      const refreshExpiresAt = new Date(time.getTime() + lifetimes.refreshTokenSeconds * 1000);
      const id = randomUUID();
      return {
        token,
        session: {
          session: {
            id,
            userId,
            createTime: time,
            lastRefreshTime: time,
            refreshExpiresAt,
            revokedAt: undefined,
          },
          refreshToken: { hash: secretHash(token), sessionId: id, userId, expiresAt: refreshExpiresAt },
        },
      };
    },

    async pairFor(account: Account, opened: { session: NewSession; token: string }): Promise<TokenPair> {
      const signed = await accessToken(account.id, opened.session.session.id, account.role);
      return {
        accessToken: signed.token,
        accessTokenExpiresAt: new Date(signed.expiresAt * 1000),
        refreshToken: opened.token,
        refreshTokenExpiresAt: opened.session.session.refreshExpiresAt,
      };
    },

    /**
     * Signs an existing account in as it is (its role is never changed here):
     * opens a session, linking `identity` when given, and ends the least
     * recently refreshed sessions beyond the per-user cap in the same step.
     * A password sign-in passes `checked`: the version whose password it
     * verified (the session opens only if the account is still at it), and a
     * re-hash of the password to store with it. `not_found` from the store
     * means the account was deleted meanwhile, `conflict` that it changed
     * since it was read.
     */
    async signIn(
      account: Account,
      requestId: string,
      opening: { identity?: OAuthIdentity; checked?: { version: number; rehashedPassword: string | undefined } } = {},
    ): Promise<TokenPair> {
      const opened = self.newSession(account.id);
      const time = now();
      const { evictedSessionIds } = await store.openSession(
        {
          session: opened.session,
          ...(opening.identity ? { identity: opening.identity } : {}),
          ...(opening.checked ? { accountVersion: opening.checked.version } : {}),
          ...(opening.checked?.rehashedPassword ? { rehashedPassword: opening.checked.rehashedPassword } : {}),
        },
        [],
        {
          max: deps.maxSessionsPerUser,
          now: time,
          evicted: (sessionIds) => [
            {
              kind: 'sessions_revoked',
              userId: account.id,
              sessionIds,
              all: false,
              reason: 'session_limit',
              time,
              requestId,
            },
          ],
        },
      );
      if (evictedSessionIds.length > 0) {
        await self.blockAccessTokens(evictedSessionIds);
      }
      return self.pairFor(account, opened);
    },

    /**
     * Ends sessions on every service at once: the store marks them revoked
     * (their refresh tokens stop working) and writes `auth.session.revoked`
     * (gateways drop cached verifications); then the shared revocation list
     * refuses their access tokens until every token issued so far has expired.
     * The store goes first: if the list write fails the call fails and can be
     * repeated (the store step is idempotent), whereas the other order could
     * leave a session refused by token but still refreshable.
     */
    async revoke(
      userId: string,
      sessionIds: readonly string[],
      all: boolean,
      reason: RevocationReason,
      requestId: string,
    ): Promise<void> {
      if (sessionIds.length === 0) return;
      const time = now();
      const event: AuthEvent = { kind: 'sessions_revoked', userId, sessionIds, all, reason, time, requestId };
      await store.revokeSessions(userId, sessionIds, time, [event]);
      await self.blockAccessTokens(sessionIds);
    },

    async blockAccessTokens(sessionIds: readonly string[]): Promise<void> {
      const until = now().getTime() / 1000 + TOKEN_VALIDITY_HORIZON_SECONDS;
      await Promise.all(sessionIds.map((id) => revocations.revokeSession(id, until)));
    },

    async rotatedPair(
      presentedHash: string,
      requestId: string,
    ): Promise<{ pair: TokenPair } | { refused: 'invalid' | 'reused' }> {
      const token = newOpaqueToken();
      const time = now();
      const refreshExpiresAt = new Date(time.getTime() + lifetimes.refreshTokenSeconds * 1000);
      const result = await store.rotateRefreshToken(
        presentedHash,
        { hash: secretHash(token), expiresAt: refreshExpiresAt },
        time,
      );
      switch (result.kind) {
        case 'invalid':
          return { refused: 'invalid' };
        case 'reused':
          deps.logger.warn(
            { userId: result.session.userId, sessionId: result.session.id, requestId },
            'rotated refresh token presented again; revoking its session',
          );
          await self.revoke(result.session.userId, [result.session.id], false, 'refresh_token_reuse', requestId);
          return { refused: 'reused' };
        case 'rotated': {
          const signed = await accessToken(result.account.id, result.session.id, result.account.role);
          return {
            pair: {
              accessToken: signed.token,
              accessTokenExpiresAt: new Date(signed.expiresAt * 1000),
              refreshToken: token,
              refreshTokenExpiresAt: refreshExpiresAt,
            },
          };
        }
      }
    },
  };
  return self;
}
