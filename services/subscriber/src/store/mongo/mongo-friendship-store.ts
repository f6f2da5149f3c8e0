import type { OutboxEntry } from '@messenger/platform/events';
import {
  inTransaction,
  isDuplicateKeyError,
  MongoOutbox,
  type MongoStoreOptions,
  type OpenedMongoStore,
  openMongoStore,
  reconcileIndexes,
} from '@messenger/platform/mongo';
import type { ClientSession, Collection, Filter, MongoClient, Sort } from 'mongodb';
import {
  type Block,
  type Friendship,
  pairIdOf,
  pairIdOfFriendship,
  statusSeenBy,
  type ViewStatus,
} from '../../domain/friendship.ts';
import { blockKeyOf, listKeyOf, StoreError } from '../../domain/friendship-storage.ts';
import { type FriendshipStore, PROCESSED_EVENT_RETENTION_MS } from '../friendship-store.ts';

export interface FriendshipDoc {
  /** The pair id (`<lower id>:<higher id>`): one document per unordered pair, unique by `_id`. */
  _id: string;
  requesterId: string;
  addresseeId: string;
  state: 'pending' | 'confirmed';
  createTime: Date;
  updateTime: Date;
  version: number;
  /** Both user ids: the key of "all of a user's friendships". */
  members: string[];
  /** `<user id>:<status seen by that user>` for both users: the key of "a user's friendships with status S". */
  views: string[];
  /** `listKeyOf`: the unique list order, newest change first. */
  listKey: string;
}

export interface BlockDoc {
  /** `<blocker id>:<blocked id>`: one document per block, unique by `_id`. */
  _id: string;
  blockerId: string;
  blockedId: string;
  createTime: Date;
  /** `blockKeyOf`: the unique list order, newest block first. */
  listKey: string;
}

interface ProcessedDoc {
  /** The consumed event's id. */
  _id: string;
  processedAt: Date;
}

/**
 * Friendships in MongoDB, collection `friendships`. Writes run in a
 * transaction with their outbox entries, so they need a replica set. The ids
 * of consumed events are kept in `processed_events` until a TTL index
 * removes them. Blocks live in `blocks`, beside the friendships they end,
 * so a block and the end of the pair's record are one transaction.
 */
export class MongoFriendshipStore implements FriendshipStore {
  readonly outbox: MongoOutbox;
  readonly #client: MongoClient;
  readonly #friendships: Collection<FriendshipDoc>;
  readonly #processed: Collection<ProcessedDoc>;
  readonly #blocks: Collection<BlockDoc>;

  constructor(client: MongoClient, dbName: string) {
    const db = client.db(dbName);
    this.#client = client;
    this.#friendships = db.collection<FriendshipDoc>('friendships');
    this.#processed = db.collection<ProcessedDoc>('processed_events');
    this.#blocks = db.collection<BlockDoc>('blocks');
    this.outbox = new MongoOutbox(db);
  }

