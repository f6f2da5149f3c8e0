import { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { CommitSignal } from '../events/commit-signal.ts';
import type { OutboxEntry, OutboxSource } from '../events/outbox-relay.ts';
import type { SqliteDatabase, SqliteSchema } from './database.ts';

/**
 * The outbox table; a database whose stores write events opens with this
 * schema next to theirs. `seq` is SQLite's rowid, assigned at insert under
 * the database's one write lock, so sequence order is commit order.
 * AUTOINCREMENT keeps numbers of published (deleted) entries from coming back.
 */
export const outboxSchema: SqliteSchema = {
  name: 'outbox',
  migrations: [
    'CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, ' +
      'topic TEXT NOT NULL, envelope BLOB NOT NULL) STRICT',
  ],
};

/**
 * The transactional outbox in SQLite: the store appends entries inside the
 * transaction of the change they belong to (`SqliteDatabase.transaction`),
 * and the relay is woken once that transaction has committed, not for one
 * that rolls back: the store need not tell anyone.
 */
export class SqliteOutbox implements OutboxSource {
  readonly #db: SqliteDatabase;
  readonly #signal = new CommitSignal();
  /** One function for every append, so a transaction that appends twice wakes the relay once. */
  readonly #committed = () => this.#signal.committed();
  readonly #insert;
  readonly #pending;
  readonly #delete;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    this.#insert = db.prepare('INSERT INTO outbox (event_id, topic, envelope) VALUES (?, ?, ?)');
    this.#pending = db.prepare('SELECT topic, envelope FROM outbox ORDER BY seq LIMIT ?');
    this.#delete = db.prepare('DELETE FROM outbox WHERE event_id IN (SELECT value FROM json_each(?))');
  }

  onCommit(wake: () => void): () => void {
    return this.#signal.onCommit(wake);
  }

  /** Call inside the change's transaction; the relay is woken when it commits. */
  append(entries: readonly OutboxEntry[]): void {
    if (entries.length === 0) return;
    this.#db.afterCommit(this.#committed);
    for (const entry of entries) {
      this.#insert.run(entry.envelope.id, entry.topic, EventEnvelope.encode(entry.envelope).finish());
    }
  }

  async pendingEvents(limit: number): Promise<readonly OutboxEntry[]> {
    const rows = this.#pending.all(limit) as { topic: string; envelope: Uint8Array }[];
    return rows.map((row) => ({ topic: row.topic, envelope: EventEnvelope.decode(row.envelope) }));
  }

  async markPublished(eventIds: readonly string[]): Promise<void> {
    if (eventIds.length === 0) return;
    this.#delete.run(JSON.stringify(eventIds));
  }
}
