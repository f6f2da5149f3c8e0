import { UserDeleted, UserUpdated } from '@messenger/gen/messenger/user/v1/events';
import type { Subscription } from '@messenger/platform/events';
import type { UserReactions } from '../domain/user-reactions.ts';

/**
 * `user.user.updated` → the member profile copies in the user's chats are
 * refreshed; `user.user.deleted` → the user leaves every chat. Shared by the
 * replicas (one of them handles each event). Idempotent without a dedupe
 * table: a copy already as new as the event is left alone, and a deleted
 * user has no chat left to leave.
 */
export function userEventsConsumer(reactions: UserReactions): Subscription {
  return {
    topics: ['user.events'],
    group: 'chat.user-events',
    delivery: 'shared',
    async handle(event) {
      if (!event.payload) return;
      if (event.type === 'user.user.updated') {
        const after = UserUpdated.decode(event.payload.value).after;
        if (!after?.userId) return;
        await reactions.refreshProfile(
          { userId: after.userId, nickname: after.nickname, avatarUrl: after.avatarUrl, updateTime: after.updateTime },
          event.requestId,
        );
      } else if (event.type === 'user.user.deleted') {
        const userId = UserDeleted.decode(event.payload.value).before?.userId;
        if (userId) await reactions.removeUser(userId, event.requestId);
      }
    },
  };
}
