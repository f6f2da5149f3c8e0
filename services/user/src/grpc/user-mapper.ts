// The one place where profiles cross between the domain and the protobuf messages.
import type { User } from '@messenger/gen/messenger/user/v1/user';
import type { Caller } from '@messenger/platform/grpc';
import type { Actor, UserProfile } from '../domain/user.ts';

export function toUserMessage(user: UserProfile): User {
  return {
    userId: user.id,
    nickname: user.nickname,
    about: user.about,
    avatarUrl: user.avatarUrl,
    createTime: user.createTime,
    updateTime: user.updateTime,
  };
}

const ADMIN_ROLE = 'admin';

/** The platform has already refused anonymous callers of every method this service serves. */
export function actorOf(caller: Caller): Actor {
  switch (caller.kind) {
    case 'user':
      return { kind: 'user', userId: caller.userId, admin: caller.roles.includes(ADMIN_ROLE) };
    case 'service':
      return { kind: 'service', service: caller.service };
    default:
      throw new Error('anonymous caller reached a handler that requires authentication');
  }
}
