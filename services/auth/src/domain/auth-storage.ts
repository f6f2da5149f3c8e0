// What the use cases need from storage, in the domain's own terms.
import { StoreFailure } from '@messenger/platform/domain';
import type { Account, AuthEvent, EmailToken, NewSession, OAuthAttempt, OAuthIdentity, Session } from './account.ts';

/**
 * Where accounts live. Every write that publishes takes its events and stores
 * them in the outbox in the same atomic step as the change, so an event is
 * published if and only if its change happened.
 *
 * `E`, here and in the other parts of `AuthStorage`, is the form a change's
 * events travel in: the use cases hand over `AuthEvent`s; a store adapter
 * takes them already encoded for the outbox (store/auth-store.ts), so it never
 * encodes an event itself.
 */
export interface AccountStore<E = AuthEvent> {
  getAccount(userId: string): Promise<Account | undefined>;
  /** By `normalizeEmail(email)`. */
  findAccountByEmail(emailKey: string): Promise<Account | undefined>;
  /**
   * Adds an account with its first session, and its OAuth identity when it is
   * created through a provider. `duplicate` when the id, the email or the
   * identity exists; then nothing is written.
   */
  createAccount(
    input: { account: Account; session: NewSession; identity?: OAuthIdentity },
    events: readonly E[],
  ): Promise<void>;
  /**
   * Replaces the role of an account stored at `account.version - 1`.
   * `conflict` when it is absent or at another version; `last_admin` when it
   * would leave no admin (checked atomically with the change).
   */
  updateRole(account: Account, events: readonly E[]): Promise<void>;
}

/** A session to open, and what must still hold of its account. */
export interface SessionOpening {
  readonly session: NewSession;
  /** An OAuth identity to link to the account with it. */
  readonly identity?: OAuthIdentity;
  /**
   * Open only if the account is still at this version: a password sign-in
   * passes the version whose hash it checked, so a password reset committed
   * meanwhile makes it fail instead of letting the old password in.
   */
  readonly accountVersion?: number;
  /** A new hash of the checked password (stronger params), stored with the session; needs `accountVersion`. */
  readonly rehashedPassword?: string;
}

/** The cap on a user's active sessions, applied as a session opens. */
export interface SessionLimit<E = AuthEvent> {
  /** Active sessions the user may hold, the new one included. */
  readonly max: number;
  readonly now: Date;
  /** The events to write for the sessions ended to make room (not called when none are). */
  readonly evicted: (sessionIds: readonly string[]) => readonly E[];
}

/** Sessions and their refresh tokens (stored as hashes only). */
export interface SessionStore<E = AuthEvent> {
  /**
   * Opens a session of an existing account, linking an OAuth identity with it
   * when given. When `limit` is given and the user already holds `max` active
   * sessions, the least recently refreshed ones are revoked in the same
   * atomic step, and their ids returned. `not_found` when the account is gone
   * (checked atomically, so a concurrent deletion cannot leave a session
   * behind); `conflict` when it is not at `accountVersion`; `duplicate` when
   * the identity is linked already.
   */
  openSession(
    input: SessionOpening,
    events: readonly E[],
    limit?: SessionLimit<E>,
  ): Promise<{ evictedSessionIds: string[] }>;
  /**
   * Rotation in one atomic compare-and-set: the token whose hash is
   * `presentedHash` is marked used and `next` becomes the session's current
   * token only if it was still unused, so of two concurrent rotations of one
   * token exactly one succeeds and the other sees a used token.
   */
  rotateRefreshToken(presentedHash: string, next: NextRefreshToken, now: Date): Promise<RotationResult>;
  /** Ids of the user's sessions that are neither revoked nor expired. */
  activeSessionIds(userId: string, now: Date): Promise<string[]>;
  /**
   * Marks the user's sessions among `sessionIds` revoked (their refresh
   * tokens stop working) and writes `events`, even when every one of them was
   * revoked already, so a retried logout still publishes. Returns how many
   * were newly revoked. Ids of other users' sessions are ignored.
   */
  revokeSessions(userId: string, sessionIds: readonly string[], now: Date, events: readonly E[]): Promise<number>;
}

