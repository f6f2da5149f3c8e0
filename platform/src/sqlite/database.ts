// One SQLite database file, opened through Node's built-in `node:sqlite`
// (`DatabaseSync`). Built in since Node 22 and unflagged in Node 24, it needs
// no native addon: better-sqlite3 would add a compiled dependency that must
// match the Node ABI on every machine (and a prebuilt binary download at
// install time), for the same synchronous API.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/**
 * The schema of one part of a database (a store, the outbox): its migrations
 * in order. Migration n (1-based) moves the part from version n - 1 to n; the
 * list only ever grows, since a database records which ones it has applied.
 */
export interface SqliteSchema {
  /** Unique within a database; the key in the `schema_migrations` table. */
  readonly name: string;
  readonly migrations: readonly string[];
}

/** A database file that cannot be opened, read or brought to the current schema; the message names the file. */
export class SqliteOpenError extends Error {
  readonly file: string;
  constructor(file: string, problem: string, options?: ErrorOptions) {
    super(`database ${file}: ${problem}`, options);
    this.name = 'SqliteOpenError';
    this.file = file;
  }
}

/** How long a statement waits for another connection's lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * A database file with its schemas applied. The API is synchronous, and so is
 * `transaction`: a transaction holds the file's write lock from BEGIN to
 * COMMIT, so keep it short, and never await inside one (the callback's work
 * must all happen before it returns).
 */
export class SqliteDatabase {
  readonly file: string;
  readonly #db: DatabaseSync;
  /** What to run once the transaction in progress commits; undefined outside a transaction. */
  #onCommit: Set<() => void> | undefined;

  private constructor(file: string, db: DatabaseSync) {
    this.file = file;
    this.#db = db;
  }

  /**
   * Opens (creating it and its directory when missing) `file` in WAL mode
   * with foreign keys on, and applies each schema's migrations it lacks, each
   * in its own transaction with its record in `schema_migrations`. Fails with
   * a `SqliteOpenError` naming the file when it is not a database, is locked
   * by another process past the busy timeout, or was written by newer code.
   */
  static open(file: string, schemas: readonly SqliteSchema[]): SqliteDatabase {
    let db: DatabaseSync | undefined;
    try {
      mkdirSync(dirname(file), { recursive: true });
      db = new DatabaseSync(file, { enableForeignKeyConstraints: true, timeout: BUSY_TIMEOUT_MS });
      // WAL: readers do not block the writer and a commit is one append, not a page rewrite.
      db.exec('PRAGMA journal_mode = WAL');
      // With WAL, NORMAL is durable across application crashes; only a power loss may lose the last commits.
      db.exec('PRAGMA synchronous = NORMAL');
      const database = new SqliteDatabase(file, db);
      database.#migrate(schemas);
      return database;
    } catch (error) {
      db?.close();
      if (error instanceof SqliteOpenError) throw error;
      throw new SqliteOpenError(file, describe(error), { cause: error });
    }
  }

