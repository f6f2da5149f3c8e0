import type { OutboxEntry } from '@messenger/platform/events';
import { outboxSchema, SqliteDatabase, SqliteOutbox, type SqliteSchema } from '@messenger/platform/sqlite';
import { type Block, type Friendship, pairIdOf, pairIdOfFriendship, type ViewStatus } from '../../domain/friendship.ts';
import { blockKeyOf, listKeyOf, StoreError } from '../../domain/friendship-storage.ts';
import { type FriendshipStore, PROCESSED_EVENT_RETENTION_MS } from '../friendship-store.ts';

/**
 * One row per unordered pair, keyed by the pair id (so the pair is unique by
 * the primary key). `list_key` is `listKeyOf`, the unique list order.
 *
 * The two list indexes, (side id, state, list_key), make every `listFor` a
 * few index ranges already in list order (`listSql`), and find all of a
 * user's records for `removeAllOf`.
 *
 * `processed_events` remembers consumed event ids; its time index finds
 * those past the retention to forget them.
 *
 * `blocks` (added by the second migration, so files written before blocking
 * existed gain it when opened) holds one row per block, keyed by (blocker,
 * blocked). `list_key` is `blockKeyOf`: the blocker's index on it serves the
 * newest-first list and the count against the limit; the blocked index finds
 * a deleted user's blocks by others.
 *
 * Append new migrations; never edit one: files already at its version would
 * not see the change.
 */
export const friendshipSchema: SqliteSchema = {
  name: 'friendship',
  migrations: [
    'CREATE TABLE friendships (pair_id TEXT PRIMARY KEY, requester_id TEXT NOT NULL, addressee_id TEXT NOT NULL, ' +
      "state TEXT NOT NULL CHECK (state IN ('pending', 'confirmed')), create_time INTEGER NOT NULL, " +
      'update_time INTEGER NOT NULL, version INTEGER NOT NULL, list_key TEXT NOT NULL) STRICT;' +
      'CREATE INDEX friendships_requester_list ON friendships (requester_id, state, list_key);' +
      'CREATE INDEX friendships_addressee_list ON friendships (addressee_id, state, list_key);' +
      'CREATE TABLE processed_events (event_id TEXT PRIMARY KEY, processed_at INTEGER NOT NULL) STRICT;' +
      'CREATE INDEX processed_events_time ON processed_events (processed_at);',
    'CREATE TABLE blocks (blocker_id TEXT NOT NULL, blocked_id TEXT NOT NULL, create_time INTEGER NOT NULL, ' +
      'list_key TEXT NOT NULL, PRIMARY KEY (blocker_id, blocked_id)) STRICT;' +
      'CREATE INDEX blocks_blocker_list ON blocks (blocker_id, list_key);' +
      'CREATE INDEX blocks_blocked ON blocks (blocked_id);',
  ],
};

interface FriendshipRow {
  requester_id: string;
  addressee_id: string;
  state: 'pending' | 'confirmed';
  create_time: number;
  update_time: number;
  version: number;
}

export const COLUMNS = 'requester_id, addressee_id, state, create_time, update_time, version, list_key';

interface BlockRow {
  blocker_id: string;
  blocked_id: string;
  create_time: number;
}

const BLOCK_COLUMNS = 'blocker_id, blocked_id, create_time';

type Side = 'requester_id' | 'addressee_id';
type State = Friendship['state'];

/**
 * A user's records in list order, those seen with a status or all: one index
 * range per (side, state) pair that holds them (a user is the requester or
 * the addressee of a record, and the status they see is the state plus that
 * side, `statusSeenBy`), each read backwards from the cursor with the page's
 * limit, merged.
 */
