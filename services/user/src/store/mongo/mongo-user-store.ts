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
import { normalizeNickname, type UserProfile } from '../../domain/user.ts';
import { type NicknameKey, prefixUpperBound, StoreError } from '../../domain/user-storage.ts';
import type { UserStore } from '../user-store.ts';

export interface UserDoc {
  _id: string;
  nickname: string;
  /** The unique key, and the search index's key. */
  nicknameLower: string;
  about: string;
  avatarUrl: string;
  createTime: Date;
  updateTime: Date;
  version: number;
}

/**
 * Profiles in MongoDB, collection `users`. Writes run in a transaction with
 * their outbox entries, so they need a replica set (a single-node one will do).
 */
export class MongoUserStore implements UserStore {
  readonly outbox: MongoOutbox;
  readonly #client: MongoClient;
  readonly #users: Collection<UserDoc>;

  constructor(client: MongoClient, dbName: string) {
    const db = client.db(dbName);
    this.#client = client;
    this.#users = db.collection<UserDoc>('users');
    this.outbox = new MongoOutbox(db);
  }

  /** Run at start-up: brings the collection's indexes to the definitions here (reconcileIndexes). */
  async ensureIndexes(): Promise<void> {
    await reconcileIndexes(this.#users, [
      // Unique case-insensitively, and the ordered key that prefix search ranges over.
      { key: { nicknameLower: 1 }, unique: true, name: 'nickname_lower_unique' },
    ]);
    await this.outbox.ensureIndexes();
  }

  async get(id: string): Promise<UserProfile | undefined> {
    const doc = await this.#users.findOne({ _id: id });
    return doc ? fromDoc(doc) : undefined;
  }

  async getMany(ids: readonly string[]): Promise<UserProfile[]> {
    if (ids.length === 0) return [];
    const docs = await this.#users.find({ _id: { $in: [...ids] } }).toArray();
    return docs.map(fromDoc);
  }

  insert(user: UserProfile, entries: readonly OutboxEntry[]): Promise<void> {
    return this.#write(entries, async (session) => {
      await this.#users.insertOne(toDoc(user), { session });
    });
  }

  update(user: UserProfile, entries: readonly OutboxEntry[]): Promise<void> {
    return this.#write(entries, async (session) => {
      const result = await this.#users.replaceOne({ _id: user.id, version: user.version - 1 }, toDoc(user), {
        session,
      });
      if (result.matchedCount === 0) throw new StoreError('conflict', 'user changed or is gone');
    });
  }

  delete(id: string, version: number, entries: readonly OutboxEntry[]): Promise<void> {
    return this.#write(entries, async (session) => {
      const result = await this.#users.deleteOne({ _id: id, version }, { session });
      if (result.deletedCount === 0) throw new StoreError('conflict', 'user changed or is gone');
    });
  }

  async searchByNickname(prefix: string, after: NicknameKey | undefined, limit: number): Promise<UserProfile[]> {
    const { filter, sort } = nicknameSearchQuery(prefix, after);
    const docs = await this.#users.find(filter).sort(sort).limit(limit).toArray();
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

/**
 * The search as one index range over `nicknameLower`: no collection scan and
 * no in-memory sort. Because `nicknameLower` is unique, ordering by it alone
 * is the (nicknameLower, id) order and "after the cursor" is simply `$gt`.
 */
export function nicknameSearchQuery(
  prefix: string,
  after: NicknameKey | undefined,
): { filter: Filter<UserDoc>; sort: Sort } {
  const range = after ? { $gt: after.nicknameLower } : { $gte: prefix };
  return { filter: { nicknameLower: { ...range, $lt: prefixUpperBound(prefix) } }, sort: { nicknameLower: 1 } };
}

export function translateError(error: unknown): unknown {
  if (isDuplicateKeyError(error)) {
    return new StoreError('duplicate', 'a unique key exists', { cause: error });
  }
  return error;
}

function toDoc(user: UserProfile): UserDoc {
  return {
    _id: user.id,
    nickname: user.nickname,
    nicknameLower: normalizeNickname(user.nickname),
    about: user.about,
    avatarUrl: user.avatarUrl,
    createTime: user.createTime,
    updateTime: user.updateTime,
    version: user.version,
  };
}

function fromDoc(doc: UserDoc): UserProfile {
  return {
    id: doc._id,
    nickname: doc.nickname,
    about: doc.about,
    avatarUrl: doc.avatarUrl,
    createTime: doc.createTime,
    updateTime: doc.updateTime,
    version: doc.version,
  };
}

/** Connects and prepares a store (indexes) at start-up. */
export function openMongoUserStore(
  url: string,
  dbName: string,
  options: MongoStoreOptions = {},
): Promise<OpenedMongoStore<MongoUserStore>> {
  return openMongoStore(url, (client) => new MongoUserStore(client, dbName), { ...options, appName: 'user' });
}
