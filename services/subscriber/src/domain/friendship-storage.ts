// What the use cases need from storage, in the domain's own terms.
import { StoreFailure } from '@messenger/platform/domain';
import { type Friendship, type FriendshipEvent, pairIdOfFriendship, type ViewStatus } from './friendship.ts';

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
   * Reaction to another service's event: deletes every record of `userId`,
   * writes the events `events` returns for them, and records `eventId` as
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
}

/**
 * The list order as one unique string: the change time (ISO 8601 sorts as
 * text) then the pair id as tie-breaker, so a page boundary is one `<`.
 */
export function listKeyOf(f: Friendship): string {
  return `${f.updateTime.toISOString()}|${pairIdOfFriendship(f)}`;
}

/** The closed set of failures a store reports; adapters translate their driver's errors into these. */
export type StoreErrorKind = 'duplicate' | 'conflict';

export class StoreError extends StoreFailure<StoreErrorKind> {}

export function isStoreError(error: unknown, kind: StoreErrorKind): error is StoreError {
  return error instanceof StoreError && error.kind === kind;
}
