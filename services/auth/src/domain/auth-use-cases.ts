import { randomUUID } from 'node:crypto';
import type { TokenSigner } from '@messenger/platform/auth';
import { canonicalId, DomainError, retryOnRace, throwIfInvalid, violation } from '@messenger/platform/domain';
import {
  type Account,
  emailProblem,
  nicknameProblem,
  normalizeEmail,
  passwordProblem,
  type Role,
  userIdProblem,
} from './account.ts';
import {
  ACCOUNT_RACE_SUBJECT,
  accountNotFound,
  emailTaken,
  invalidCredentials,
  lastAdmin,
  refreshTokenInvalid,
  refreshTokenReused,
  serviceCredentialsInvalid,
} from './auth-errors.ts';
import { isStoreError } from './auth-storage.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { isOpaqueTokenShaped, type ServiceSecrets, secretHash } from './secrets.ts';
import type { SessionDeps, Sessions, TokenPair } from './sessions.ts';
import type { Profile, UserProfiles } from './user-profiles.ts';

export interface AuthUseCaseDeps {
  readonly sessions: Sessions;
  readonly store: SessionDeps['store'];
  readonly users: UserProfiles;
  readonly hasher: PasswordHasher;
  readonly signer: TokenSigner;
  readonly serviceSecrets: ServiceSecrets;
  readonly serviceTokenSeconds: number;
  readonly logger: SessionDeps['logger'];
  readonly now: () => Date;
}

/** A signed-in end user, as the rules need them. */
export interface UserActor {
  readonly userId: string;
  readonly sessionId: string;
}

export interface SignedIn {
  readonly tokens: TokenPair;
  readonly user: Profile;
}

export type AuthUseCases = ReturnType<typeof createAuthUseCases>;

