import { MemoryOutbox, type OutboxEntry } from '@messenger/platform/events';
import type {
  Account,
  EmailToken,
  NewSession,
  OAuthAttempt,
  OAuthIdentity,
  RefreshTokenRecord,
  Session,
} from '../../domain/account.ts';
import {
  type NextRefreshToken,
  type RotationResult,
  type SessionLimit,
  type SessionOpening,
  StoreError,
} from '../../domain/auth-storage.ts';
import { type AuthStore, PROCESSED_EVENT_RETENTION_MS } from '../auth-store.ts';

interface StoredToken extends RefreshTokenRecord {
  usedAt: Date | undefined;
}

/** Expired tokens, attempts and sessions are swept at most this often, on writes. */
const SWEEP_INTERVAL_MS = 60_000;

/**
 * Embedded mode and tests. Each write checks, changes the maps and appends
 * its events in one synchronous step (no `await` in between), which is atomic
 * in a single-threaded process. Records are copied in and out so callers
 * never share state.
 */
export class MemoryAuthStore implements AuthStore {
  readonly outbox = new MemoryOutbox();
  readonly #accounts = new Map<string, Account>();
  /** emailKey → user id: the unique index. */
  readonly #byEmail = new Map<string, string>();
  readonly #sessions = new Map<string, Session>();
  readonly #tokens = new Map<string, StoredToken>();
  /** `provider|subject` → identity. */
  readonly #identities = new Map<string, OAuthIdentity>();
  /** In insertion order, which is expiry order (one TTL per process). */
  readonly #attempts = new Map<string, OAuthAttempt>();
  /** `purpose|userId` → the account's one token of that purpose. */
  readonly #emailTokens = new Map<string, EmailToken>();
  /** token hash → its key in #emailTokens. */
  readonly #emailTokenKeys = new Map<string, string>();
  /** event id → when processed. */
  readonly #processed = new Map<string, number>();
  readonly #now: () => number;
  #lastSweep = 0;

  constructor(opts: { now?: () => number } = {}) {
    this.#now = opts.now ?? Date.now;
  }

