// The records the AuthStore contract writes and reads, all dated from one
// instant so that expiry can be tested by moving "now" instead of waiting.
import { randomUUID } from 'node:crypto';
import type {
  Account,
  AuthEvent,
  EmailToken,
  EmailTokenPurpose,
  NewSession,
  OAuthAttempt,
  OAuthIdentity,
  RevocationReason,
} from '../domain/account.ts';

export const DAY = 24 * 3600;

export function contractRecords() {
  // Whole milliseconds: what MongoDB keeps of a Date.
  const t0 = new Date(Math.floor(Date.now() / 1000) * 1000);
  const later = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
  let tokens = 0;

  return {
    t0,
    later,
    account: (email: string, over: Partial<Account> = {}): Account => ({
      id: randomUUID(),
      email,
      emailKey: email.toLowerCase(),
      passwordHash: '$scrypt$ln=1,r=1,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA',
      emailVerified: false,
      role: 'user',
      createTime: t0,
      updateTime: t0,
      version: 1,
      ...over,
    }),
    newSession: (userId: string, expiresIn = 30 * DAY): NewSession => {
      const id = randomUUID();
      const refreshExpiresAt = later(expiresIn);
      return {
        session: { id, userId, createTime: t0, lastRefreshTime: t0, refreshExpiresAt, revokedAt: undefined },
        refreshToken: { hash: `hash-${++tokens}-${randomUUID()}`, sessionId: id, userId, expiresAt: refreshExpiresAt },
      };
    },
    created: (a: Account): AuthEvent[] => [{ kind: 'account_created', account: a, oauthProvider: '', requestId: 'r' }],
    /** The `sessions_revoked` events a store is given for the sessions it ends, as a function of their ids. */
    revoked:
      (userId: string, reason: RevocationReason, all: boolean) =>
      (sessionIds: readonly string[]): AuthEvent[] => [
        { kind: 'sessions_revoked', userId, sessionIds, all, reason, time: t0, requestId: 'r' },
      ],
    identity: (userId: string, subject = randomUUID()): OAuthIdentity => ({
      provider: 'example',
      subject,
      userId,
      email: 'x@example.com',
      createTime: t0,
    }),
    /** The token a rotation puts in place of the presented one. */
    next: (n: number) => ({ hash: `next-${n}-${randomUUID()}`, expiresAt: later(30 * DAY) }),
    emailToken: (a: Account, purpose: EmailTokenPurpose = 'verify_email', createTime = t0, ttl = DAY): EmailToken => ({
      hash: `email-${randomUUID()}`,
      purpose,
      userId: a.id,
      emailKey: a.emailKey,
      createTime,
      expiresAt: new Date(createTime.getTime() + ttl * 1000),
    }),
    attempt: (expiresAt: Date): OAuthAttempt => ({
      stateHash: `state-${randomUUID()}`,
      provider: 'example',
      redirectUri: 'https://app.example.com/cb',
      codeVerifier: 'verifier',
      nonce: 'nonce',
      expiresAt,
    }),
  };
}

/** What a promise is rejected with; undefined when it resolves. */
export function errorOf(pending: Promise<unknown>): Promise<unknown> {
  return pending.then(
    () => undefined,
    (e: unknown) => e,
  );
}