export function createAuthUseCases(deps: AuthUseCaseDeps) {
  const { store, users, hasher, sessions, now } = deps;

  return {
    /**
     * Why the credential is written last: the profile (with its unique
     * nickname) is created first through the user service, and only then the
     * account, its first session and `auth.account.created`, in one atomic
     * store step. A taken nickname therefore fails before anything of auth's
     * exists, and a crash (or a failed call) between the two steps leaves no
     * account behind, so it can never strand an email: the user simply
     * registers again. What such a crash can leave is a profile without an
     * account (it cannot sign in; it is logged so an operator can delete it),
     * and the same happens when two registrations of one email race past the
     * early check below and the second loses on the unique email.
     */
    async register(requestId: string, input: { email: string; password: string; nickname: string }): Promise<SignedIn> {
      throwIfInvalid([
        violation('email', emailProblem(input.email)),
        violation('password', passwordProblem(input.password)),
        violation('nickname', nicknameProblem(input.nickname)),
      ]);
      const email = input.email.trim();
      const emailKey = normalizeEmail(email);
      if (await store.findAccountByEmail(emailKey)) throw emailTaken();
      const passwordHash = await hasher.hash(input.password);
      const userId = randomUUID();
      const profile = await users.create(userId, input.nickname, requestId);
      const time = now();
      // Unverified, so never an admin yet: the admin list acts when the email is verified.
      const account: Account = {
        id: userId,
        email,
        emailKey,
        passwordHash,
        emailVerified: false,
        role: 'user',
        createTime: time,
        updateTime: time,
        version: 1,
      };
      const opened = sessions.newSession(userId);
      try {
        await store.createAccount({ account, session: opened.session }, [
          { kind: 'account_created', account, oauthProvider: '', requestId },
        ]);
      } catch (error) {
        if (!isStoreError(error, 'duplicate')) throw error;
        deps.logger.warn(
          { userId, requestId },
          'registration lost a race for its email; its new profile has no account',
        );
        throw emailTaken();
      }
      return { tokens: await sessions.pairFor(account, opened), user: profile };
    },

    /**
     * The same answer, after the same work (one scrypt), whether the email is
     * unknown, has no password (OAuth only) or the password is wrong. A hash
     * made with older scrypt params is replaced by one with the current
     * params, in the step that opens the session. The session opens only if
     * the account is still as read: when it changed meanwhile (a password
     * reset, a concurrent re-hash), the password is checked again against
     * what is stored now.
     */
    async login(requestId: string, input: { email: string; password: string }): Promise<SignedIn> {
      throwIfInvalid([
        violation('email', input.email.trim() === '' ? 'is required' : undefined),
        violation('password', input.password === '' ? 'is required' : undefined),
      ]);
      return retryOnRace(
        async () => {
          const account = await store.findAccountByEmail(normalizeEmail(input.email));
          const matches = account?.passwordHash
            ? await hasher.verify(input.password, account.passwordHash)
            : await hasher.verifyDummy(input.password);
          if (!account?.passwordHash || !matches) throw invalidCredentials();
          // An account whose profile is gone is being deleted: it cannot sign in.
          const profile = await users.get(account.id, requestId);
          if (!profile) throw invalidCredentials();
          const rehashedPassword = hasher.needsRehash(account.passwordHash)
            ? await hasher.hash(input.password)
            : undefined;
          try {
            const checked = { version: account.version, rehashedPassword };
            return { tokens: await sessions.signIn(account, requestId, { checked }), user: profile };
          } catch (error) {
            throw isStoreError(error, 'not_found') ? invalidCredentials() : error;
          }
        },
        { on: ['conflict'], subject: ACCOUNT_RACE_SUBJECT, attempts: 3 },
      );
    },

    async refresh(requestId: string, refreshToken: string): Promise<TokenPair> {
      if (refreshToken === '') throw DomainError.invalid([{ field: 'refresh_token', description: 'is required' }]);
      if (!isOpaqueTokenShaped(refreshToken)) throw refreshTokenInvalid();
      const outcome = await sessions.rotatedPair(secretHash(refreshToken), requestId);
      if ('refused' in outcome) {
        throw outcome.refused === 'reused' ? refreshTokenReused() : refreshTokenInvalid();
      }
      return outcome.pair;
    },

    /** Ends the caller's session, or all of the caller's sessions; returns how many. */
    async logout(requestId: string, actor: UserActor, allSessions: boolean): Promise<number> {
      const ids = allSessions
        ? [...new Set([actor.sessionId, ...(await store.activeSessionIds(actor.userId, now()))])]
        : [actor.sessionId];
      await sessions.revoke(actor.userId, ids, allSessions, 'logout', requestId);
      return ids.length;
    },

    /**
     * Promotion takes effect at the user's next refresh (refresh reads the
     * current role); demotion also ends every session so that no access token
     * keeps the old role. The last admin cannot be demoted (checked
     * atomically by the store).
     */
    async setUserRole(
      requestId: string,
      adminId: string,
      input: { userId: string; role: Role | undefined },
    ): Promise<{ userId: string; role: Role; previous: Role }> {
      throwIfInvalid([
        violation('user_id', userIdProblem(input.userId)),
        violation('role', input.role === undefined ? 'must be ROLE_USER or ROLE_ADMIN' : undefined),
      ]);
      const role = input.role as Role;
      const userId = canonicalId(input.userId);
      // Each attempt reads the account afresh; a concurrent change of it makes the write conflict.
      const previous = await retryOnRace(
        async () => {
          const account = await store.getAccount(userId);
          if (!account) throw accountNotFound();
          if (account.role === role) return role;
          const time = now();
          try {
            await store.updateRole({ ...account, role, updateTime: time, version: account.version + 1 }, [
              { kind: 'role_changed', userId, before: account.role, after: role, changedBy: adminId, time, requestId },
            ]);
          } catch (error) {
            throw isStoreError(error, 'last_admin') ? lastAdmin() : error;
          }
          return account.role;
        },
        { on: ['conflict'], subject: ACCOUNT_RACE_SUBJECT },
      );
      if (previous === 'admin' && role !== 'admin') {
        await sessions.revoke(userId, await store.activeSessionIds(userId, now()), true, 'role_changed', requestId);
      }
      return { userId, role, previous };
    },

    async issueServiceToken(input: {
      serviceName: string;
      serviceSecret: string;
    }): Promise<{ token: string; expireTime: Date }> {
      throwIfInvalid([
        violation('service_name', input.serviceName === '' ? 'is required' : undefined),
        violation('service_secret', input.serviceSecret === '' ? 'is required' : undefined),
      ]);
      if (!deps.serviceSecrets.verify(input.serviceName, input.serviceSecret)) throw serviceCredentialsInvalid();
      const signed = await deps.signer.signServiceToken({
        service: input.serviceName,
        ttlSeconds: deps.serviceTokenSeconds,
      });
      return { token: signed.token, expireTime: new Date(signed.expiresAt * 1000) };
    },

    /**
     * `user.user.deleted`: the user's sessions end everywhere and the
     * account, identities and refresh tokens are deleted. Idempotent: the
     * event id is stored with the deletion, so a redelivery changes nothing
     * and publishes nothing. The revocation list is written first for the
     * sessions seen active, so a crash after the store step cannot skip it on
     * redelivery; sessions opened in between are caught by the store's answer.
     */
    async removeUser(requestId: string, eventId: string, userId: string): Promise<boolean> {
      const id = canonicalId(userId);
      const seen = await store.activeSessionIds(id, now());
      await sessions.blockAccessTokens(seen);
      const time = now();
      const result = await store.removeUser(id, eventId, time, (active) =>
        active.length === 0
          ? []
          : [
              {
                kind: 'sessions_revoked',
                userId: id,
                sessionIds: active,
                all: true,
                reason: 'user_deleted',
                time,
                requestId,
              },
            ],
      );
      if (!result.applied) return false;
      const missed = result.activeSessionIds.filter((s) => !seen.includes(s));
      await sessions.blockAccessTokens(missed);
      return true;
    },
  };
}
