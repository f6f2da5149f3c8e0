import type { Profile } from './chat.ts';

/** What this service asks the user service: who exists, with the profile fields it copies. */
export interface UserProfiles {
  /**
   * The profiles of the users that exist, by user id; unknown and deleted ids
   * are absent. Throws an `unavailable` DomainError when it cannot tell.
   */
  getProfiles(userIds: readonly string[], requestId: string): Promise<Map<string, Profile>>;
}

/** How two users stand: one question to the subscriber service answers both. */
export interface Relation {
  /** False for a pending request, no relation, or unknown users. */
  readonly friends: boolean;
  /** True when either user blocks the other. */
  readonly blocked: boolean;
}

/** What this service asks the subscriber service: how two users stand. */
export interface FriendshipChecker {
  /** Throws `unavailable` when it cannot tell. */
  relation(userIdA: string, userIdB: string, requestId: string): Promise<Relation>;
  /** Every confirmed friend of `userId` (none for an unknown user). Throws `unavailable` when it cannot tell. */
  friendIds(userId: string, requestId: string): Promise<string[]>;
}
