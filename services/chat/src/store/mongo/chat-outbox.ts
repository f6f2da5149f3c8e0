import { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { CommitSignal, type OutboxEntry, type OutboxSource } from '@messenger/platform/events';
import { afterCommit, inTransaction, MongoRelayLease, reconcileIndexes } from '@messenger/platform/mongo';
import { Binary, type ClientSession, type Collection, type Db, type Filter, type MongoClient } from 'mongodb';

export interface ChatOutboxDoc {
  /** The envelope id. */
  _id: string;
  /** The envelope key: the chat id. */
  key: string;
  /** The chat's event counter for this entry: 1, 2, 3, … per chat, in commit order. */
  keySeq: number;
  topic: string;
  envelope: Binary;
}

/**
 * Appends entries inside the transaction of `ChatOutbox.transaction`: all of
 * one chat, numbered from `firstKeySeq`, the chat's `eventSequence` value for
 * the first entry (the transaction has just raised it by `entries.length`).
 */
export type AppendEntries = (entries: readonly OutboxEntry[], firstKeySeq: number) => Promise<void>;

/**
 * The chat service's transactional outbox: ordered per chat, not globally.
 *
 * The platform's MongoOutbox numbers entries from one store-wide counter,
 * which makes every write of the store conflict with every other — fine for
 * profiles and friendships, a bottleneck for messages. Here an entry takes
 * its number from the chat document's own `eventSequence`, which the same
 * transaction writes anyway (to take the message sequence or change the
 * chat), so writes to different chats never conflict and two writes to one
 * chat are serialized by that document: per chat, number order is commit
 * order. Events only need order per key (the Kafka key is the chat id).
 *
 * The relay reads pending entries in (key, keySeq) order from one snapshot
 * (a snapshot session): an entry invisible to that snapshot committed after
 * it, so after every entry of its chat that is visible; hence each chat's
 * entries in a batch are the oldest pending ones of that chat, in order,
 * and a chat's events are first published in commit order. Batches resume
 * after the last chat of the previous one and wrap around, so a busy chat
 * early in the key order cannot starve the others. Every replica runs a
 * relay over this outbox; the lease lets one of them publish at a time
 * (another takes over when it stops or its lease lapses). Should two overlap
 * (a holder paused past its lease), an entry may be published twice, never
 * out of order; consumers deduplicate by event id.
 *
 * Entries are written only inside `transaction`; like the platform's
 * MongoOutbox, an append registers with `afterCommit`, so the relay is woken
 * once a transaction that appended entries has committed.
 */
export class ChatOutbox implements OutboxSource {
  readonly #client: MongoClient;
  readonly #entries: Collection<ChatOutboxDoc>;
  readonly #signal = new CommitSignal();
  /** One function for every append, so a transaction that appends twice wakes the relay once. */
  readonly #committed = () => this.#signal.committed();
  /** The last key of the previous full batch; the next batch starts after it. */
  #resumeAfter: string | undefined;
  readonly lease: MongoRelayLease;

  constructor(client: MongoClient, db: Db) {
    this.lease = new MongoRelayLease(db);
    this.#client = client;
    this.#entries = db.collection<ChatOutboxDoc>('outbox');
  }

  async ensureIndexes(): Promise<void> {
    await reconcileIndexes(this.#entries, [{ key: { key: 1, keySeq: 1 }, unique: true, name: 'key_seq_unique' }]);
  }

  onCommit(wake: () => void): () => void {
    return this.#signal.onCommit(wake);
  }

  /**
   * Runs `work` (a change of the store) in one transaction, with `append`
   * for its entries, and resolves with its value once committed. The driver
   * may run `work` again after a transient error, so it starts from scratch
   * each time; only the run that commits counts.
   */
  transaction<T>(work: (session: ClientSession, append: AppendEntries) => Promise<T>): Promise<T> {
    return inTransaction(this.#client, (session) =>
      work(session, (entries, firstKeySeq) => this.#append(entries, firstKeySeq, session)),
    );
  }

  async #append(entries: readonly OutboxEntry[], firstKeySeq: number, session: ClientSession): Promise<void> {
    if (entries.length === 0) return;
    const key = entries[0]?.envelope.key;
    if (entries.some((e) => e.envelope.key !== key)) throw new Error('one outbox append is for one chat');
    afterCommit(session, this.#committed);
    await this.#entries.insertMany(
      entries.map((entry, i) => ({
        _id: entry.envelope.id,
        key: entry.envelope.key,
        keySeq: firstKeySeq + i,
        topic: entry.topic,
        envelope: new Binary(EventEnvelope.encode(entry.envelope).finish()),
      })),
      { session },
    );
  }

  async pendingEvents(limit: number): Promise<readonly OutboxEntry[]> {
    const docs = await this.#client.withSession({ snapshot: true }, async (session) => {
      const read = (filter: Filter<ChatOutboxDoc>, n: number) =>
        this.#entries.find(filter, { session }).sort({ key: 1, keySeq: 1 }).limit(n).toArray();
      const from = this.#resumeAfter;
      const head = await read(from === undefined ? {} : { key: { $gt: from } }, limit);
      if (head.length >= limit || from === undefined) return head;
      // Wrapped around: the keys before where this batch started.
      return [...head, ...(await read({ key: { $lte: from } }, limit - head.length))];
    });
    this.#resumeAfter = docs.length >= limit ? docs.at(-1)?.key : undefined;
    return docs.map((doc) => ({ topic: doc.topic, envelope: EventEnvelope.decode(doc.envelope.buffer) }));
  }

  async markPublished(eventIds: readonly string[]): Promise<void> {
    if (eventIds.length === 0) return;
    await this.#entries.deleteMany({ _id: { $in: [...eventIds] } });
  }
}