  /**
   * Runs `work` in one `BEGIN IMMEDIATE … COMMIT` (the write lock is taken at
   * BEGIN, so a transaction never fails half-way for a lock another took
   * first), rolling back when it throws. Callbacks registered with
   * `afterCommit` run once it has committed, never when it rolls back.
   */
  transaction<T>(work: () => T): T {
    if (this.#onCommit) throw new Error('transactions do not nest');
    const callbacks = new Set<() => void>();
    this.#db.exec('BEGIN IMMEDIATE');
    this.#onCommit = callbacks;
    let result: T;
    try {
      result = work();
      if (result instanceof Promise) throw new Error('a SQLite transaction must not await: its work is synchronous');
      this.#db.exec('COMMIT');
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw error;
    } finally {
      this.#onCommit = undefined;
    }
    for (const callback of callbacks) callback();
    return result;
  }

  /**
   * Runs `callback` once the transaction in progress commits (once however
   * often it is registered). Only inside `transaction`; the callback only
   * schedules work (such as waking the outbox relay) and must not throw.
   */
  afterCommit(callback: () => void): void {
    if (!this.#onCommit) throw new Error('afterCommit needs a transaction in progress');
    this.#onCommit.add(callback);
  }

  /** Compiles `sql` on every call: a store prepares its statements once and keeps them. */
  prepare(sql: string): ReturnType<DatabaseSync['prepare']> {
    return this.#db.prepare(sql);
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  #migrate(schemas: readonly SqliteSchema[]): void {
    this.#db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (' +
        'schema TEXT NOT NULL, version INTEGER NOT NULL, applied_at INTEGER NOT NULL, ' +
        'PRIMARY KEY (schema, version)) STRICT',
    );
    const current = this.#db.prepare(
      'SELECT coalesce(max(version), 0) AS version FROM schema_migrations WHERE schema = ?',
    );
    const record = this.#db.prepare('INSERT INTO schema_migrations (schema, version, applied_at) VALUES (?, ?, ?)');
    for (const schema of schemas) {
      const applied = Number((current.get(schema.name) as { version: number }).version);
      if (applied > schema.migrations.length) {
        throw new SqliteOpenError(
          this.file,
          `schema ${schema.name} is at version ${applied}, newer than this code's ${schema.migrations.length}; run the newer version or restore a backup`,
        );
      }
      schema.migrations.forEach((sql, index) => {
        const version = index + 1;
        if (version <= applied) return;
        this.transaction(() => {
          this.#db.exec(sql);
          record.run(schema.name, version, Date.now());
        });
      });
    }
  }
}

/** A data directory held by this process; `release` lets another have it. */
export interface DirectoryLock {
  /** The file whose lock is held. */
  readonly file: string;
  release(): void;
}

/**
 * Takes the exclusive lock of `dir/lock.db` (created when missing) and holds
 * it until `release`, so that a second process cannot use the same data
 * directory: each keeps state of its own in memory (its outbox relay, event
 * bus) that the other's writes would bypass. The lock is the operating
 * system's, so it ends with the process however it ends: no stale lock file.
 * Fails at once with a `SqliteOpenError` naming the file when another process
 * holds it. The data files themselves stay in normal locking mode, so
 * `sqlite3 <file> .backup` works while the process runs.
 */
export function lockDirectory(dir: string): DirectoryLock {
  const file = join(dir, 'lock.db');
  let db: DatabaseSync | undefined;
  try {
    mkdirSync(dir, { recursive: true });
    db = new DatabaseSync(file, { timeout: 0 });
    // The file holds no data: its journal may stay in memory, leaving no -journal file behind.
    db.exec('PRAGMA journal_mode = MEMORY');
    db.exec('PRAGMA locking_mode = EXCLUSIVE');
    // In EXCLUSIVE locking mode the lock a write transaction takes is kept after it ends.
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
  } catch (error) {
    db?.close();
    throw new SqliteOpenError(file, describe(error), { cause: error });
  }
  const held = db;
  return {
    file,
    release: () => {
      if (held.isOpen) held.close();
    },
  };
}

function describe(error: unknown): string {
  const code = (error as { errcode?: unknown }).errcode;
  // Read the message by shape: errors from node:sqlite may come from another realm (a test's VM context).
  const message = (error as { message?: unknown }).message;
  if (typeof message !== 'string') return String(error);
  // SQLITE_BUSY (5) and SQLITE_LOCKED (6): another process holds the file's write lock.
  if (code === 5 || code === 6)
    return `${message} (another process is using it: stop it, or give this one another data directory)`;
  // SQLITE_CORRUPT (11) and SQLITE_NOTADB (26).
  if (code === 11 || code === 26)
    return `${message} (the file is damaged or not a SQLite database: restore a backup, or move it away to start empty)`;
  return message;
}
