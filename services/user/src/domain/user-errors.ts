// Every failure the user service reports, one constructor per reason, so a
// reason always comes with the same kind and the same message. The platform
// adds INVALID_ARGUMENT (`throwIfInvalid`) and CONCURRENT_CHANGE
// (`retryOnRace`, with `PROFILE_RACE_SUBJECT`).
import { DomainError, ErrorKind } from '@messenger/platform/domain';

export const UserErrorReason = {
  UserNotFound: 'USER_NOT_FOUND',
  UserExists: 'USER_EXISTS',
  NicknameTaken: 'NICKNAME_TAKEN',
  NotProfileOwner: 'NOT_PROFILE_OWNER',
} as const;
export type UserErrorReason = (typeof UserErrorReason)[keyof typeof UserErrorReason];

const R = UserErrorReason;

/** What keeps changing when a change of a profile gives up on concurrent writers (`retryOnRace`'s subject). */
export const PROFILE_RACE_SUBJECT = 'the profile';

export function userNotFound(): DomainError {
  return new DomainError(ErrorKind.NotFound, R.UserNotFound, 'no user with this id');
}

/** The id is taken by a profile with another nickname: not a retry of the same creation. */
export function userExists(): DomainError {
  return new DomainError(
    ErrorKind.AlreadyExists,
    R.UserExists,
    'a profile with this user_id already exists with another nickname',
  );
}

export function nicknameTaken(): DomainError {
  return new DomainError(ErrorKind.AlreadyExists, R.NicknameTaken, 'the nickname is taken');
}

export function notProfileOwner(): DomainError {
  return new DomainError(
    ErrorKind.PermissionDenied,
    R.NotProfileOwner,
    'only the owner of a profile or an admin may change it',
  );
}
