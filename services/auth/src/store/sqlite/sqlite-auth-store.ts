import type { OutboxEntry } from '@messenger/platform/events';
import { outboxSchema, SqliteDatabase, SqliteOutbox, type SqliteSchema } from '@messenger/platform/sqlite';
import type {
  Account,
  EmailToken,
  EmailTokenPurpose,
  NewSession,
  OAuthAttempt,
  OAuthIdentity,
  Role,
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

/**
 * Accounts, sessions (with their refresh-token hashes), OAuth identities and
 * started flows, email-token hashes and processed event ids. Times are
 * milliseconds since the epoch. A session, its tokens and an account's
 * identities go with their account (foreign keys, ON DELETE CASCADE).
 */
const authSchema: SqliteSchema = {
  name: 'auth',
  migrations: [
    `CREATE TABLE accounts (id TEXT PRIMARY KEY, email TEXT NOT NULL, email_key TEXT NOT NULL UNIQUE,
       password_hash TEXT, email_verified INTEGER NOT NULL, role TEXT NOT NULL, create_time INTEGER NOT NULL,
       update_time INTEGER NOT NULL, version INTEGER NOT NULL) STRICT;
     CREATE INDEX accounts_admins ON accounts (role) WHERE role = 'admin';
     CREATE TABLE sessions (id TEXT PRIMARY KEY,
       user_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE, create_time INTEGER NOT NULL,
       last_refresh_time INTEGER NOT NULL, refresh_expires_at INTEGER NOT NULL, revoked_at INTEGER) STRICT;
     CREATE INDEX sessions_user ON sessions (user_id);
     CREATE TABLE refresh_tokens (hash TEXT PRIMARY KEY,
       session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE, user_id TEXT NOT NULL,
       expires_at INTEGER NOT NULL, used_at INTEGER) STRICT;
     CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
     CREATE TABLE identities (provider TEXT NOT NULL, subject TEXT NOT NULL,
       user_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE, email TEXT NOT NULL,
       create_time INTEGER NOT NULL, PRIMARY KEY (provider, subject)) STRICT;
     CREATE INDEX identities_user ON identities (user_id);
     CREATE TABLE oauth_attempts (seq INTEGER PRIMARY KEY AUTOINCREMENT, state_hash TEXT NOT NULL UNIQUE,
       provider TEXT NOT NULL, redirect_uri TEXT NOT NULL, code_verifier TEXT NOT NULL, nonce TEXT NOT NULL,
       expires_at INTEGER NOT NULL) STRICT;
     CREATE TABLE email_tokens (hash TEXT PRIMARY KEY, purpose TEXT NOT NULL, user_id TEXT NOT NULL,
       email_key TEXT NOT NULL, create_time INTEGER NOT NULL, expires_at INTEGER NOT NULL,
       UNIQUE (user_id, purpose)) STRICT;
     CREATE TABLE processed_events (event_id TEXT PRIMARY KEY, processed_at INTEGER NOT NULL) STRICT;`,
  ],
};

interface AccountRow {
  id: string;
  email: string;
  email_key: string;
  password_hash: string | null;
  email_verified: number;
  role: string;
  create_time: number;
  update_time: number;
  version: number;
}

interface SessionRow {
  id: string;
  user_id: string;
  create_time: number;
  last_refresh_time: number;
  refresh_expires_at: number;
  revoked_at: number | null;
}

interface TokenRow {
  session_id: string;
  expires_at: number;
  used_at: number | null;
}

interface IdentityRow {
  provider: string;
  subject: string;
  user_id: string;
  email: string;
  create_time: number;
}

interface AttemptRow {
  state_hash: string;
  provider: string;
  redirect_uri: string;
  code_verifier: string;
  nonce: string;
  expires_at: number;
}

interface EmailTokenRow {
  hash: string;
  purpose: string;
  user_id: string;
  email_key: string;
  create_time: number;
  expires_at: number;
}

/** Expired tokens, attempts and sessions are swept at most this often, on writes. */
const SWEEP_INTERVAL_MS = 60_000;

type Statement = ReturnType<SqliteDatabase['prepare']>;

/**
 * Auth's data in a SQLite file (embedded mode). Each write checks, changes
 * and appends its events in one transaction; one process owns the file, so
 * the checks and the change cannot interleave with another write, which is
 * what makes "exactly one of two concurrent …" hold.
 */
export class SqliteAuthStore implements AuthStore {
  readonly outbox: SqliteOutbox;
  readonly #db: SqliteDatabase;
  readonly #now: () => number;
  #lastSweep = 0;
  readonly #sql = new Map<string, Statement>();

  constructor(db: SqliteDatabase, opts: { now?: () => number } = {}) {
    this.#db = db;
    this.#now = opts.now ?? Date.now;
    this.outbox = new SqliteOutbox(db);
  }

  /** Opens (creating or migrating) the store's file, `auth.db` in the data directory. */
  static open(file: string): SqliteAuthStore {
    return new SqliteAuthStore(SqliteDatabase.open(file, [outboxSchema, authSchema]));
  }

  close(): void {
    this.#db.close();
  }

  async getAccount(userId: string): Promise<Account | undefined> {
    return this.#account(userId);
  }

  async findAccountByEmail(emailKey: string): Promise<Account | undefined> {
    const row = this.#q('SELECT * FROM accounts WHERE email_key = ?').get(emailKey) as AccountRow | undefined;
    return row && accountOf(row);
  }

  async createAccount(
    input: { account: Account; session: NewSession; identity?: OAuthIdentity },
    entries: readonly OutboxEntry[],
  ): Promise<void> {
    const { account, session, identity } = input;
    this.#db.transaction(() => {
      if (this.#account(account.id)) throw new StoreError('duplicate', 'account id exists');
      if (this.#q('SELECT 1 FROM accounts WHERE email_key = ?').get(account.emailKey)) {
        throw new StoreError('duplicate', 'email exists');
      }
      if (identity && this.#identity(identity.provider, identity.subject)) {
        throw new StoreError('duplicate', 'identity exists');
      }
      this.#sweep();
      this.#q(
        'INSERT INTO accounts (id, email, email_key, password_hash, email_verified, role, create_time, ' +
          'update_time, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ).run(
        account.id,
        account.email,
        account.emailKey,
        account.passwordHash ?? null,
        account.emailVerified ? 1 : 0,
        account.role,
        account.createTime.getTime(),
        account.updateTime.getTime(),
        account.version,
      );
      if (identity) this.#putIdentity(identity);
      this.#putSession(session);
      this.outbox.append(entries);
    });
  }

  async updateRole(account: Account, entries: readonly OutboxEntry[]): Promise<void> {
    this.#db.transaction(() => {
      const stored = this.#account(account.id);
      if (stored?.version !== account.version - 1) throw new StoreError('conflict', 'account changed or is gone');
      if (stored.role === 'admin' && account.role !== 'admin') {
        const { admins } = this.#q("SELECT count(*) AS admins FROM accounts WHERE role = 'admin'").get() as {
          admins: number;
        };
        if (admins <= 1) throw new StoreError('last_admin', 'the last admin cannot be demoted');
      }
      this.#q('UPDATE accounts SET role = ?, update_time = ?, version = ? WHERE id = ?').run(
        account.role,
        account.updateTime.getTime(),
        account.version,
        account.id,
      );
      this.outbox.append(entries);
    });
  }

  async openSession(
    input: SessionOpening,
    events: readonly OutboxEntry[],
    limit?: SessionLimit<OutboxEntry>,
  ): Promise<{ evictedSessionIds: string[] }> {
    const { session, identity, accountVersion, rehashedPassword } = input;
    const userId = session.session.userId;
    return this.#db.transaction(() => {
      const account = this.#account(userId);
      if (!account) throw new StoreError('not_found', 'account is gone');
      if (accountVersion !== undefined && account.version !== accountVersion) {
        throw new StoreError('conflict', 'account changed');
      }
      if (identity && this.#identity(identity.provider, identity.subject)) {
        throw new StoreError('duplicate', 'identity exists');
      }
      const evicted = limit ? this.#leastRecentlyRefreshed(userId, limit) : [];
      const entries = [...events, ...(evicted.length > 0 && limit ? limit.evicted(evicted) : [])];
      this.#sweep();
      if (rehashedPassword !== undefined) {
        this.#q('UPDATE accounts SET password_hash = ?, update_time = ?, version = ? WHERE id = ?').run(
          rehashedPassword,
          session.session.createTime.getTime(),
          account.version + 1,
          userId,
        );
      }
      for (const id of evicted) this.#revoke(id, limit?.now ?? session.session.createTime);
      if (identity) this.#putIdentity(identity);
      this.#putSession(session);
      this.outbox.append(entries);
      return { evictedSessionIds: evicted };
    });
  }

  async rotateRefreshToken(presentedHash: string, next: NextRefreshToken, now: Date): Promise<RotationResult> {
    return this.#db.transaction((): RotationResult => {
      const token = this.#q('SELECT session_id, expires_at, used_at FROM refresh_tokens WHERE hash = ?').get(
        presentedHash,
      ) as TokenRow | undefined;
      if (!token) return { kind: 'invalid', why: 'unknown' };
      if (token.expires_at <= now.getTime()) return { kind: 'invalid', why: 'expired' };
      const session = this.#session(token.session_id);
      if (!session) return { kind: 'invalid', why: 'unknown' };
      if (session.revokedAt) return { kind: 'invalid', why: 'revoked' };
      if (token.used_at !== null) return { kind: 'reused', session };
      const account = this.#account(session.userId);
      if (!account) return { kind: 'invalid', why: 'revoked' };
      this.#q('UPDATE refresh_tokens SET used_at = ? WHERE hash = ?').run(now.getTime(), presentedHash);
      this.#q(
        'INSERT INTO refresh_tokens (hash, session_id, user_id, expires_at, used_at) VALUES (?, ?, ?, ?, NULL)',
      ).run(next.hash, session.id, session.userId, next.expiresAt.getTime());
      this.#q('UPDATE sessions SET last_refresh_time = ?, refresh_expires_at = ? WHERE id = ?').run(
        now.getTime(),
        next.expiresAt.getTime(),
        session.id,
      );
      return {
        kind: 'rotated',
        session: { ...session, lastRefreshTime: now, refreshExpiresAt: next.expiresAt },
        account,
      };
    });
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
    return this.#db.transaction(() => {
      let revoked = 0;
      for (const id of new Set(sessionIds)) {
        const session = this.#session(id);
        if (session?.userId !== userId || session.revokedAt) continue;
        this.#revoke(id, now);
        revoked++;
      }
      this.outbox.append(entries);
      return revoked;
    });
  }

  async findIdentity(provider: string, subject: string): Promise<OAuthIdentity | undefined> {
    return this.#identity(provider, subject);
  }

  async saveOAuthAttempt(attempt: OAuthAttempt, limits: { now: Date; maxPending: number }): Promise<void> {
    this.#db.transaction(() => {
      this.#sweep();
      this.#q('DELETE FROM oauth_attempts WHERE expires_at <= ?').run(limits.now.getTime());
      const { pending } = this.#q('SELECT count(*) AS pending FROM oauth_attempts').get() as { pending: number };
      const excess = pending - limits.maxPending + 1;
      if (excess > 0) {
        this.#q('DELETE FROM oauth_attempts WHERE seq IN (SELECT seq FROM oauth_attempts ORDER BY seq LIMIT ?)').run(
          excess,
        );
      }
      this.#q(
        'INSERT OR REPLACE INTO oauth_attempts (state_hash, provider, redirect_uri, code_verifier, nonce, expires_at) ' +
          'VALUES (?, ?, ?, ?, ?, ?)',
      ).run(
        attempt.stateHash,
        attempt.provider,
        attempt.redirectUri,
        attempt.codeVerifier,
        attempt.nonce,
        attempt.expiresAt.getTime(),
      );
    });
  }

  async takeOAuthAttempt(stateHash: string, now: Date): Promise<OAuthAttempt | undefined> {
    return this.#db.transaction(() => {
      const row = this.#q('SELECT * FROM oauth_attempts WHERE state_hash = ?').get(stateHash) as AttemptRow | undefined;
      this.#q('DELETE FROM oauth_attempts WHERE state_hash = ?').run(stateHash);
      if (!row || row.expires_at <= now.getTime()) return undefined;
      return {
        stateHash: row.state_hash,
        provider: row.provider,
        redirectUri: row.redirect_uri,
        codeVerifier: row.code_verifier,
        nonce: row.nonce,
        expiresAt: new Date(row.expires_at),
      };
    });
  }

  async issueEmailToken(token: EmailToken, notBefore: Date): Promise<boolean> {
    return this.#db.transaction(() => {
      const earlier = this.#q('SELECT create_time FROM email_tokens WHERE user_id = ? AND purpose = ?').get(
        token.userId,
        token.purpose,
      ) as { create_time: number } | undefined;
      if (earlier && earlier.create_time > notBefore.getTime()) return false;
      this.#sweep();
      this.#q('DELETE FROM email_tokens WHERE user_id = ? AND purpose = ?').run(token.userId, token.purpose);
      this.#q(
        'INSERT INTO email_tokens (hash, purpose, user_id, email_key, create_time, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(
        token.hash,
        token.purpose,
        token.userId,
        token.emailKey,
        token.createTime.getTime(),
        token.expiresAt.getTime(),
      );
      return true;
    });
  }

  async findEmailToken(hash: string, now: Date): Promise<EmailToken | undefined> {
    const token = this.#emailToken(hash);
    return token && token.expiresAt.getTime() > now.getTime() ? token : undefined;
  }

  async discardEmailToken(hash: string): Promise<void> {
    this.#q('DELETE FROM email_tokens WHERE hash = ?').run(hash);
  }

  async redeemEmailToken(
    input: { token: EmailToken; account: Account; now: Date },
    events: readonly OutboxEntry[],
    endSessions?: (activeSessionIds: readonly string[]) => readonly OutboxEntry[],
  ): Promise<{ endedSessionIds: string[] }> {
    const { token, account, now } = input;
    return this.#db.transaction(() => {
      if (!this.#emailToken(token.hash)) throw new StoreError('not_found', 'the token is gone');
      const stored = this.#account(account.id);
      if (stored?.version !== account.version - 1) throw new StoreError('conflict', 'account changed or is gone');
      const ended = endSessions ? this.#activeSessionIds(account.id, now) : [];
      const entries = [...events, ...(endSessions && ended.length > 0 ? endSessions(ended) : [])];
      this.#q('DELETE FROM email_tokens WHERE hash = ?').run(token.hash);
      this.#q(
        'UPDATE accounts SET password_hash = ?, email_verified = ?, role = ?, update_time = ?, version = ? WHERE id = ?',
      ).run(
        account.passwordHash ?? null,
        account.emailVerified ? 1 : 0,
        account.role,
        account.updateTime.getTime(),
        account.version,
        account.id,
      );
      for (const id of ended) this.#revoke(id, now);
      this.outbox.append(entries);
      return { endedSessionIds: ended };
    });
  }

  async removeUser(
    userId: string,
    eventId: string,
    now: Date,
    events: (activeSessionIds: readonly string[]) => readonly OutboxEntry[],
  ): Promise<{ applied: boolean; activeSessionIds: string[] }> {
    return this.#db.transaction(() => {
      if (this.#q('SELECT 1 FROM processed_events WHERE event_id = ?').get(eventId)) {
        return { applied: false, activeSessionIds: [] };
      }
      const active = this.#activeSessionIds(userId, now);
      const entries = events(active);
      // Sessions, their refresh tokens and identities go with the account (ON DELETE CASCADE).
      this.#q('DELETE FROM accounts WHERE id = ?').run(userId);
      this.#q('DELETE FROM email_tokens WHERE user_id = ?').run(userId);
      this.#q('INSERT INTO processed_events (event_id, processed_at) VALUES (?, ?)').run(eventId, this.#now());
      this.outbox.append(entries);
      return { applied: true, activeSessionIds: active };
    });
  }

  /** A statement, compiled on first use and kept. */
  #q(sql: string): Statement {
    let statement = this.#sql.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#sql.set(sql, statement);
    }
    return statement;
  }

  #account(id: string): Account | undefined {
    const row = this.#q('SELECT * FROM accounts WHERE id = ?').get(id) as AccountRow | undefined;
    return row && accountOf(row);
  }

  #session(id: string): Session | undefined {
    const row = this.#q('SELECT * FROM sessions WHERE id = ?').get(id) as SessionRow | undefined;
    return row && sessionOf(row);
  }

  #identity(provider: string, subject: string): OAuthIdentity | undefined {
    const row = this.#q('SELECT * FROM identities WHERE provider = ? AND subject = ?').get(provider, subject) as
      | IdentityRow
      | undefined;
    return (
      row && {
        provider: row.provider,
        subject: row.subject,
        userId: row.user_id,
        email: row.email,
        createTime: new Date(row.create_time),
      }
    );
  }

  #emailToken(hash: string): EmailToken | undefined {
    const row = this.#q('SELECT * FROM email_tokens WHERE hash = ?').get(hash) as EmailTokenRow | undefined;
    return (
      row && {
        hash: row.hash,
        purpose: row.purpose as EmailTokenPurpose,
        userId: row.user_id,
        emailKey: row.email_key,
        createTime: new Date(row.create_time),
        expiresAt: new Date(row.expires_at),
      }
    );
  }

  /** In the order the sessions were opened. */
  #activeSessionIds(userId: string, now: Date): string[] {
    const rows = this.#q(
      'SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND refresh_expires_at > ? ORDER BY rowid',
    ).all(userId, now.getTime()) as unknown as { id: string }[];
    return rows.map((r) => r.id);
  }

  /** The user's active sessions to revoke so that one more keeps them within `limit.max`. */
  #leastRecentlyRefreshed(userId: string, limit: SessionLimit<OutboxEntry>): string[] {
    const rows = this.#q(
      'SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND refresh_expires_at > ? ' +
        'ORDER BY last_refresh_time, rowid',
    ).all(userId, limit.now.getTime()) as unknown as { id: string }[];
    return rows.slice(0, Math.max(0, rows.length - limit.max + 1)).map((r) => r.id);
  }

  #revoke(sessionId: string, now: Date): void {
    this.#q('UPDATE sessions SET revoked_at = ? WHERE id = ?').run(now.getTime(), sessionId);
  }

  #putIdentity(identity: OAuthIdentity): void {
    this.#q('INSERT INTO identities (provider, subject, user_id, email, create_time) VALUES (?, ?, ?, ?, ?)').run(
      identity.provider,
      identity.subject,
      identity.userId,
      identity.email,
      identity.createTime.getTime(),
    );
  }

  #putSession({ session, refreshToken }: NewSession): void {
    this.#q(
      'INSERT INTO sessions (id, user_id, create_time, last_refresh_time, refresh_expires_at, revoked_at) ' +
        'VALUES (?, ?, ?, ?, ?, ?)',
    ).run(
      session.id,
      session.userId,
      session.createTime.getTime(),
      session.lastRefreshTime.getTime(),
      session.refreshExpiresAt.getTime(),
      session.revokedAt?.getTime() ?? null,
    );
    this.#q(
      'INSERT INTO refresh_tokens (hash, session_id, user_id, expires_at, used_at) VALUES (?, ?, ?, ?, NULL)',
    ).run(refreshToken.hash, refreshToken.sessionId, refreshToken.userId, refreshToken.expiresAt.getTime());
  }

  /** Drops what can no longer be used, so the file stays bounded; inside a write's transaction. */
  #sweep(): void {
    const now = this.#now();
    if (now - this.#lastSweep < SWEEP_INTERVAL_MS) return;
    this.#lastSweep = now;
    this.#q('DELETE FROM refresh_tokens WHERE expires_at <= ?').run(now);
    this.#q('DELETE FROM oauth_attempts WHERE expires_at <= ?').run(now);
    this.#q('DELETE FROM sessions WHERE refresh_expires_at <= ?').run(now);
    this.#q('DELETE FROM processed_events WHERE processed_at < ?').run(now - PROCESSED_EVENT_RETENTION_MS);
    this.#q('DELETE FROM email_tokens WHERE expires_at <= ?').run(now);
  }
}

function accountOf(row: AccountRow): Account {
  return {
    id: row.id,
    email: row.email,
    emailKey: row.email_key,
    passwordHash: row.password_hash ?? undefined,
    emailVerified: row.email_verified === 1,
    role: row.role as Role,
    createTime: new Date(row.create_time),
    updateTime: new Date(row.update_time),
    version: row.version,
  };
}

function sessionOf(row: SessionRow): Session {
  return {
    id: row.id,
    userId: row.user_id,
    createTime: new Date(row.create_time),
    lastRefreshTime: new Date(row.last_refresh_time),
    refreshExpiresAt: new Date(row.refresh_expires_at),
    revokedAt: row.revoked_at === null ? undefined : new Date(row.revoked_at),
  };
}
