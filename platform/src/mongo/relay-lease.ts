import type { Collection, Db } from 'mongodb';
import type { RelayLease } from '../events/relay-lease.ts';
import { isDuplicateKeyError } from './transaction.ts';

interface LeaseDoc {
  /** The lease's name: one per outbox. */
  _id: string;
  holder: string;
  expiresAt: Date;
}

/**
 * The relay lease of a MongoDB store: one document in `leases`. Taking and
 * renewing is one conditional upsert — matched when the caller holds the
 * lease or it has expired; when another holder's lease is live the filter
 * matches nothing, the upsert's insert hits the `_id`, and the answer is
 * "not yours". Expiry is computed from the server's clock (`$$NOW`), so
 * replicas with skewed clocks agree on when a lease ends.
 */
export class MongoRelayLease implements RelayLease {
  readonly #leases: Collection<LeaseDoc>;
  readonly #name: string;

  constructor(db: Db, name = 'outbox-relay') {
    this.#leases = db.collection<LeaseDoc>('leases');
    this.#name = name;
  }

  /** Nothing to prepare: the lease is found by `_id`. */
  async ensureIndexes(): Promise<void> {}

  async acquire(holder: string, ttlMs: number): Promise<boolean> {
    try {
      const lease = await this.#leases.findOneAndUpdate(
        { _id: this.#name, $or: [{ holder }, { $expr: { $lt: ['$expiresAt', '$$NOW'] } }] },
        [{ $set: { holder, expiresAt: { $add: ['$$NOW', ttlMs] } } }],
        { upsert: true, returnDocument: 'after' },
      );
      return lease?.holder === holder;
    } catch (error) {
      if (isDuplicateKeyError(error)) return false;
      throw error;
    }
  }

  async release(holder: string): Promise<void> {
    await this.#leases.deleteOne({ _id: this.#name, holder });
  }
}
