import { MemoryOutbox, type OutboxEntry } from '@messenger/platform/events';
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

/** At most this many processed event ids are remembered (oldest forgotten first), so memory stays bounded. */
const MAX_PROCESSED_EVENTS = 100_000;

/**
 * Embedded mode and tests. Each write checks, changes the map and appends
 * its events in one synchronous step, which is atomic in a single-threaded
 * process. Records are copied in and out so callers never share state.
 */
export class MemoryFriendshipStore implements FriendshipStore {
  readonly outbox = new MemoryOutbox();
  /** pair id → record: one per unordered pair by construction. */
  readonly #byPair = new Map<string, Friendship>();
  /** `blocker:blocked` → block. */
  readonly #blocks = new Map<string, Block>();
  /** event id → when processed (ms), oldest first. */
  readonly #processed = new Map<string, number>();

  async get(userA: string, userB: string): Promise<Friendship | undefined> {
    const f = this.#byPair.get(pairIdOf(userA, userB));
    return f && structuredClone(f);
  }

  async insert(friendship: Friendship, entries: readonly OutboxEntry[]): Promise<void> {
    const pairId = pairIdOfFriendship(friendship);
    if (this.#byPair.has(pairId)) throw new StoreError('duplicate', 'the pair has a record');
    this.#byPair.set(pairId, structuredClone(friendship));
    this.outbox.append(entries);
  }

  async update(friendship: Friendship, entries: readonly OutboxEntry[]): Promise<void> {
    const pairId = pairIdOfFriendship(friendship);
    if (this.#byPair.get(pairId)?.version !== friendship.version - 1) {
      throw new StoreError('conflict', 'the record changed or is gone');
    }
    this.#byPair.set(pairId, structuredClone(friendship));
    this.outbox.append(entries);
  }

  async delete(friendship: Friendship, version: number, entries: readonly OutboxEntry[]): Promise<void> {
    const pairId = pairIdOfFriendship(friendship);
    if (this.#byPair.get(pairId)?.version !== version)
      throw new StoreError('conflict', 'the record changed or is gone');
    this.#byPair.delete(pairId);
    this.outbox.append(entries);
  }

  async block(
    block: Block,
    ending: Friendship | undefined,
    entries: readonly OutboxEntry[],
    maxBlocks: number,
  ): Promise<{ block: Block; created: boolean }> {
    const key = `${block.blockerId}:${block.blockedId}`;
    const existing = this.#blocks.get(key);
    if (existing) return { block: structuredClone(existing), created: false };
    if ([...this.#blocks.values()].filter((b) => b.blockerId === block.blockerId).length >= maxBlocks) {
      throw new StoreError('limit', 'the blocker has the maximum number of blocks');
    }
    if (ending) {
      const pairId = pairIdOfFriendship(ending);
      if (this.#byPair.get(pairId)?.version !== ending.version) {
        throw new StoreError('conflict', 'the record changed or is gone');
      }
      this.#byPair.delete(pairId);
    }
    this.#blocks.set(key, structuredClone(block));
    this.outbox.append(entries);
    return { block: structuredClone(block), created: true };
  }

  async unblock(blockerId: string, blockedId: string): Promise<boolean> {
    return this.#blocks.delete(`${blockerId}:${blockedId}`);
  }

  async blocksBetween(userA: string, userB: string): Promise<Block[]> {
    return [this.#blocks.get(`${userA}:${userB}`), this.#blocks.get(`${userB}:${userA}`)]
      .filter((b) => b !== undefined)
      .map((b) => structuredClone(b));
  }

  async listBlocks(blockerId: string, after: string | undefined, limit: number): Promise<Block[]> {
    return [...this.#blocks.values()]
      .filter((b) => b.blockerId === blockerId)
      .map((b) => ({ b, key: blockKeyOf(b) }))
      .filter(({ key }) => after === undefined || key < after)
      .sort((x, y) => (x.key < y.key ? 1 : x.key > y.key ? -1 : 0))
      .slice(0, limit)
      .map(({ b }) => structuredClone(b));
  }

  async removeAllOf(
    userId: string,
    eventId: string,
    now: Date,
    events: (removed: readonly Friendship[]) => readonly OutboxEntry[],
  ): Promise<{ applied: boolean; removed: number }> {
    this.#forgetProcessed(now.getTime());
    if (this.#processed.has(eventId)) return { applied: false, removed: 0 };
    const removed = [...this.#byPair.values()].filter((f) => f.requesterId === userId || f.addresseeId === userId);
    const entries = events(removed.map((f) => structuredClone(f)));
    for (const f of removed) this.#byPair.delete(pairIdOfFriendship(f));
    for (const [key, b] of this.#blocks) if (b.blockerId === userId || b.blockedId === userId) this.#blocks.delete(key);
    this.#processed.set(eventId, now.getTime());
    this.outbox.append(entries);
    return { applied: true, removed: removed.length };
  }

  /** Drops ids past the retention, then the oldest beyond the cap (the map keeps insertion order). */
  #forgetProcessed(nowMs: number): void {
    for (const [id, at] of this.#processed) {
      if (nowMs - at <= PROCESSED_EVENT_RETENTION_MS && this.#processed.size < MAX_PROCESSED_EVENTS) break;
      this.#processed.delete(id);
    }
  }

  async listFor(
    userId: string,
    status: ViewStatus | undefined,
    after: string | undefined,
    limit: number,
  ): Promise<Friendship[]> {
    // A scan is fine for the embedded mode's data sizes; the Mongo adapter uses its indexes.
    return [...this.#byPair.values()]
      .filter((f) => f.requesterId === userId || f.addresseeId === userId)
      .filter((f) => status === undefined || statusSeenBy(f, userId) === status)
      .map((f) => ({ f, key: listKeyOf(f) }))
      .filter(({ key }) => after === undefined || key < after)
      .sort((a, b) => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0))
      .slice(0, limit)
      .map(({ f }) => structuredClone(f));
  }
}
