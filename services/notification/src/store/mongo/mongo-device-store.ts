import {
  inTransaction,
  isDuplicateKeyError,
  type MongoStoreOptions,
  type OpenedMongoStore,
  openMongoStore,
  reconcileIndexes,
} from '@messenger/platform/mongo';
import type { Collection, MongoClient } from 'mongodb';
import { type Device, type PushTarget, targetKey } from '../../domain/device.ts';
import type { Mute } from '../../domain/ports.ts';
import type { DeviceStore, RegisterOutcome } from '../device-store.ts';

/** How long a handled event id is remembered: far longer than any redelivery of it takes. */
export const HANDLED_EVENT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

export interface DeviceDoc {
  /** The device id. */
  _id: string;
  userId: string;
  /** `targetKey`: unique, so one browser subscription or app token is one device. */
  targetKey: string;
  target: PushTarget;
  createTime: Date;
}

/** One per user who registered: what concurrent registrations of that user write first, so they run one after another. */
interface DeviceOwnerDoc {
  _id: string;
  registrations: number;
}

interface HandledEventDoc {
  _id: string;
  handledAt: Date;
}

interface MuteDoc {
  /** `<chat id>:<user id>`. */
  _id: string;
  chatId: string;
  userId: string;
  muted: boolean;
  /** Null: a mute with no end (or no mute when `muted` is false). */
  until: Date | null;
  asOf: Date;
}

const muteIdOf = (chatId: string, userId: string) => `${chatId}:${userId}`;

const deviceOf = (doc: DeviceDoc): Device => ({
  id: doc._id,
  userId: doc.userId,
  target: doc.target,
  createdAt: doc.createTime,
});

/**
 * Devices in MongoDB (database `notification` by default), so that they
 * survive restarts and replicas share them. A registration's limit check and
 * insert run in one transaction that first writes the user's
 * `device_owners` document: two registrations of one user conflict there
 * and the driver reruns the later one, which then counts the first's device
 * (a count alone would let both pass). Handled event ids live in
 * `handled_events` until a TTL index removes them (a time window instead of
 * the other adapters' count window: the same guarantee for redeliveries).
 * Mutes are one document per (chat, member); the conditional update keeps
 * the state with the later `asOf`.
 */
export class MongoDeviceStore implements DeviceStore {
  readonly #client: MongoClient;
  readonly #devices: Collection<DeviceDoc>;
  readonly #owners: Collection<DeviceOwnerDoc>;
  readonly #handled: Collection<HandledEventDoc>;
  readonly #mutes: Collection<MuteDoc>;

  constructor(client: MongoClient, dbName: string) {
    const db = client.db(dbName);
    this.#client = client;
    this.#devices = db.collection<DeviceDoc>('devices');
    this.#owners = db.collection<DeviceOwnerDoc>('device_owners');
    this.#handled = db.collection<HandledEventDoc>('handled_events');
    this.#mutes = db.collection<MuteDoc>('mutes');
  }

  /** Run at start-up: brings each collection's indexes to the definitions here (reconcileIndexes). */
  async ensureIndexes(): Promise<void> {
    await reconcileIndexes(this.#devices, [
      { key: { targetKey: 1 }, name: 'target', unique: true },
      // A user's devices newest first, their count, and the devices of a message's recipients.
      { key: { userId: 1, createTime: -1, _id: -1 }, name: 'user_newest' },
    ]);
    await reconcileIndexes(this.#handled, [
      { key: { handledAt: 1 }, name: 'ttl', expireAfterSeconds: HANDLED_EVENT_RETENTION_MS / 1000 },
    ]);
    await reconcileIndexes(this.#mutes, [
      // The muting members of a chat (the lookup per message) and a deleted user's mutes.
      { key: { chatId: 1, muted: 1 }, name: 'chat_muted' },
      { key: { userId: 1 }, name: 'user' },
    ]);
  }

  register(device: Device, maxPerUser: number): Promise<RegisterOutcome> {
    const key = targetKey(device.target);
    return inTransaction(this.#client, async (session): Promise<RegisterOutcome> => {
      await this.#owners.updateOne({ _id: device.userId }, { $inc: { registrations: 1 } }, { session, upsert: true });
      const existing = await this.#devices.findOneAndUpdate(
        { targetKey: key },
        { $set: { userId: device.userId, target: device.target } },
        { session, returnDocument: 'after' },
      );
      if (existing) return { kind: 'existing', device: deviceOf(existing) };
      const count = await this.#devices.countDocuments({ userId: device.userId }, { session });
      if (count >= maxPerUser) return { kind: 'limit' };
      await this.#devices.insertOne(
        { _id: device.id, userId: device.userId, targetKey: key, target: device.target, createTime: device.createdAt },
        { session },
      );
      return { kind: 'created', device };
    });
  }

  async listByUser(userId: string): Promise<Device[]> {
    const docs = await this.#devices.find({ userId }).sort({ createTime: -1, _id: -1 }).toArray();
    return docs.map(deviceOf);
  }

  async devicesOf(userIds: readonly string[]): Promise<Device[]> {
    if (userIds.length === 0) return [];
    const docs = await this.#devices.find({ userId: { $in: [...userIds] } }).toArray();
    return docs.map(deviceOf);
  }

  async remove(userId: string, deviceId: string): Promise<boolean> {
    return (await this.#devices.deleteOne({ _id: deviceId, userId })).deletedCount > 0;
  }

  async removeAllOf(userId: string): Promise<number> {
    const { deletedCount } = await this.#devices.deleteMany({ userId });
    await this.#owners.deleteOne({ _id: userId });
    return deletedCount;
  }

  async removeGone(deviceId: string): Promise<boolean> {
    return (await this.#devices.deleteOne({ _id: deviceId })).deletedCount > 0;
  }

  async firstDelivery(eventId: string): Promise<boolean> {
    const result = await this.#handled.updateOne(
      { _id: eventId },
      { $setOnInsert: { handledAt: new Date() } },
      { upsert: true },
    );
    return result.upsertedCount > 0;
  }

  async setMute(chatId: string, userId: string, mute: Mute | null, asOf: Date): Promise<boolean> {
    const state = { chatId, userId, muted: mute !== null, until: mute?.until ?? null, asOf };
    try {
      // Matches only a kept state no newer than this one; with none kept the upsert inserts it.
      const result = await this.#mutes.updateOne(
        { _id: muteIdOf(chatId, userId), asOf: { $lte: asOf } },
        { $set: state },
        { upsert: true },
      );
      return result.matchedCount > 0 || result.upsertedCount > 0;
    } catch (error) {
      // A newer state is kept: the filter missed it and the upsert collided with its _id.
      if (isDuplicateKeyError(error)) return false;
      throw error;
    }
  }

  async mutesOf(chatId: string, userIds: readonly string[]): Promise<ReadonlyMap<string, Mute>> {
    const found = new Map<string, Mute>();
    if (userIds.length === 0) return found;
    const docs = await this.#mutes.find({ chatId, muted: true, userId: { $in: [...userIds] } }).toArray();
    for (const doc of docs) found.set(doc.userId, { until: doc.until });
    return found;
  }

  async removeMutesOf(userId: string): Promise<number> {
    return (await this.#mutes.deleteMany({ userId })).deletedCount;
  }
}

/** Connects, ensures the indexes and answers the health probe (`openMongoStore`). */
export function openMongoDeviceStore(
  url: string,
  dbName: string,
  options: MongoStoreOptions = {},
): Promise<OpenedMongoStore<MongoDeviceStore>> {
  return openMongoStore(url, (client) => new MongoDeviceStore(client, dbName), { ...options, appName: 'notification' });
}
