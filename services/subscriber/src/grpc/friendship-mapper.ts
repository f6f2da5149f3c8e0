// The one place where friendships cross between the domain and the protobuf messages.
import { type BlockedUser, type Friendship, FriendshipStatus } from '@messenger/gen/messenger/subscriber/v1/subscriber';
import { type Actor, DomainError } from '@messenger/platform/domain';
import type { Caller } from '@messenger/platform/grpc';
import type { Block, FriendshipView, ViewStatus } from '../domain/friendship.ts';

const TO_PROTO: Record<ViewStatus, FriendshipStatus> = {
  confirmed: FriendshipStatus.FRIENDSHIP_STATUS_CONFIRMED,
  incoming: FriendshipStatus.FRIENDSHIP_STATUS_INCOMING,
  outgoing: FriendshipStatus.FRIENDSHIP_STATUS_OUTGOING,
};

/** No status (no relation, or "every status") is UNSPECIFIED. */
export function toStatusMessage(status: ViewStatus | undefined): FriendshipStatus {
  return status === undefined ? FriendshipStatus.FRIENDSHIP_STATUS_UNSPECIFIED : TO_PROTO[status];
}

/** A ListFriends filter: UNSPECIFIED lists all; a value outside the enum is refused. */
export function statusFilterOf(status: FriendshipStatus, field: string): ViewStatus | undefined {
  if (status === FriendshipStatus.FRIENDSHIP_STATUS_UNSPECIFIED) return undefined;
  const found = (Object.keys(TO_PROTO) as ViewStatus[]).find((s) => TO_PROTO[s] === status);
  if (found === undefined) throw DomainError.invalid([{ field, description: 'is not a FriendshipStatus' }]);
  return found;
}

export function toFriendshipMessage(view: FriendshipView): Friendship {
  return {
    userId: view.userId,
    status: TO_PROTO[view.status],
    createTime: view.createTime,
    updateTime: view.updateTime,
  };
}

export function toBlockedUserMessage(block: Block): BlockedUser {
  return { userId: block.blockedId, createTime: block.createTime };
}

/** The platform has already refused anonymous callers of every method this service serves. */
export function actorOf(caller: Caller): Actor {
  switch (caller.kind) {
    case 'user':
      return { kind: 'user', userId: caller.userId };
    case 'service':
      return { kind: 'service', service: caller.service };
    default:
      throw new Error('anonymous caller reached a handler that requires authentication');
  }
}
