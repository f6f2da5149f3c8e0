import type { OutboxEntry } from '@messenger/platform/events';
import { outboxSchema, SqliteDatabase, SqliteOutbox, type SqliteSchema } from '@messenger/platform/sqlite';
import { normalizeNickname, type UserProfile } from '../../domain/user.ts';
import { type NicknameKey, prefixUpperBound, StoreError } from '../../domain/user-storage.ts';
import type { UserStore } from '../user-store.ts';

/**
 * The profiles table. `nickname_lower` is the unique key and the search
 * index: SQLite compares TEXT bytewise (BINARY collation), which for ASCII
 * nicknames is the memory and MongoDB adapters' order.
 */
const userSchema: SqliteSchema = {
  name: 'user',
  migrations: [
    'CREATE TABLE users (id TEXT PRIMARY KEY, nickname TEXT NOT NULL, nickname_lower TEXT NOT NULL UNIQUE, ' +
      'about TEXT NOT NULL, avatar_url TEXT NOT NULL, create_time INTEGER NOT NULL, update_time INTEGER NOT NULL, ' +
      'version INTEGER NOT NULL) STRICT',
  ],
};

interface UserRow {
  id: string;
  nickname: string;
  about: string;
  avatar_url: string;
  create_time: number;
  update_time: number;
  version: number;
}

const COLUMNS = 'id, nickname, about, avatar_url, create_time, update_time, version';

/**
 * Profiles in a SQLite file (embedded mode): each write and its outbox
 * entries in one transaction. One process owns the file, so the checks a
 * write makes (version, nickname holder) and the change cannot interleave
 * with another write.
 */
export class SqliteUserStore implements UserStore {
  readonly outbox: SqliteOutbox;
  readonly #db: SqliteDatabase;
  readonly #get;
  readonly #getMany;
  readonly #insert;
  readonly #holder;
  readonly #update;
  readonly #delete;
  readonly #search;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    this.outbox = new SqliteOutbox(db);
    this.#get = db.prepare(`SELECT ${COLUMNS} FROM users WHERE id = ?`);
    this.#getMany = db.prepare(`SELECT ${COLUMNS} FROM users WHERE id IN (SELECT value FROM json_each(?))`);
    this.#insert = db.prepare(
      'INSERT INTO users (id, nickname, nickname_lower, about, avatar_url, create_time, update_time, version) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#holder = db.prepare('SELECT id FROM users WHERE nickname_lower = ?');
    this.#update = db.prepare(
      'UPDATE users SET nickname = ?, nickname_lower = ?, about = ?, avatar_url = ?, create_time = ?, ' +
        'update_time = ?, version = ? WHERE id = ?',
    );
    this.#delete = db.prepare('DELETE FROM users WHERE id = ? AND version = ?');
    this.#search = db.prepare(
      `SELECT ${COLUMNS} FROM users WHERE nickname_lower > ? AND nickname_lower >= ? AND nickname_lower < ? ` +
        'ORDER BY nickname_lower LIMIT ?',
    );
  }

  /** Opens (creating or migrating) the store's file, `user.db` in the data directory. */
  static open(file: string): SqliteUserStore {
    return new SqliteUserStore(SqliteDatabase.open(file, [outboxSchema, userSchema]));
  }

  close(): void {
    this.#db.close();
  }

  async get(id: string): Promise<UserProfile | undefined> {
    const row = this.#get.get(id) as UserRow | undefined;
    return row && fromRow(row);
  }

  async getMany(ids: readonly string[]): Promise<UserProfile[]> {
    if (ids.length === 0) return [];
    return (this.#getMany.all(JSON.stringify(ids)) as unknown as UserRow[]).map(fromRow);
  }

  async insert(user: UserProfile, entries: readonly OutboxEntry[]): Promise<void> {
    this.#db.transaction(() => {
      if (this.#get.get(user.id)) throw new StoreError('duplicate', 'user id exists');
      if (this.#holder.get(normalizeNickname(user.nickname))) throw new StoreError('duplicate', 'nickname exists');
      this.#insert.run(
        user.id,
        user.nickname,
        normalizeNickname(user.nickname),
        user.about,
        user.avatarUrl,
        user.createTime.getTime(),
        user.updateTime.getTime(),
        user.version,
      );
      this.outbox.append(entries);
    });
  }

  async update(user: UserProfile, entries: readonly OutboxEntry[]): Promise<void> {
    this.#db.transaction(() => {
      const stored = this.#get.get(user.id) as UserRow | undefined;
      if (stored?.version !== user.version - 1) throw new StoreError('conflict', 'user changed or is gone');
      const holder = this.#holder.get(normalizeNickname(user.nickname)) as { id: string } | undefined;
      if (holder !== undefined && holder.id !== user.id) throw new StoreError('duplicate', 'nickname exists');
      this.#update.run(
        user.nickname,
        normalizeNickname(user.nickname),
        user.about,
        user.avatarUrl,
        user.createTime.getTime(),
        user.updateTime.getTime(),
        user.version,
        user.id,
      );
      this.outbox.append(entries);
    });
  }

  async delete(id: string, version: number, entries: readonly OutboxEntry[]): Promise<void> {
    this.#db.transaction(() => {
      if (this.#delete.run(id, version).changes === 0) throw new StoreError('conflict', 'user changed or is gone');
      this.outbox.append(entries);
    });
  }

  async searchByNickname(prefix: string, after: NicknameKey | undefined, limit: number): Promise<UserProfile[]> {
    // `nickname_lower` is unique, so its order is the (nickname, id) order and the cursor is a plain `>`.
    const rows = this.#search.all(after?.nicknameLower ?? '', prefix, prefixUpperBound(prefix), limit);
    return (rows as unknown as UserRow[]).map(fromRow);
  }
}

function fromRow(row: UserRow): UserProfile {
  return {
    id: row.id,
    nickname: row.nickname,
    about: row.about,
    avatarUrl: row.avatar_url,
    createTime: new Date(row.create_time),
    updateTime: new Date(row.update_time),
    version: row.version,
  };
}
