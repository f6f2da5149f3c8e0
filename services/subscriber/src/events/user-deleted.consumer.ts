import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { UserDeleted } from '@messenger/gen/messenger/user/v1/events';
import type { Subscription } from '@messenger/platform';
import type { FriendshipUseCases } from '../domain/friendship-use-cases.ts';

/**
 * `user.user.deleted` → the user's friendships and requests are removed.
 * Idempotent without a dedupe table: a redelivery finds nothing left to remove.
 */
export function userDeletedConsumer(friendships: FriendshipUseCases): Subscription {
  return {
    topics: ['user.events'],
    group: 'subscriber.user-deleted',
    delivery: 'shared',
    async handle(event: EventEnvelope) {
      if (event.type !== 'user.user.deleted' || !event.payload) return;
      const userId = UserDeleted.decode(event.payload.value).before?.userId;
      if (userId) await friendships.removeAllOf(userId, event.requestId);
    },
  };
}
