// What the use cases need from storage, in the domain's own terms.
import { StoreFailure } from '@messenger/platform/domain';
import type { UserEvent, UserProfile } from './user.ts';

/**
 * Where profiles live. Every write takes the events it publishes and stores
 * them in the outbox in the same atomic step as the change, so an event is
 * published if and only if its change happened.
 *
 * `E` is the form a change's events travel in: the use cases hand over
 * `UserEvent`s; a store adapter takes them already encoded for the outbox
 * (store/user-store.ts), so it never encodes an event itself.
 */
export interface UserStorage<E = UserEvent> {
  get(id: string): Promise<UserProfile | undefined>;
  /** The profiles that exist among `ids`, in no particular order. */
  getMany(ids: readonly string[]): Promise<UserProfile[]>;
  /** Adds a profile. `duplicate` when the id or the normalized nickname exists. */
  insert(user: UserProfile, events: readonly E[]): Promise<void>;
  /**
   * Replaces a profile whose stored version is `user.version - 1`. `conflict`
   * when it is absent or at another version; `duplicate` when the new
   * nickname belongs to another profile.
   */
  update(user: UserProfile, events: readonly E[]): Promise<void>;
  /** Deletes a profile stored at `version`. `conflict` when it is absent or at another version. */
  delete(id: string, version: number, events: readonly E[]): Promise<void>;
  /**
   * Profiles whose normalized nickname starts with `prefix` (already
   * normalized), ordered by normalized nickname then id, starting after
   * `after`; at most `limit`.
   */
  searchByNickname(prefix: string, after: NicknameKey | undefined, limit: number): Promise<UserProfile[]>;
}

/** A position in the nickname order. */
export interface NicknameKey {
  readonly nicknameLower: string;
  readonly id: string;
}

/** The closed set of failures a store reports; adapters translate their driver's errors into these. */
export type StoreErrorKind = 'duplicate' | 'conflict';

export class StoreError extends StoreFailure<StoreErrorKind> {}

export function isStoreError(error: unknown, kind: StoreErrorKind): error is StoreError {
  return error instanceof StoreError && error.kind === kind;
}

/**
 * The least string greater than every string starting with `prefix`: the
 * prefix with its last character incremented. Nicknames are ASCII, so the
 * increment never overflows and binary order is the index's order. Every
 * adapter ranges its nickname search over [prefix, prefixUpperBound(prefix)).
 */
export function prefixUpperBound(prefix: string): string {
  if (prefix === '') throw new RangeError('prefix must not be empty');
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}
