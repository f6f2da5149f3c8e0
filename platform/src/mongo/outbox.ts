import { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { Binary, type ClientSession, type Collection, type Db } from 'mongodb';
import { CommitSignal } from '../events/commit-signal.ts';
import type { OutboxEntry, OutboxSource } from '../events/outbox-relay.ts';
import { reconcileIndexes } from './indexes.ts';
import { MongoRelayLease } from './relay-lease.ts';
import { afterCommit } from './transaction.ts';

interface OutboxDoc {
  /** The envelope id. */
  _id: string;
  seq: number;
  topic: string;
  envelope: Binary;
}

interface CounterDoc {
  _id: string;
  seq: number;
}

const COUNTER_ID = 'outbox';

/**
 * The transactional outbox in MongoDB: entries are inserted by the store
 * inside the transaction of the change they belong to. Each batch takes its
 * sequence numbers from one counter document in the same transaction: two
 * transactions that both bump it write-conflict and one retries after the
 * other commits, so sequence order is commit order, even across replicas
 * with skewed clocks — which ObjectId or time order would not guarantee.
 * Writes of one store are serialized by that counter: fine for profile,
 * friendship and account changes; a high-rate writer needs per-key order instead.
 *
 * An append registers with `afterCommit`, so the relay is woken once the
 * transaction that appended entries has committed, and not for one that
 * aborts: the store need not tell anyone.
 */
export class MongoOutbox implements OutboxSource {
  readonly #entries: Collection<OutboxDoc>;
  readonly #counters: Collection<CounterDoc>;
  readonly #signal = new CommitSignal();
  /** One function for every append, so a transaction that appends twice wakes the relay once. */
  readonly #committed = () => this.#signal.committed();
  /** Every replica's relay reads this outbox; the lease lets one publish. */
  readonly lease: MongoRelayLease;

  constructor(db: Db) {
    this.lease = new MongoRelayLease(db);
    this.#entries = db.collection<OutboxDoc>('outbox');
    this.#counters = db.collection<CounterDoc>('counters');
  }

  async ensureIndexes(): Promise<void> {
    await reconcileIndexes(this.#entries, [{ key: { seq: 1 }, unique: true, name: 'seq_unique' }]);
    // Created up front so no transaction has to create the collection or race to upsert it.
    await this.#counters.updateOne({ _id: COUNTER_ID }, { $setOnInsert: { seq: 0 } }, { upsert: true });
  }

  onCommit(wake: () => void): () => void {
    return this.#signal.onCommit(wake);
  }

  /**
   * Call inside the change's transaction, with the session `inTransaction`
   * gave its work; the relay is woken when that transaction commits.
   */
  async append(entries: readonly OutboxEntry[], session: ClientSession): Promise<void> {
    if (entries.length === 0) return;
    afterCommit(session, this.#committed);
    const counter = await this.#counters.findOneAndUpdate(
      { _id: COUNTER_ID },
      { $inc: { seq: entries.length } },
      { returnDocument: 'after', session },
    );
    if (!counter) throw new Error('outbox counter missing: ensureIndexes() was not run');
    const first = counter.seq - entries.length + 1;
    await this.#entries.insertMany(
      entries.map((entry, i) => ({
        _id: entry.envelope.id,
        seq: first + i,
        topic: entry.topic,
        envelope: new Binary(EventEnvelope.encode(entry.envelope).finish()),
      })),
      { session },
    );
  }

  async pendingEvents(limit: number): Promise<readonly OutboxEntry[]> {
    const docs = await this.#entries.find().sort({ seq: 1 }).limit(limit).toArray();
    return docs.map((doc) => ({ topic: doc.topic, envelope: EventEnvelope.decode(doc.envelope.buffer) }));
  }

  async markPublished(eventIds: readonly string[]): Promise<void> {
    if (eventIds.length === 0) return;
    await this.#entries.deleteMany({ _id: { $in: [...eventIds] } });
  }
}
