/** A user's public profile, owned by the user service; auth returns it with a session. */
export interface Profile {
  readonly id: string;
  readonly nickname: string;
  readonly about: string;
  readonly avatarUrl: string;
  readonly createTime: Date;
  readonly updateTime: Date;
}

/** What auth asks of the user service, with its own service credential. */
export interface UserProfiles {
  /**
   * Creates the profile of a new account. Repeating it with the same id and
   * nickname returns the same profile. Throws DomainErrors: `already_exists`
   * NICKNAME_TAKEN, `invalid_argument` naming `nickname`, `unavailable` when
   * the user service cannot answer.
   */
  create(userId: string, nickname: string, requestId: string): Promise<Profile>;
  /** Undefined when there is no such profile; `unavailable` when the user service cannot answer. */
  get(userId: string, requestId: string): Promise<Profile | undefined>;
}