/** The token that replaces the presented one, in the same session. */
export interface NextRefreshToken {
  readonly hash: string;
  readonly expiresAt: Date;
}

export type RotationResult =
  | { readonly kind: 'rotated'; readonly session: Session; readonly account: Account }
  /** The token was rotated before: presumed stolen. */
  | { readonly kind: 'reused'; readonly session: Session }
  /** Unknown or expired token, revoked session, or an account that is gone. */
  | { readonly kind: 'invalid'; readonly why: 'unknown' | 'expired' | 'revoked' };

/** OAuth identities and the server-side half of started flows. */
export interface OAuthStore {
  findIdentity(provider: string, subject: string): Promise<OAuthIdentity | undefined>;
  /**
   * Keeps an attempt until it is taken or expires. Expired attempts are
   * deleted first, then the oldest while `maxPending` or more remain, so a
   * flood of started flows cannot grow the store without bound (the count is
   * exact in one process, approximate across concurrent replicas).
   */
  saveOAuthAttempt(attempt: OAuthAttempt, limits: { now: Date; maxPending: number }): Promise<void>;
  /** Removes and returns the attempt, atomically: a state is consumed at most once. Expired attempts are not returned. */
  takeOAuthAttempt(stateHash: string, now: Date): Promise<OAuthAttempt | undefined>;
}

/** One-time tokens sent by mail (stored as hashes only), one per account and purpose. */
export interface EmailTokenStore<E = AuthEvent> {
  /**
   * Stores a token, replacing the account's earlier one of the same purpose,
   * unless that one was created after `notBefore`: then nothing changes and
   * the answer is false (a resend sooner than allowed).
   */
  issueEmailToken(token: EmailToken, notBefore: Date): Promise<boolean>;
  /** The token with this hash, unless it expired. */
  findEmailToken(hash: string, now: Date): Promise<EmailToken | undefined>;
  /** Deletes the token with this hash (one whose mail could not be sent), so a new one can be issued at once. */
  discardEmailToken(hash: string): Promise<void>;
  /**
   * Redeems a token in one atomic step: deletes it, stores `account`'s
   * password hash, verification and role (its new state, at the stored
   * version + 1; never a demotion) and writes `events`.
   * With `endSessions`, every active session of the account is revoked in the
   * same step and `endSessions` gives the events for them; their ids are
   * returned. `not_found` when the token is gone (used, replaced, or its
   * account deleted); `conflict` when the account is not at
   * `account.version - 1`. Either way nothing is written.
   */
  redeemEmailToken(
    input: { token: EmailToken; account: Account; now: Date },
    events: readonly E[],
    endSessions?: (activeSessionIds: readonly string[]) => readonly E[],
  ): Promise<{ endedSessionIds: string[] }>;
}

/** Reactions to other services' events. */
export interface ReactionStore<E = AuthEvent> {
  /**
   * Deletes the user's account, identities, sessions, refresh and email tokens, and
   * records `eventId` as processed, in one atomic step; `events` is called
   * with the ids of the deleted sessions that were still active, for the
   * events to write with the change. Returns `applied: false` (and changes
   * nothing) when `eventId` was processed before.
   */
  removeUser(
    userId: string,
    eventId: string,
    now: Date,
    events: (activeSessionIds: readonly string[]) => readonly E[],
  ): Promise<{ applied: boolean; activeSessionIds: string[] }>;
}

export interface AuthStorage<E = AuthEvent>
  extends AccountStore<E>,
    SessionStore<E>,
    OAuthStore,
    EmailTokenStore<E>,
    ReactionStore<E> {}

/** The closed set of failures a store reports; adapters translate their driver's errors into these. */
export type StoreErrorKind = 'duplicate' | 'conflict' | 'not_found' | 'last_admin';

export class StoreError extends StoreFailure<StoreErrorKind> {}

export function isStoreError(error: unknown, kind: StoreErrorKind): error is StoreError {
  return error instanceof StoreError && error.kind === kind;
}
