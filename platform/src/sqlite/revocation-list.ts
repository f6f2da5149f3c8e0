import type { RevocationList } from '../auth/revocation.ts';
import { SqliteDatabase, type SqliteSchema } from './database.ts';

export const revocationSchema: SqliteSchema = {
  name: 'revocations',
  migrations: ['CREATE TABLE revoked_sessions (session_id TEXT PRIMARY KEY, until REAL NOT NULL) STRICT'],
};

export interface SqliteRevocationListOptions {
  /** How often expired entries are deleted; default 60 s. */
  readonly sweepIntervalMs?: number;
  /** Clock in epoch milliseconds (tests). */
  readonly now?: () => number;
}

/**
 * Revoked sessions in a SQLite file (embedded mode), so that a logout made
 * before a restart still holds after it: the signing keys survive the
 * restart too, and with them the logged-out session's access tokens. The
 * file holds only the sessions revoked within the last validity horizon;
 * expired entries are deleted by a periodic sweep whose timer never keeps
 * the process alive.
 */
export class SqliteRevocationList implements RevocationList {
  readonly #db: SqliteDatabase;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;
  readonly #upsert;
  readonly #until;
  readonly #sweep;

  constructor(db: SqliteDatabase, opts: SqliteRevocationListOptions = {}) {
    this.#db = db;
    this.#now = opts.now ?? Date.now;
    this.#upsert = db.prepare(
      'INSERT INTO revoked_sessions (session_id, until) VALUES (?, ?) ' +
        'ON CONFLICT (session_id) DO UPDATE SET until = max(until, excluded.until)',
    );
    this.#until = db.prepare('SELECT until FROM revoked_sessions WHERE session_id = ?');
    this.#sweep = db.prepare('DELETE FROM revoked_sessions WHERE until <= ?');
    this.#timer = setInterval(() => this.sweep(), opts.sweepIntervalMs ?? 60_000);
    this.#timer.unref();
  }

  /** Opens (creating or migrating) the list's file. */
  static open(file: string, opts: SqliteRevocationListOptions = {}): SqliteRevocationList {
    return new SqliteRevocationList(SqliteDatabase.open(file, [revocationSchema]), opts);
  }

  async revokeSession(sessionId: string, untilEpochSeconds: number): Promise<void> {
    if (typeof sessionId !== 'string' || sessionId === '') throw new TypeError('sessionId is required');
    if (!Number.isFinite(untilEpochSeconds)) throw new TypeError('untilEpochSeconds must be a finite number');
    if (untilEpochSeconds <= this.#nowSeconds()) return;
    this.#upsert.run(sessionId, untilEpochSeconds);
  }

  async isRevoked(sessionId: string): Promise<boolean> {
    const row = this.#until.get(sessionId) as { until: number } | undefined;
    return row !== undefined && row.until > this.#nowSeconds();
  }

  /** Deletes expired entries; returns how many. Runs on the timer; callable directly. */
  sweep(): number {
    return Number(this.#sweep.run(this.#nowSeconds()).changes);
  }

  /** Stops the sweep timer and closes the file. */
  close(): void {
    clearInterval(this.#timer);
    this.#db.close();
  }

  #nowSeconds(): number {
    return this.#now() / 1000;
  }
}
