/** The one thing this service asks the user service: whether a user exists. */
export interface UserDirectory {
  /** False for unknown and deleted users. Throws an `unavailable` DomainError when it cannot tell. */
  exists(userId: string, requestId: string): Promise<boolean>;
}
