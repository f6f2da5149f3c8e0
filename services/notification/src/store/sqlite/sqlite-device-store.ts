import { SqliteDatabase, type SqliteSchema } from '@messenger/platform/sqlite';
import { type Device, type PushTarget, targetKey } from '../../domain/device.ts';
import type { Mute } from '../../domain/ports.ts';
import type { DeviceStore, RegisterOutcome } from '../device-store.ts';

/**
 * One row per device, unique by its target (`targetKey`); the user index
 * serves the newest-first list, the count against the limit and the lookup
 * per recipient. `handled_events` numbers each handled event id so the
 * oldest past the window are deleted by one range of the primary key.
 * `mutes` keeps each member's mute state of a chat (`muted` 0 for an unmute,
 * `mute_until` null for a mute with no end) with the time it is as of; the
 * primary key serves the lookup per chat, the user index the deletion of a
 * user's.
 *
 * Append new migrations; never edit one.
 */
export const deviceSchema: SqliteSchema = {
  name: 'device',
  migrations: [
    'CREATE TABLE devices (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, target_key TEXT NOT NULL UNIQUE, ' +
      "kind TEXT NOT NULL CHECK (kind IN ('webpush', 'fcm')), endpoint TEXT, p256dh TEXT, auth TEXT, token TEXT, " +
      'create_time INTEGER NOT NULL) STRICT;' +
      'CREATE INDEX devices_user ON devices (user_id, create_time, id);' +
      'CREATE TABLE handled_events (n INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE) STRICT;',
    'CREATE TABLE mutes (chat_id TEXT NOT NULL, user_id TEXT NOT NULL, muted INTEGER NOT NULL, mute_until INTEGER, ' +
      'as_of INTEGER NOT NULL, PRIMARY KEY (chat_id, user_id)) STRICT, WITHOUT ROWID;' +
      'CREATE INDEX mutes_user ON mutes (user_id);',
  ],
};

interface DeviceRow {
  id: string;
  user_id: string;
  kind: 'webpush' | 'fcm';
  endpoint: string | null;
  p256dh: string | null;
  auth: string | null;
  token: string | null;
  create_time: number;
}

const COLUMNS = 'id, user_id, kind, endpoint, p256dh, auth, token, create_time';

