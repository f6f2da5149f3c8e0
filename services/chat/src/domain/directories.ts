import type { Profile } from './chat.ts';

/** What this service asks the user service: who exists, with the profile fields it copies. */
export interface UserProfiles {
  /**
   * The profiles of the users that exist, by user id; unknown and deleted ids
   * are absent. Throws an `unavailable` DomainError when it cannot tell.
   */
  getProfiles(userIds: readonly string[], requestId: string): Promise<Map<string, Profile>>;
}

/** What this service asks the subscriber service: whether two users are confirmed friends. */
export interface FriendshipChecker {
  /** False for a pending request, no relation, or unknown users. Throws `unavailable` when it cannot tell. */
  areFriends(userIdA: string, userIdB: string, requestId: string): Promise<boolean>;
  /** True when either user blocks the other. Throws `unavailable` when it cannot tell. */
  isBlocked(userIdA: string, userIdB: string, requestId: string): Promise<boolean>;
}
