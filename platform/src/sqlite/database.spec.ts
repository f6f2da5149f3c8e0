import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockDirectory, SqliteDatabase, SqliteOpenError } from './database.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sqlite-db-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const notes = (migrations: string[]) => ({ name: 'notes', migrations });
const v1 = 'CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL) STRICT';
const v2 = "ALTER TABLE notes ADD COLUMN tag TEXT NOT NULL DEFAULT ''";

const errorOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('SqliteDatabase', () => {
  it('creates the file and its directory, in WAL mode with foreign keys on', () => {
    const file = join(dir, 'nested', 'a.db');
    const db = SqliteDatabase.open(file, []);
    try {
      expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
      expect(db.prepare('PRAGMA foreign_keys').get()).toEqual({ foreign_keys: 1 });
      expect(db.prepare('PRAGMA busy_timeout').get()).toEqual({ timeout: 5000 });
    } finally {
      db.close();
    }
  });

  it('applies each migration once, in order, and only the new ones on a later open', () => {
    const file = join(dir, 'a.db');
    const first = SqliteDatabase.open(file, [notes([v1])]);
    first.prepare('INSERT INTO notes (body) VALUES (?)').run('kept');
    first.close();

    const second = SqliteDatabase.open(file, [notes([v1, v2])]);
    try {
      expect(second.prepare('SELECT body, tag FROM notes').all()).toEqual([{ body: 'kept', tag: '' }]);
      expect(second.prepare('SELECT schema, version FROM schema_migrations ORDER BY version').all()).toEqual([
        { schema: 'notes', version: 1 },
        { schema: 'notes', version: 2 },
      ]);
    } finally {
      second.close();
    }
  });

  it('refuses a database written by newer code, naming the file', () => {
    const file = join(dir, 'a.db');
    SqliteDatabase.open(file, [notes([v1, v2])]).close();
    const error = errorOf(() => SqliteDatabase.open(file, [notes([v1])]));
    expect(error).toBeInstanceOf(SqliteOpenError);
    expect((error as Error).message).toBe(
      `database ${file}: schema notes is at version 2, newer than this code's 1; run the newer version or restore a backup`,
    );
  });

  it('refuses a file that is not a database, naming the file', () => {
    const file = join(dir, 'a.db');
    writeFileSync(file, 'this is not a database, just text that is long enough to have a header '.repeat(20));
    const error = errorOf(() => SqliteDatabase.open(file, [notes([v1])]));
    expect(error).toBeInstanceOf(SqliteOpenError);
    expect((error as Error).message).toMatch(
      new RegExp(`^database ${file}: file is not a database .*restore a backup`),
    );
  });

  it('rolls a failed migration back whole', () => {
    const file = join(dir, 'a.db');
    const broken = `${v1}; INSERT INTO missing VALUES (1)`;
    expect(errorOf(() => SqliteDatabase.open(file, [notes([broken])]))).toBeInstanceOf(SqliteOpenError);
    const db = SqliteDatabase.open(file, [notes([v1])]);
    try {
      expect(db.prepare('SELECT count(*) AS n FROM notes').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });

  describe('transaction', () => {
    let db: SqliteDatabase;
    beforeEach(() => {
      db = SqliteDatabase.open(join(dir, 'a.db'), [notes([v1])]);
    });
    afterEach(() => db.close());
    const bodies = () => db.prepare('SELECT body FROM notes ORDER BY id').all();

    it('commits the work and then runs what it registered, once', () => {
      const order: string[] = [];
      const result = db.transaction(() => {
        db.prepare('INSERT INTO notes (body) VALUES (?)').run('a');
        const callback = () => order.push(`after commit: ${bodies().length} row`);
        db.afterCommit(callback);
        db.afterCommit(callback);
        order.push('work');
        return 42;
      });
      expect(result).toBe(42);
      expect(order).toEqual(['work', 'after commit: 1 row']);
    });

    it('rolls everything back when the work throws, and runs nothing after', () => {
      let ran = false;
      const error = errorOf(() =>
        db.transaction(() => {
          db.prepare('INSERT INTO notes (body) VALUES (?)').run('a');
          db.afterCommit(() => {
            ran = true;
          });
          throw new Error('changed my mind');
        }),
      );
      expect((error as Error).message).toBe('changed my mind');
      expect(bodies()).toEqual([]);
      expect(ran).toBe(false);
      db.transaction(() => db.prepare('INSERT INTO notes (body) VALUES (?)').run('b'));
      expect(bodies()).toEqual([{ body: 'b' }]);
    });

    it('refuses work that awaits, and nesting, and afterCommit outside a transaction', () => {
      expect((errorOf(() => db.transaction(async () => {})) as Error).message).toMatch(/must not await/);
      expect((errorOf(() => db.transaction(() => db.transaction(() => 1))) as Error).message).toMatch(/do not nest/);
      expect((errorOf(() => db.afterCommit(() => {})) as Error).message).toMatch(/needs a transaction/);
    });
  });
});

describe('lockDirectory', () => {
  it('lets one holder have a directory at a time, naming the lock file to the next', () => {
    const first = lockDirectory(dir);
    try {
      const error = errorOf(() => lockDirectory(dir));
      expect(error).toBeInstanceOf(SqliteOpenError);
      expect((error as Error).message).toBe(
        `database ${join(dir, 'lock.db')}: database is locked (another process is using it: stop it, or give this one another data directory)`,
      );
    } finally {
      first.release();
    }
    lockDirectory(dir).release();
  });
});
