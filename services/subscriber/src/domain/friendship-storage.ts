// What the use cases need from storage, in the domain's own terms.
import { StoreFailure } from '@messenger/platform/domain';
import {
  type Block,
  type Friendship,
  type FriendshipEvent,
  pairIdOfFriendship,
  type ViewStatus,
} from './friendship.ts';

/**
 * Where friendships live: one record per unordered pair. Every write takes
 * the events it publishes and stores them in the outbox in the same atomic
 * step as the change.
 *
 * `E` is the form a change's events travel in: the use cases hand over
 * `FriendshipEvent`s; a store adapter takes them already encoded for the
 * outbox (store/friendship-store.ts), so it never encodes an event itself.
 */
export interface FriendshipStorage<E = FriendshipEvent> {
  /** The record of the pair, whichever way round the ids are given. */
  get(userA: string, userB: string): Promise<Friendship | undefined>;
  /** Adds a record. `duplicate` when the pair has one already. */
  insert(friendship: Friendship, events: readonly E[]): Promise<void>;
  /** Replaces the pair's record stored at `friendship.version - 1`. `conflict` when absent or at another version. */
  update(friendship: Friendship, events: readonly E[]): Promise<void>;
  /** Deletes the pair's record stored at `version`. `conflict` when absent or at another version. */
  delete(friendship: Friendship, version: number, events: readonly E[]): Promise<void>;
  /**
   * The records of `userId`, only those it sees with `status` when given,
   * most recently changed first (descending `listKeyOf`), starting after the
   * list key `after`; at most `limit`.
   */
  listFor(
    userId: string,
    status: ViewStatus | undefined,
    after: string | undefined,
    limit: number,
  ): Promise<Friendship[]>;
  /**
   * Reaction to another service's event: deletes every record of `userId`
   * and every block by or of them (without events: blocks have none), writes the events `events` returns for them, and records `eventId` as
   * processed, in one atomic step. Changes nothing and returns `applied:
   * false` when `eventId` was processed before, so a redelivered event has no
   * second effect.
   */
  removeAllOf(
    userId: string,
    eventId: string,
    now: Date,
    events: (removed: readonly Friendship[]) => readonly E[],
  ): Promise<{ applied: boolean; removed: number }>;
  /**
   * Stores `block` unless its blocker already blocks that user, and in the
   * same atomic step deletes `ending` (the pair's record, at its version)
   * and writes `events`. Returns the block in force: the new one, or the
   * existing one with nothing changed. `limit` when the blocker already has
   * `maxBlocks` blocks; `conflict` when `ending` changed or is gone.
   */
  block(
    block: Block,
    ending: Friendship | undefined,
    events: readonly E[],
    maxBlocks: number,
  ): Promise<{ block: Block; created: boolean }>;
  /** Deletes the block of `blockedId` by `blockerId`; false when there was none. */
  unblock(blockerId: string, blockedId: string): Promise<boolean>;
  /** The blocks between the two users, either way round: none, one or both. */
  blocksBetween(userA: string, userB: string): Promise<Block[]>;
  /** The blocks by `blockerId`, newest first (descending `blockKeyOf`), after the key `after`; at most `limit`. */
  listBlocks(blockerId: string, after: string | undefined, limit: number): Promise<Block[]>;
}

/** The block list order as one unique string: the block time, then the blocked id as tie-breaker. */
export function blockKeyOf(b: Block): string {
  return `${b.createTime.toISOString()}|${b.blockedId}`;
}

/**
 * The list order as one unique string: the change time (ISO 8601 sorts as
 * text) then the pair id as tie-breaker, so a page boundary is one `<`.
 */
export function listKeyOf(f: Friendship): string {
  return `${f.updateTime.toISOString()}|${pairIdOfFriendship(f)}`;
}

/** The closed set of failures a store reports; adapters translate their driver's errors into these. */
export type StoreErrorKind = 'duplicate' | 'conflict' | 'limit';

export class StoreError extends StoreFailure<StoreErrorKind> {}

export function isStoreError(error: unknown, kind: StoreErrorKind): error is StoreError {
  return error instanceof StoreError && error.kind === kind;
}