function listSql(ranges: readonly (readonly [Side, State])[]): string {
  const range = ([side, state]: readonly [Side, State]) =>
    `SELECT * FROM (SELECT ${COLUMNS} FROM friendships WHERE ${side} = :user AND state = '${state}' ` +
    'AND list_key < :after ORDER BY list_key DESC LIMIT :limit)';
  return `${ranges.map(range).join(' UNION ALL ')} ORDER BY list_key DESC LIMIT :limit`;
}

/**
 * Every statement the store runs, prepared once when it opens; the spec
 * checks that none of them scans a whole table.
 */
export const FRIENDSHIP_SQL = {
  get: `SELECT ${COLUMNS} FROM friendships WHERE pair_id = ?`,
  // A pair with a record inserts nothing: `duplicate`.
  insert: `INSERT INTO friendships (pair_id, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  update:
    'UPDATE friendships SET requester_id = ?, addressee_id = ?, state = ?, create_time = ?, update_time = ?, ' +
    'version = ?, list_key = ? WHERE pair_id = ? AND version = ?',
  delete: 'DELETE FROM friendships WHERE pair_id = ? AND version = ?',
  ofUser: `SELECT ${COLUMNS} FROM friendships WHERE requester_id = ? OR addressee_id = ?`,
  deleteOfUser: 'DELETE FROM friendships WHERE requester_id = ? OR addressee_id = ?',
  isProcessed: 'SELECT 1 AS found FROM processed_events WHERE event_id = ?',
  recordProcessed: 'INSERT INTO processed_events (event_id, processed_at) VALUES (?, ?)',
  forgetProcessed: 'DELETE FROM processed_events WHERE processed_at < ?',
  listAll: listSql([
    ['requester_id', 'pending'],
    ['requester_id', 'confirmed'],
    ['addressee_id', 'pending'],
    ['addressee_id', 'confirmed'],
  ]),
  listConfirmed: listSql([
    ['requester_id', 'confirmed'],
    ['addressee_id', 'confirmed'],
  ]),
  listOutgoing: listSql([['requester_id', 'pending']]),
  listIncoming: listSql([['addressee_id', 'pending']]),
  getBlock: `SELECT ${BLOCK_COLUMNS} FROM blocks WHERE blocker_id = ? AND blocked_id = ?`,
  countBlocks: 'SELECT count(*) AS n FROM blocks WHERE blocker_id = ?',
  insertBlock: `INSERT INTO blocks (${BLOCK_COLUMNS}, list_key) VALUES (?, ?, ?, ?)`,
  deleteBlock: 'DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?',
  // The block of B by A, then that of A by B, as the memory store answers.
  blocksBetween:
    `SELECT ${BLOCK_COLUMNS} FROM blocks WHERE blocker_id = :a AND blocked_id = :b UNION ALL ` +
    `SELECT ${BLOCK_COLUMNS} FROM blocks WHERE blocker_id = :b AND blocked_id = :a`,
  listBlocks:
    `SELECT ${BLOCK_COLUMNS} FROM blocks WHERE blocker_id = :blocker AND list_key < :after ` +
    'ORDER BY list_key DESC LIMIT :limit',
  deleteBlocksOfUser: 'DELETE FROM blocks WHERE blocker_id = ? OR blocked_id = ?',
};

/**
 * Greater than every list key (friendships' and blocks'): they start with an ISO 8601 time, whose first
 * character is a digit (or a sign for years beyond 9999), all below '~'.
 */
const AFTER_ALL = '~';

/**
 * Friendships in a SQLite file (embedded mode): each write, its checks and
 * its outbox entries in one transaction. One process owns the file, so a
 * check (version, processed event) and the change it guards cannot
 * interleave with another write.
 */
export class SqliteFriendshipStore implements FriendshipStore {
  readonly outbox: SqliteOutbox;
  readonly #db: SqliteDatabase;
  readonly #get;
  readonly #insert;
  readonly #update;
  readonly #delete;
  readonly #ofUser;
  readonly #deleteOfUser;
  readonly #isProcessed;
  readonly #recordProcessed;
  readonly #forgetProcessed;
  readonly #list: Record<ViewStatus | 'all', ReturnType<SqliteDatabase['prepare']>>;
  readonly #getBlock;
  readonly #countBlocks;
  readonly #insertBlock;
  readonly #deleteBlock;
  readonly #blocksBetween;
  readonly #listBlocks;
  readonly #deleteBlocksOfUser;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    this.outbox = new SqliteOutbox(db);
    this.#get = db.prepare(FRIENDSHIP_SQL.get);
    this.#insert = db.prepare(FRIENDSHIP_SQL.insert);
    this.#update = db.prepare(FRIENDSHIP_SQL.update);
    this.#delete = db.prepare(FRIENDSHIP_SQL.delete);
    this.#ofUser = db.prepare(FRIENDSHIP_SQL.ofUser);
    this.#deleteOfUser = db.prepare(FRIENDSHIP_SQL.deleteOfUser);
    this.#isProcessed = db.prepare(FRIENDSHIP_SQL.isProcessed);
    this.#recordProcessed = db.prepare(FRIENDSHIP_SQL.recordProcessed);
    this.#forgetProcessed = db.prepare(FRIENDSHIP_SQL.forgetProcessed);
    this.#list = {
      all: db.prepare(FRIENDSHIP_SQL.listAll),
      confirmed: db.prepare(FRIENDSHIP_SQL.listConfirmed),
      outgoing: db.prepare(FRIENDSHIP_SQL.listOutgoing),
      incoming: db.prepare(FRIENDSHIP_SQL.listIncoming),
    };
    this.#getBlock = db.prepare(FRIENDSHIP_SQL.getBlock);
    this.#countBlocks = db.prepare(FRIENDSHIP_SQL.countBlocks);
    this.#insertBlock = db.prepare(FRIENDSHIP_SQL.insertBlock);
    this.#deleteBlock = db.prepare(FRIENDSHIP_SQL.deleteBlock);
    this.#blocksBetween = db.prepare(FRIENDSHIP_SQL.blocksBetween);
    this.#listBlocks = db.prepare(FRIENDSHIP_SQL.listBlocks);
    this.#deleteBlocksOfUser = db.prepare(FRIENDSHIP_SQL.deleteBlocksOfUser);
  }

  /** Opens (creating or migrating) the store's file, `subscriber.db` in the data directory. */
  static open(file: string): SqliteFriendshipStore {
    return new SqliteFriendshipStore(SqliteDatabase.open(file, [outboxSchema, friendshipSchema]));
  }

  close(): void {
    this.#db.close();
  }

  async get(userA: string, userB: string): Promise<Friendship | undefined> {
    const row = this.#get.get(pairIdOf(userA, userB)) as FriendshipRow | undefined;
    return row && fromRow(row);
  }

  async insert(friendship: Friendship, entries: readonly OutboxEntry[]): Promise<void> {
    this.#db.transaction(() => {
      const f = friendship;
      const inserted = this.#insert.run(pairIdOfFriendship(f), ...rowValues(f));
      if (inserted.changes === 0) throw new StoreError('duplicate', 'the pair has a record');
      this.outbox.append(entries);
    });
  }

  async update(friendship: Friendship, entries: readonly OutboxEntry[]): Promise<void> {
    this.#db.transaction(() => {
      const updated = this.#update.run(
        ...rowValues(friendship),
        pairIdOfFriendship(friendship),
        friendship.version - 1,
      );
      if (updated.changes === 0) throw new StoreError('conflict', 'the record changed or is gone');
      this.outbox.append(entries);
    });
  }

  async delete(friendship: Friendship, version: number, entries: readonly OutboxEntry[]): Promise<void> {
    this.#db.transaction(() => {
      if (this.#delete.run(pairIdOfFriendship(friendship), version).changes === 0) {
        throw new StoreError('conflict', 'the record changed or is gone');
      }
      this.outbox.append(entries);
    });
  }

  /**
   * The existing block, the count against the limit, the end of the pair's
   * record, the block and its events in one transaction: one process owns
   * the file, so the limit is exact here.
   */
  async block(
    block: Block,
    ending: Friendship | undefined,
    entries: readonly OutboxEntry[],
    maxBlocks: number,
  ): Promise<{ block: Block; created: boolean }> {
    return this.#db.transaction(() => {
      const existing = this.#getBlock.get(block.blockerId, block.blockedId) as BlockRow | undefined;
      if (existing) return { block: blockFromRow(existing), created: false };
      const { n } = this.#countBlocks.get(block.blockerId) as { n: number };
      if (n >= maxBlocks) throw new StoreError('limit', 'the blocker has the maximum number of blocks');
      if (ending && this.#delete.run(pairIdOfFriendship(ending), ending.version).changes === 0) {
        throw new StoreError('conflict', 'the record changed or is gone');
      }
      this.#insertBlock.run(block.blockerId, block.blockedId, block.createTime.getTime(), blockKeyOf(block));
      this.outbox.append(entries);
      return { block: structuredClone(block), created: true };
    });
  }

  async unblock(blockerId: string, blockedId: string): Promise<boolean> {
    return this.#deleteBlock.run(blockerId, blockedId).changes > 0;
  }

  async blocksBetween(userA: string, userB: string): Promise<Block[]> {
    return (this.#blocksBetween.all({ a: userA, b: userB }) as unknown as BlockRow[]).map(blockFromRow);
  }

  async listBlocks(blockerId: string, after: string | undefined, limit: number): Promise<Block[]> {
    const rows = this.#listBlocks.all({ blocker: blockerId, after: after ?? AFTER_ALL, limit });
    return (rows as unknown as BlockRow[]).map(blockFromRow);
  }

  async removeAllOf(
    userId: string,
    eventId: string,
    now: Date,
    events: (removed: readonly Friendship[]) => readonly OutboxEntry[],
  ): Promise<{ applied: boolean; removed: number }> {
    return this.#db.transaction(() => {
      // Forgotten once past the retention, as the memory store and MongoDB's TTL index do.
      this.#forgetProcessed.run(now.getTime() - PROCESSED_EVENT_RETENTION_MS);
      if (this.#isProcessed.get(eventId)) return { applied: false, removed: 0 };
      const removed = (this.#ofUser.all(userId, userId) as unknown as FriendshipRow[]).map(fromRow);
      const entries = events(removed);
      this.#deleteOfUser.run(userId, userId);
      this.#deleteBlocksOfUser.run(userId, userId);
      this.#recordProcessed.run(eventId, now.getTime());
      this.outbox.append(entries);
      return { applied: true, removed: removed.length };
    });
  }

  async listFor(
    userId: string,
    status: ViewStatus | undefined,
    after: string | undefined,
    limit: number,
  ): Promise<Friendship[]> {
    const rows = this.#list[status ?? 'all'].all({ user: userId, after: after ?? AFTER_ALL, limit });
    return (rows as unknown as FriendshipRow[]).map(fromRow);
  }
}

/** The columns after `pair_id`, in `COLUMNS` order. */
function rowValues(f: Friendship): [string, string, string, number, number, number, string] {
  return [
    f.requesterId,
    f.addresseeId,
    f.state,
    f.createTime.getTime(),
    f.updateTime.getTime(),
    f.version,
    listKeyOf(f),
  ];
}

function fromRow(row: FriendshipRow): Friendship {
  return {
    requesterId: row.requester_id,
    addresseeId: row.addressee_id,
    state: row.state,
    createTime: new Date(row.create_time),
    updateTime: new Date(row.update_time),
    version: row.version,
  };
}

function blockFromRow(row: BlockRow): Block {
  return { blockerId: row.blocker_id, blockedId: row.blocked_id, createTime: new Date(row.create_time) };
}