export const DEVICE_SQL = {
  byTarget: `SELECT ${COLUMNS} FROM devices WHERE target_key = ?`,
  countOfUser: 'SELECT count(*) AS n FROM devices WHERE user_id = ?',
  insert: `INSERT INTO devices (${COLUMNS}, target_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  retarget: 'UPDATE devices SET user_id = ?, p256dh = ?, auth = ? WHERE id = ?',
  ofUser: `SELECT ${COLUMNS} FROM devices WHERE user_id = ? ORDER BY create_time DESC, id DESC`,
  remove: 'DELETE FROM devices WHERE id = ? AND user_id = ?',
  removeAllOf: 'DELETE FROM devices WHERE user_id = ?',
  removeGone: 'DELETE FROM devices WHERE id = ?',
  recordEvent: 'INSERT INTO handled_events (event_id) VALUES (?) ON CONFLICT DO NOTHING',
  forgetEvents: 'DELETE FROM handled_events WHERE n <= ?',
  setMute:
    'INSERT INTO mutes (chat_id, user_id, muted, mute_until, as_of) VALUES (?, ?, ?, ?, ?) ' +
    'ON CONFLICT (chat_id, user_id) DO UPDATE SET muted = excluded.muted, mute_until = excluded.mute_until, ' +
    'as_of = excluded.as_of WHERE excluded.as_of >= mutes.as_of',
  mutedIn: 'SELECT user_id, mute_until FROM mutes WHERE chat_id = ? AND muted = 1',
  removeMutesOf: 'DELETE FROM mutes WHERE user_id = ?',
};

type Statements = { [K in keyof typeof DEVICE_SQL]: ReturnType<SqliteDatabase['prepare']> };

function targetOf(row: DeviceRow): PushTarget {
  return row.kind === 'webpush'
    ? { kind: 'webpush', endpoint: row.endpoint ?? '', p256dh: row.p256dh ?? '', auth: row.auth ?? '' }
    : { kind: 'fcm', token: row.token ?? '' };
}

const deviceOf = (row: DeviceRow): Device => ({
  id: row.id,
  userId: row.user_id,
  target: targetOf(row),
  createdAt: new Date(row.create_time),
});

/** Devices in a SQLite file (embedded mode): a registration's check and write in one transaction. */
export class SqliteDeviceStore implements DeviceStore {
  readonly #db: SqliteDatabase;
  readonly #sql: Statements;
  readonly #dedupeWindow: number;

  constructor(db: SqliteDatabase, opts: { dedupeWindow?: number } = {}) {
    this.#db = db;
    this.#dedupeWindow = opts.dedupeWindow ?? 100_000;
    this.#sql = Object.fromEntries(
      Object.entries(DEVICE_SQL).map(([name, sql]) => [name, db.prepare(sql)]),
    ) as Statements;
  }

  /** Opens (creating or migrating) the store's file, `notification.db` in the data directory. */
  static open(file: string): SqliteDeviceStore {
    return new SqliteDeviceStore(SqliteDatabase.open(file, [deviceSchema]));
  }

  close(): void {
    this.#db.close();
  }

  async register(device: Device, maxPerUser: number): Promise<RegisterOutcome> {
    const key = targetKey(device.target);
    return this.#db.transaction((): RegisterOutcome => {
      const existing = this.#sql.byTarget.get(key) as DeviceRow | undefined;
      const t = device.target;
      if (existing) {
        const keys = t.kind === 'webpush' ? [t.p256dh, t.auth] : [null, null];
        this.#sql.retarget.run(device.userId, ...keys, existing.id);
        return { kind: 'existing', device: { ...deviceOf(existing), userId: device.userId, target: t } };
      }
      const { n } = this.#sql.countOfUser.get(device.userId) as { n: number };
      if (n >= maxPerUser) return { kind: 'limit' };
      const values =
        t.kind === 'webpush' ? ['webpush', t.endpoint, t.p256dh, t.auth, null] : ['fcm', null, null, null, t.token];
      this.#sql.insert.run(device.id, device.userId, ...values, device.createdAt.getTime(), key);
      return { kind: 'created', device };
    });
  }

  async listByUser(userId: string): Promise<Device[]> {
    return (this.#sql.ofUser.all(userId) as unknown as DeviceRow[]).map(deviceOf);
  }

  async devicesOf(userIds: readonly string[]): Promise<Device[]> {
    return (await Promise.all(userIds.map((id) => this.listByUser(id)))).flat();
  }

  async remove(userId: string, deviceId: string): Promise<boolean> {
    return Number(this.#sql.remove.run(deviceId, userId).changes) > 0;
  }

  async removeAllOf(userId: string): Promise<number> {
    return Number(this.#sql.removeAllOf.run(userId).changes);
  }

  async removeGone(deviceId: string): Promise<boolean> {
    return Number(this.#sql.removeGone.run(deviceId).changes) > 0;
  }

  async firstDelivery(eventId: string): Promise<boolean> {
    return this.#db.transaction(() => {
      const result = this.#sql.recordEvent.run(eventId);
      if (Number(result.changes) === 0) return false;
      this.#sql.forgetEvents.run(Number(result.lastInsertRowid) - this.#dedupeWindow);
      return true;
    });
  }

  async setMute(chatId: string, userId: string, mute: Mute | null, asOf: Date): Promise<boolean> {
    const until = mute?.until ? mute.until.getTime() : null;
    return Number(this.#sql.setMute.run(chatId, userId, mute ? 1 : 0, until, asOf.getTime()).changes) > 0;
  }

  /** The chat's muting members, then those asked about: a chat has far fewer of them than members. */
  async mutesOf(chatId: string, userIds: readonly string[]): Promise<ReadonlyMap<string, Mute>> {
    const wanted = new Set(userIds);
    const found = new Map<string, Mute>();
    for (const row of this.#sql.mutedIn.all(chatId) as unknown as { user_id: string; mute_until: number | null }[]) {
      if (wanted.has(row.user_id)) {
        found.set(row.user_id, { until: row.mute_until === null ? null : new Date(row.mute_until) });
      }
    }
    return found;
  }

  async removeMutesOf(userId: string): Promise<number> {
    return Number(this.#sql.removeMutesOf.run(userId).changes);
  }
}