  /**
   * Run at start-up: brings each collection's indexes to the definitions
   * here (reconcileIndexes). Pair uniqueness is `_id`'s own index.
   */
  async ensureIndexes(): Promise<void> {
    await reconcileIndexes(this.#friendships, [
      { key: { members: 1, listKey: -1 }, name: 'members_list' },
      { key: { views: 1, listKey: -1 }, name: 'views_list' },
    ]);
    await reconcileIndexes(this.#blocks, [
      { key: { blockerId: 1, listKey: -1 }, name: 'blocker_list' },
      // A deleted user's blocks by others are found by the blocked id.
      { key: { blockedId: 1 }, name: 'blocked' },
    ]);
    await reconcileIndexes(this.#processed, [
      { key: { processedAt: 1 }, name: 'ttl', expireAfterSeconds: PROCESSED_EVENT_RETENTION_MS / 1000 },
    ]);
    await this.outbox.ensureIndexes();
  }

  async get(userA: string, userB: string): Promise<Friendship | undefined> {
    const doc = await this.#friendships.findOne({ _id: pairIdOf(userA, userB) });
    return doc ? fromDoc(doc) : undefined;
  }

  insert(friendship: Friendship, entries: readonly OutboxEntry[]): Promise<void> {
    return this.#write(entries, async (session) => {
      await this.#friendships.insertOne(toDoc(friendship), { session });
    });
  }

  update(friendship: Friendship, entries: readonly OutboxEntry[]): Promise<void> {
    return this.#write(entries, async (session) => {
      const filter = { _id: pairIdOfFriendship(friendship), version: friendship.version - 1 };
      const result = await this.#friendships.replaceOne(filter, toDoc(friendship), { session });
      if (result.matchedCount === 0) throw new StoreError('conflict', 'the record changed or is gone');
    });
  }

  delete(friendship: Friendship, version: number, entries: readonly OutboxEntry[]): Promise<void> {
    return this.#write(entries, async (session) => {
      const result = await this.#friendships.deleteOne({ _id: pairIdOfFriendship(friendship), version }, { session });
      if (result.deletedCount === 0) throw new StoreError('conflict', 'the record changed or is gone');
    });
  }

  /**
   * The count, the end of the pair's record, the block and the events in one
   * transaction. Two blocks by one user committing at once may each see the
   * count below the limit, so the limit can be passed by the number of such
   * concurrent calls: it bounds storage, it is not an exact quota.
   */
  async block(
    block: Block,
    ending: Friendship | undefined,
    entries: readonly OutboxEntry[],
    maxBlocks: number,
  ): Promise<{ block: Block; created: boolean }> {
    const _id = `${block.blockerId}:${block.blockedId}`;
    try {
      return await inTransaction(this.#client, async (session) => {
        const existing = await this.#blocks.findOne({ _id }, { session });
        if (existing) return { block: blockFromDoc(existing), created: false };
        if ((await this.#blocks.countDocuments({ blockerId: block.blockerId }, { session })) >= maxBlocks) {
          throw new StoreError('limit', 'the blocker has the maximum number of blocks');
        }
        if (ending) {
          const result = await this.#friendships.deleteOne(
            { _id: pairIdOfFriendship(ending), version: ending.version },
            { session },
          );
          if (result.deletedCount === 0) throw new StoreError('conflict', 'the record changed or is gone');
        }
        await this.#blocks.insertOne({ _id, ...block, listKey: blockKeyOf(block) }, { session });
        await this.outbox.append(entries, session);
        return { block, created: true };
      });
    } catch (error) {
      // The same block written at once by another call: it is in force.
      if (isDuplicateKeyError(error)) {
        const existing = await this.#blocks.findOne({ _id });
        if (existing) return { block: blockFromDoc(existing), created: false };
      }
      throw translateError(error);
    }
  }

  async unblock(blockerId: string, blockedId: string): Promise<boolean> {
    const result = await this.#blocks.deleteOne({ _id: `${blockerId}:${blockedId}` });
    return result.deletedCount > 0;
  }

  async blocksBetween(userA: string, userB: string): Promise<Block[]> {
    const docs = await this.#blocks.find({ _id: { $in: [`${userA}:${userB}`, `${userB}:${userA}`] } }).toArray();
    return docs.map(blockFromDoc);
  }

  async listBlocks(blockerId: string, after: string | undefined, limit: number): Promise<Block[]> {
    const filter: Filter<BlockDoc> = { blockerId };
    if (after !== undefined) filter.listKey = { $lt: after };
    const docs = await this.#blocks.find(filter).sort({ listKey: -1 }).limit(limit).toArray();
    return docs.map(blockFromDoc);
  }

  /**
   * One transaction for the dedupe record, every deletion and their events:
   * all of it or none. Its size grows with the user's friendships (one
   * deletion and one outbox entry each), well within a transaction's limits
   * for any plausible number of friends.
   */
  async removeAllOf(
    userId: string,
    eventId: string,
    now: Date,
    events: (removed: readonly Friendship[]) => readonly OutboxEntry[],
  ): Promise<{ applied: boolean; removed: number }> {
    try {
      return await inTransaction(
        this.#client,
        async (session) => {
          if (await this.#processed.findOne({ _id: eventId }, { session })) return { applied: false, removed: 0 };
          await this.#processed.insertOne({ _id: eventId, processedAt: now }, { session });
          const docs = await this.#friendships.find({ members: userId }, { session }).toArray();
          if (docs.length > 0) {
            await this.#friendships.deleteMany({ _id: { $in: docs.map((d) => d._id) } }, { session });
          }
          await this.#blocks.deleteMany({ $or: [{ blockerId: userId }, { blockedId: userId }] }, { session });
          const removed = docs.map(fromDoc);
          await this.outbox.append(events(removed), session);
          return { applied: true, removed: removed.length };
        },
        { readConcern: { level: 'snapshot' } },
      );
    } catch (error) {
      // Two deliveries of one event racing: the other one recorded it.
      if (isDuplicateKeyError(error)) return { applied: false, removed: 0 };
      throw translateError(error);
    }
  }

  async listFor(
    userId: string,
    status: ViewStatus | undefined,
    after: string | undefined,
    limit: number,
  ): Promise<Friendship[]> {
    const { filter, sort } = listQuery(userId, status, after);
    const docs = await this.#friendships.find(filter).sort(sort).limit(limit).toArray();
    return docs.map(fromDoc);
  }

  /** The change and its outbox entries in one transaction; driver errors leave as StoreErrors. */
  async #write(entries: readonly OutboxEntry[], change: (session: ClientSession) => Promise<void>): Promise<void> {
    try {
      await inTransaction(this.#client, async (session) => {
        await change(session);
        await this.outbox.append(entries, session);
      });
    } catch (error) {
      throw translateError(error);
    }
  }
}

