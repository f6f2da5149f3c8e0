// Proving the mailbox: email verification and password reset, each a one-time
// token mailed as a link and stored only as its SHA-256, one per account and
// purpose, expiring, bound to the address it was sent to.
import { retryOnRace, throwIfInvalid, violation } from '@messenger/platform/domain';
import type { Logger } from '@messenger/platform/logger';
import {
  type Account,
  type EmailToken,
  type EmailTokenPurpose,
  emailProblem,
  normalizeEmail,
  passwordProblem,
  type Role,
} from './account.ts';
import type { AdminBootstrap } from './admin-bootstrap.ts';
import {
  ACCOUNT_RACE_SUBJECT,
  accountNotFound,
  emailAlreadyVerified,
  emailRecentlySent,
  emailTokenInvalid,
} from './auth-errors.ts';
import { type AuthStorage, isStoreError } from './auth-storage.ts';
import type { Background } from './background.ts';
import { composeMail, linkFor, type Mailer } from './mail.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { isOpaqueTokenShaped, newOpaqueToken, secretHash } from './secrets.ts';
import type { Sessions } from './sessions.ts';

export interface EmailLinkSettings {
  /** The web app's address the links point at (`linkFor`). */
  readonly linkBaseUrl: string;
  readonly verificationTtlSeconds: number;
  readonly resetTtlSeconds: number;
  /** The least time between two mails of one purpose to one account. */
  readonly resendIntervalSeconds: number;
}

export interface EmailUseCaseDeps {
  readonly store: AuthStorage;
  readonly sessions: Sessions;
  readonly hasher: PasswordHasher;
  readonly mailer: Mailer;
  readonly admins: AdminBootstrap;
  readonly background: Background;
  readonly settings: EmailLinkSettings;
  readonly logger: Logger;
  readonly now: () => Date;
}

export type EmailUseCases = ReturnType<typeof createEmailUseCases>;

function tokenProblem(token: string): string | undefined {
  if (token === '') return 'is required';
  return isOpaqueTokenShaped(token) ? undefined : 'must be the 43-character token from the link';
}

export function createEmailUseCases(deps: EmailUseCaseDeps) {
  const { store, mailer, admins, settings, now } = deps;
  const ttlOf = (purpose: EmailTokenPurpose) =>
    purpose === 'verify_email' ? settings.verificationTtlSeconds : settings.resetTtlSeconds;

  /**
   * A new token of `purpose` for the account, mailed to its address; the
   * earlier one stops working. Undefined (nothing sent) when one was issued
   * less than the resend interval ago. A mail that cannot be sent takes its
   * token back, so the user may ask again at once.
   */
  const issueAndSend = async (account: Account, purpose: EmailTokenPurpose): Promise<EmailToken | undefined> => {
    const token = newOpaqueToken();
    const time = now();
    const record: EmailToken = {
      hash: secretHash(token),
      purpose,
      userId: account.id,
      emailKey: account.emailKey,
      createTime: time,
      expiresAt: new Date(time.getTime() + ttlOf(purpose) * 1000),
    };
    const notBefore = new Date(time.getTime() - settings.resendIntervalSeconds * 1000);
    if (!(await store.issueEmailToken(record, notBefore))) return undefined;
    try {
      await mailer.send(
        composeMail(purpose, account.email, linkFor(settings.linkBaseUrl, purpose, token), ttlOf(purpose)),
      );
    } catch (error) {
      await store.discardEmailToken(record.hash);
      throw error;
    }
    return record;
  };

  /** The live token and its account, or EMAIL_TOKEN_INVALID: unknown, expired, of another purpose, or for an address the account no longer has. */
  const redeemable = async (token: string, purpose: EmailTokenPurpose) => {
    const record = await store.findEmailToken(secretHash(token), now());
    if (!record || record.purpose !== purpose) throw emailTokenInvalid();
    const account = await store.getAccount(record.userId);
    if (!account || account.emailKey !== record.emailKey) throw emailTokenInvalid();
    return { record, account };
  };

  /** A redemption whose token went meanwhile (used by a concurrent call) answers as a used token. */
  const redeemed = async <T>(pending: Promise<T>): Promise<T> => {
    try {
      return await pending;
    } catch (error) {
      throw isStoreError(error, 'not_found') ? emailTokenInvalid() : error;
    }
  };

  return {
    /** Mails the signed-in user a verification link. */
    async requestEmailVerification(userId: string): Promise<{ email: string; expireTime: Date }> {
      const account = await store.getAccount(userId);
      if (!account) throw accountNotFound();
      if (account.emailVerified) throw emailAlreadyVerified();
      const issued = await issueAndSend(account, 'verify_email');
      if (!issued) throw emailRecentlySent();
      return { email: account.email, expireTime: issued.expiresAt };
    },

    /** Redeems a verification token; promotes a listed email (`AdminBootstrap.verified`). */
    async verifyEmail(requestId: string, token: string): Promise<{ userId: string; email: string; role: Role }> {
      throwIfInvalid([violation('token', tokenProblem(token))]);
      const account = await retryOnRace(
        async () => {
          const { record, account } = await redeemable(token, 'verify_email');
          const time = now();
          const next = admins.verified(account, time, requestId);
          await redeemed(store.redeemEmailToken({ token: record, account: next.account, now: time }, next.events));
          return next.account;
        },
        { on: ['conflict'], subject: ACCOUNT_RACE_SUBJECT },
      );
      return { userId: account.id, email: account.email, role: account.role };
    },

    /**
     * Answers at once, the same for every well-formed address; looking the
     * address up, issuing the token and sending happen afterwards, so neither
     * the answer nor its timing tells whether an account holds the address.
     */
    forgotPassword(requestId: string, email: string): void {
      throwIfInvalid([violation('email', emailProblem(email))]);
      deps.background.run('password reset mail', async () => {
        const account = await store.findAccountByEmail(normalizeEmail(email));
        if (!account) return;
        if (!(await issueAndSend(account, 'reset_password'))) {
          deps.logger.info({ userId: account.id, requestId }, 'password reset mail not sent: one was sent moments ago');
        }
      });
    },

    /**
     * Sets the new password and ends every session of the account, with the
     * token, in one atomic step: a session opened with the old password
     * either ends with the others or fails to open. The email counts as
     * verified from then on (the link reached its mailbox). Returns how many
     * sessions ended.
     */
    async resetPassword(requestId: string, input: { token: string; newPassword: string }): Promise<number> {
      throwIfInvalid([
        violation('token', tokenProblem(input.token)),
        violation('new_password', passwordProblem(input.newPassword)),
      ]);
      // A dead link is told before the costly hash.
      await redeemable(input.token, 'reset_password');
      const passwordHash = await deps.hasher.hash(input.newPassword);
      const ended = await retryOnRace(
        async () => {
          const { record, account } = await redeemable(input.token, 'reset_password');
          const time = now();
          const next = admins.verified({ ...account, passwordHash }, time, requestId);
          const { endedSessionIds } = await redeemed(
            store.redeemEmailToken({ token: record, account: next.account, now: time }, next.events, (sessionIds) => [
              {
                kind: 'sessions_revoked',
                userId: account.id,
                sessionIds,
                all: true,
                reason: 'password_reset',
                time,
                requestId,
              },
            ]),
          );
          return endedSessionIds;
        },
        { on: ['conflict'], subject: ACCOUNT_RACE_SUBJECT },
      );
      await deps.sessions.blockAccessTokens(ended);
      return ended.length;
    },
  };
}