  async getAccount(userId: string): Promise<Account | undefined> {
    return copy(this.#accounts.get(userId));
  }

  async findAccountByEmail(emailKey: string): Promise<Account | undefined> {
    const id = this.#byEmail.get(emailKey);
    return id === undefined ? undefined : copy(this.#accounts.get(id));
  }

  async createAccount(
    input: { account: Account; session: NewSession; identity?: OAuthIdentity },
    entries: readonly OutboxEntry[],
  ): Promise<void> {
    const { account, session, identity } = input;
    if (this.#accounts.has(account.id)) throw new StoreError('duplicate', 'account id exists');
    if (this.#byEmail.has(account.emailKey)) throw new StoreError('duplicate', 'email exists');
    if (identity && this.#identities.has(identityKey(identity))) throw new StoreError('duplicate', 'identity exists');
    this.#sweep();
    this.#accounts.set(account.id, structuredClone(account));
    this.#byEmail.set(account.emailKey, account.id);
    if (identity) this.#identities.set(identityKey(identity), structuredClone(identity));
    this.#putSession(session);
    this.outbox.append(entries);
  }

  async updateRole(account: Account, entries: readonly OutboxEntry[]): Promise<void> {
    const stored = this.#accounts.get(account.id);
    if (stored?.version !== account.version - 1) throw new StoreError('conflict', 'account changed or is gone');
    if (stored.role === 'admin' && account.role !== 'admin') {
      const admins = [...this.#accounts.values()].filter((a) => a.role === 'admin').length;
      if (admins <= 1) throw new StoreError('last_admin', 'the last admin cannot be demoted');
    }
    this.#accounts.set(account.id, {
      ...stored,
      role: account.role,
      updateTime: account.updateTime,
      version: account.version,
    });
    this.outbox.append(entries);
  }

  async openSession(
    input: SessionOpening,
    events: readonly OutboxEntry[],
    limit?: SessionLimit<OutboxEntry>,
  ): Promise<{ evictedSessionIds: string[] }> {
    const { session, identity, accountVersion, rehashedPassword } = input;
    const userId = session.session.userId;
    const account = this.#accounts.get(userId);
    if (!account) throw new StoreError('not_found', 'account is gone');
    if (accountVersion !== undefined && account.version !== accountVersion) {
      throw new StoreError('conflict', 'account changed');
    }
    if (identity && this.#identities.has(identityKey(identity))) throw new StoreError('duplicate', 'identity exists');
    const evicted = limit ? this.#leastRecentlyRefreshed(userId, limit) : [];
    const entries = [...events, ...(evicted.length > 0 && limit ? limit.evicted(evicted) : [])];
    this.#sweep();
    if (rehashedPassword !== undefined) {
      this.#accounts.set(userId, {
        ...account,
        passwordHash: rehashedPassword,
        updateTime: session.session.createTime,
        version: account.version + 1,
      });
    }
    for (const id of evicted) this.#revoke(id, limit?.now ?? session.session.createTime);
    if (identity) this.#identities.set(identityKey(identity), structuredClone(identity));
    this.#putSession(session);
    this.outbox.append(entries);
    return { evictedSessionIds: evicted };
  }

  async rotateRefreshToken(presentedHash: string, next: NextRefreshToken, now: Date): Promise<RotationResult> {
    const token = this.#tokens.get(presentedHash);
    if (!token) return { kind: 'invalid', why: 'unknown' };
    if (token.expiresAt.getTime() <= now.getTime()) return { kind: 'invalid', why: 'expired' };
    const session = this.#sessions.get(token.sessionId);
    if (!session) return { kind: 'invalid', why: 'unknown' };
    if (session.revokedAt) return { kind: 'invalid', why: 'revoked' };
    if (token.usedAt) return { kind: 'reused', session: structuredClone(session) };
    const account = this.#accounts.get(session.userId);
    if (!account) return { kind: 'invalid', why: 'revoked' };
    token.usedAt = now;
    this.#tokens.set(next.hash, {
      hash: next.hash,
      sessionId: session.id,
      userId: session.userId,
      expiresAt: next.expiresAt,
      usedAt: undefined,
    });
    const rotated: Session = { ...session, lastRefreshTime: now, refreshExpiresAt: next.expiresAt };
    this.#sessions.set(session.id, rotated);
    return { kind: 'rotated', session: structuredClone(rotated), account: structuredClone(account) };
  }

  async activeSessionIds(userId: string, now: Date): Promise<string[]> {
    return this.#activeSessionIds(userId, now);
  }

  async revokeSessions(
    userId: string,
    sessionIds: readonly string[],
    now: Date,
    entries: readonly OutboxEntry[],
  ): Promise<number> {
    let revoked = 0;
    for (const id of new Set(sessionIds)) {
      const session = this.#sessions.get(id);
      if (session?.userId !== userId || session.revokedAt) continue;
      this.#revoke(id, now);
      revoked++;
    }
    this.outbox.append(entries);
    return revoked;
  }

  async findIdentity(provider: string, subject: string): Promise<OAuthIdentity | undefined> {
    return copy(this.#identities.get(identityKey({ provider, subject })));
  }

  async saveOAuthAttempt(attempt: OAuthAttempt, limits: { now: Date; maxPending: number }): Promise<void> {
    this.#sweep();
    for (const [state, pending] of this.#attempts) {
      if (pending.expiresAt.getTime() <= limits.now.getTime()) this.#attempts.delete(state);
    }
    for (const state of this.#attempts.keys()) {
      if (this.#attempts.size < limits.maxPending) break;
      this.#attempts.delete(state);
    }
    this.#attempts.set(attempt.stateHash, structuredClone(attempt));
  }

  async takeOAuthAttempt(stateHash: string, now: Date): Promise<OAuthAttempt | undefined> {
    const attempt = this.#attempts.get(stateHash);
    this.#attempts.delete(stateHash);
    if (!attempt || attempt.expiresAt.getTime() <= now.getTime()) return undefined;
    return attempt;
  }

  async issueEmailToken(token: EmailToken, notBefore: Date): Promise<boolean> {
    const key = emailTokenKey(token);
    const earlier = this.#emailTokens.get(key);
    if (earlier && earlier.createTime.getTime() > notBefore.getTime()) return false;
    this.#sweep();
    if (earlier) this.#emailTokenKeys.delete(earlier.hash);
    this.#emailTokens.set(key, structuredClone(token));
    this.#emailTokenKeys.set(token.hash, key);
    return true;
  }

  async findEmailToken(hash: string, now: Date): Promise<EmailToken | undefined> {
    const token = this.#emailTokenByHash(hash);
    return token && token.expiresAt.getTime() > now.getTime() ? structuredClone(token) : undefined;
  }

  async discardEmailToken(hash: string): Promise<void> {
    this.#dropEmailToken(hash);
  }

  async redeemEmailToken(
    input: { token: EmailToken; account: Account; now: Date },
    events: readonly OutboxEntry[],
    endSessions?: (activeSessionIds: readonly string[]) => readonly OutboxEntry[],
  ): Promise<{ endedSessionIds: string[] }> {
    const { token, account, now } = input;
    if (!this.#emailTokenByHash(token.hash)) throw new StoreError('not_found', 'the token is gone');
    const stored = this.#accounts.get(account.id);
    if (stored?.version !== account.version - 1) throw new StoreError('conflict', 'account changed or is gone');
    const ended = endSessions ? this.#activeSessionIds(account.id, now) : [];
    const entries = [...events, ...(endSessions && ended.length > 0 ? endSessions(ended) : [])];
    this.#dropEmailToken(token.hash);
    this.#accounts.set(account.id, {
      ...stored,
      passwordHash: account.passwordHash,
      emailVerified: account.emailVerified,
      role: account.role,
      updateTime: account.updateTime,
      version: account.version,
    });
    for (const id of ended) this.#revoke(id, now);
    this.outbox.append(entries);
    return { endedSessionIds: ended };
  }

  async removeUser(
    userId: string,
    eventId: string,
    now: Date,
    events: (activeSessionIds: readonly string[]) => readonly OutboxEntry[],
  ): Promise<{ applied: boolean; activeSessionIds: string[] }> {
    if (this.#processed.has(eventId)) return { applied: false, activeSessionIds: [] };
    const active = this.#activeSessionIds(userId, now);
    const entries = events(active);
    const account = this.#accounts.get(userId);
    if (account) {
      this.#accounts.delete(userId);
      this.#byEmail.delete(account.emailKey);
    }
    for (const [key, identity] of this.#identities) if (identity.userId === userId) this.#identities.delete(key);
    for (const [id, session] of this.#sessions) if (session.userId === userId) this.#sessions.delete(id);
    for (const [hash, token] of this.#tokens) if (token.userId === userId) this.#tokens.delete(hash);
    for (const token of [...this.#emailTokens.values()]) if (token.userId === userId) this.#dropEmailToken(token.hash);
    this.#processed.set(eventId, this.#now());
    this.outbox.append(entries);
    return { applied: true, activeSessionIds: active };
  }

  #activeSessionIds(userId: string, now: Date): string[] {
    return [...this.#sessions.values()]
      .filter((s) => s.userId === userId && !s.revokedAt && s.refreshExpiresAt.getTime() > now.getTime())
      .map((s) => s.id);
  }

  /** The user's active sessions to revoke so that one more keeps them within `limit.max`. */
  #leastRecentlyRefreshed(userId: string, limit: SessionLimit<OutboxEntry>): string[] {
    const active = [...this.#sessions.values()]
      .filter((s) => s.userId === userId && !s.revokedAt && s.refreshExpiresAt.getTime() > limit.now.getTime())
      .sort((a, b) => a.lastRefreshTime.getTime() - b.lastRefreshTime.getTime());
    return active.slice(0, Math.max(0, active.length - limit.max + 1)).map((s) => s.id);
  }

  #revoke(sessionId: string, now: Date): void {
    const session = this.#sessions.get(sessionId);
    if (session) this.#sessions.set(sessionId, { ...session, revokedAt: now });
  }

  #emailTokenByHash(hash: string): EmailToken | undefined {
    const key = this.#emailTokenKeys.get(hash);
    return key === undefined ? undefined : this.#emailTokens.get(key);
  }

  #dropEmailToken(hash: string): void {
    const key = this.#emailTokenKeys.get(hash);
    if (key === undefined) return;
    this.#emailTokenKeys.delete(hash);
    this.#emailTokens.delete(key);
  }

  #putSession({ session, refreshToken }: NewSession): void {
    this.#sessions.set(session.id, structuredClone(session));
    this.#tokens.set(refreshToken.hash, { ...structuredClone(refreshToken), usedAt: undefined });
  }

  /** Drops what can no longer be used, so embedded mode's memory stays bounded. */
  #sweep(): void {
    const now = this.#now();
    if (now - this.#lastSweep < SWEEP_INTERVAL_MS) return;
    this.#lastSweep = now;
    for (const [hash, token] of this.#tokens) if (token.expiresAt.getTime() <= now) this.#tokens.delete(hash);
    for (const [state, attempt] of this.#attempts) if (attempt.expiresAt.getTime() <= now) this.#attempts.delete(state);
    for (const [id, session] of this.#sessions)
      if (session.refreshExpiresAt.getTime() <= now) this.#sessions.delete(id);
    for (const [id, at] of this.#processed) if (now - at > PROCESSED_EVENT_RETENTION_MS) this.#processed.delete(id);
    for (const token of [...this.#emailTokens.values()]) {
      if (token.expiresAt.getTime() <= now) this.#dropEmailToken(token.hash);
    }
  }
}

function emailTokenKey(token: { purpose: string; userId: string }): string {
  return `${token.purpose}|${token.userId}`;
}

function identityKey(identity: { provider: string; subject: string }): string {
  return `${identity.provider}|${identity.subject}`;
}

function copy<T>(value: T | undefined): T | undefined {
  return value === undefined ? undefined : structuredClone(value);
}
