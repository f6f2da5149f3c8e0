import { MemoryOutbox, type OutboxEntry } from '@messenger/platform/events';
import { normalizeNickname, type UserProfile } from '../../domain/user.ts';
import { type NicknameKey, StoreError } from '../../domain/user-storage.ts';
import type { UserStore } from '../user-store.ts';

/**
 * Embedded mode and tests. Each write checks, changes the maps and appends
 * its events in one synchronous step, which is atomic in a single-threaded
 * process. Profiles are copied in and out so callers never share state.
 */
export class MemoryUserStore implements UserStore {
  readonly outbox = new MemoryOutbox();
  readonly #byId = new Map<string, UserProfile>();
  /** normalized nickname → id: the unique index. */
  readonly #byNickname = new Map<string, string>();

  async get(id: string): Promise<UserProfile | undefined> {
    const user = this.#byId.get(id);
    return user && structuredClone(user);
  }

  async getMany(ids: readonly string[]): Promise<UserProfile[]> {
    return ids.flatMap((id) => {
      const user = this.#byId.get(id);
      return user ? [structuredClone(user)] : [];
    });
  }

  async insert(user: UserProfile, entries: readonly OutboxEntry[]): Promise<void> {
    const key = normalizeNickname(user.nickname);
    if (this.#byId.has(user.id)) throw new StoreError('duplicate', 'user id exists');
    if (this.#byNickname.has(key)) throw new StoreError('duplicate', 'nickname exists');
    this.#byId.set(user.id, structuredClone(user));
    this.#byNickname.set(key, user.id);
    this.outbox.append(entries);
  }

  async update(user: UserProfile, entries: readonly OutboxEntry[]): Promise<void> {
    const stored = this.#byId.get(user.id);
    if (stored?.version !== user.version - 1) throw new StoreError('conflict', 'user changed or is gone');
    const oldKey = normalizeNickname(stored.nickname);
    const newKey = normalizeNickname(user.nickname);
    const holder = this.#byNickname.get(newKey);
    if (holder !== undefined && holder !== user.id) throw new StoreError('duplicate', 'nickname exists');
    this.#byNickname.delete(oldKey);
    this.#byNickname.set(newKey, user.id);
    this.#byId.set(user.id, structuredClone(user));
    this.outbox.append(entries);
  }

  async delete(id: string, version: number, entries: readonly OutboxEntry[]): Promise<void> {
    const stored = this.#byId.get(id);
    if (stored?.version !== version) throw new StoreError('conflict', 'user changed or is gone');
    this.#byNickname.delete(normalizeNickname(stored.nickname));
    this.#byId.delete(id);
    this.outbox.append(entries);
  }

  async searchByNickname(prefix: string, after: NicknameKey | undefined, limit: number): Promise<UserProfile[]> {
    // A scan is fine for the embedded mode's data sizes; the Mongo adapter uses its index.
    return [...this.#byId.values()]
      .map((user) => ({ user, key: { nicknameLower: normalizeNickname(user.nickname), id: user.id } }))
      .filter(({ key }) => key.nicknameLower.startsWith(prefix) && (!after || compareKeys(key, after) > 0))
      .sort((a, b) => compareKeys(a.key, b.key))
      .slice(0, limit)
      .map(({ user }) => structuredClone(user));
  }
}

function compareKeys(a: NicknameKey, b: NicknameKey): number {
  if (a.nicknameLower !== b.nicknameLower) return a.nicknameLower < b.nicknameLower ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
