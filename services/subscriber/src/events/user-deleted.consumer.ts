import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { UserDeleted } from '@messenger/gen/messenger/user/v1/events';
import type { Subscription } from '@messenger/platform/events';
import type { FriendshipUseCases } from '../domain/friendship-use-cases.ts';

export const USER_EVENTS_TOPIC = 'user.events';
export const USER_DELETED_GROUP = 'subscriber.user-deleted';

/**
 * `user.user.deleted` → the user's friendships and requests are removed.
 * Idempotent: the store records the event id in the same atomic step as the
 * removals, so a redelivery has no second effect. One member of the group
 * handles each event (shared), whichever replica it is.
 */
export function userDeletedConsumer(friendships: FriendshipUseCases): Subscription {
  return {
    topics: [USER_EVENTS_TOPIC],
    group: USER_DELETED_GROUP,
    delivery: 'shared',
    async handle(event: EventEnvelope) {
      if (event.type !== 'user.user.deleted' || !event.payload) return;
      const userId = UserDeleted.decode(event.payload.value).before?.userId;
      if (userId) await friendships.removeAllOf(userId, event.requestId, event.id);
    },
  };
}
