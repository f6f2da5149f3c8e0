// Every failure the subscriber service reports, one constructor per reason,
// so a reason always comes with the same kind and the same message. The
// platform adds INVALID_ARGUMENT (`throwIfInvalid`), USER_CALLER_REQUIRED for a
// service credential on a user's method (`callerId`) and CONCURRENT_CHANGE
// (`retryOnRace`, with `FRIENDSHIP_RACE_SUBJECT`).
import { DomainError, ErrorKind } from '@messenger/platform/domain';

export const SubscriberErrorReason = {
  UserNotFound: 'USER_NOT_FOUND',
  FriendRequestNotFound: 'FRIEND_REQUEST_NOT_FOUND',
  AlreadyFriends: 'ALREADY_FRIENDS',
  OwnRequest: 'OWN_REQUEST',
  IncomingRequest: 'INCOMING_REQUEST',
  UserServiceUnavailable: 'USER_SERVICE_UNAVAILABLE',
  YouBlockUser: 'YOU_BLOCK_USER',
  BlockLimit: 'BLOCK_LIMIT',
} as const;
export type SubscriberErrorReason = (typeof SubscriberErrorReason)[keyof typeof SubscriberErrorReason];

const R = SubscriberErrorReason;

/** What keeps changing when a change of a pair gives up on concurrent writers (`retryOnRace`'s subject). */
export const FRIENDSHIP_RACE_SUBJECT = 'the friendship';

export function userNotFound(): DomainError {
  return new DomainError(ErrorKind.NotFound, R.UserNotFound, 'no user with this id');
}

/** Also for the caller's own request: only its addressee can confirm it. */
export function friendRequestNotFound(): DomainError {
  return new DomainError(ErrorKind.NotFound, R.FriendRequestNotFound, 'there is no friend request from this user');
}

export function alreadyFriends(): DomainError {
  return new DomainError(ErrorKind.FailedPrecondition, R.AlreadyFriends, 'you are friends; use Unfriend');
}

export function ownRequest(): DomainError {
  return new DomainError(
    ErrorKind.FailedPrecondition,
    R.OwnRequest,
    'only the addressee declines a request; withdraw yours with Unfriend',
  );
}

export function incomingRequest(): DomainError {
  return new DomainError(
    ErrorKind.FailedPrecondition,
    R.IncomingRequest,
    'this user asked you; use DeclineFriend to turn the request down',
  );
}

/** Told only to the blocker, who knows of the block already. */
export function youBlockUser(): DomainError {
  return new DomainError(
    ErrorKind.FailedPrecondition,
    R.YouBlockUser,
    'you block this user; unblock them before sending a request',
  );
}

export function blockLimit(max: number): DomainError {
  return new DomainError(ErrorKind.ResourceExhausted, R.BlockLimit, `you already block ${max} users, the most allowed`);
}

export function userServiceUnavailable(): DomainError {
  return new DomainError(
    ErrorKind.Unavailable,
    R.UserServiceUnavailable,
    'users cannot be looked up right now; try again shortly',
  );
}