/** One index range, already in list order: equality on `members` or `views`, then `listKey` descending. */
export function listQuery(
  userId: string,
  status: ViewStatus | undefined,
  after: string | undefined,
): { filter: Filter<FriendshipDoc>; sort: Sort } {
  const filter: Filter<FriendshipDoc> = status === undefined ? { members: userId } : { views: `${userId}:${status}` };
  if (after !== undefined) filter.listKey = { $lt: after };
  return { filter, sort: { listKey: -1 } };
}

export function translateError(error: unknown): unknown {
  if (isDuplicateKeyError(error)) {
    return new StoreError('duplicate', 'the pair has a record', { cause: error });
  }
  return error;
}

function toDoc(f: Friendship): FriendshipDoc {
  const members = [f.requesterId, f.addresseeId];
  return {
    _id: pairIdOfFriendship(f),
    requesterId: f.requesterId,
    addresseeId: f.addresseeId,
    state: f.state,
    createTime: f.createTime,
    updateTime: f.updateTime,
    version: f.version,
    members,
    views: members.map((id) => `${id}:${statusSeenBy(f, id)}`),
    listKey: listKeyOf(f),
  };
}

function fromDoc(doc: FriendshipDoc): Friendship {
  return {
    requesterId: doc.requesterId,
    addresseeId: doc.addresseeId,
    state: doc.state,
    createTime: doc.createTime,
    updateTime: doc.updateTime,
    version: doc.version,
  };
}

function blockFromDoc(doc: BlockDoc): Block {
  return { blockerId: doc.blockerId, blockedId: doc.blockedId, createTime: doc.createTime };
}

/** Connects and prepares a store (indexes) at start-up. */
export function openMongoFriendshipStore(
  url: string,
  dbName: string,
  options: MongoStoreOptions = {},
): Promise<OpenedMongoStore<MongoFriendshipStore>> {
  return openMongoStore(url, (client) => new MongoFriendshipStore(client, dbName), {
    ...options,
    appName: 'subscriber',
  });
}
