import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { UserDeleted } from '@messenger/gen/messenger/user/v1/events';
import { payloadTypeName, type Subscription } from '@messenger/platform/events';
import type { Logger } from '@messenger/platform/logger';
import type { AuthUseCases } from '../domain/auth-use-cases.ts';

export const USER_EVENTS_TOPIC = 'user.events';
export const USER_EVENTS_GROUP = 'auth.user-events';

/**
 * `user.user.deleted` → the user's sessions end everywhere and their
 * credentials and OAuth identities are deleted. Idempotent: the use case
 * stores the event id with the deletion. One member of the group handles
 * each event (shared), whichever auth replica it is.
 */
export function userDeletedConsumer(auth: AuthUseCases, log: Logger): Subscription {
  return {
    topics: [USER_EVENTS_TOPIC],
    group: USER_EVENTS_GROUP,
    delivery: 'shared',
    async handle(event: EventEnvelope) {
      if (event.type !== 'user.user.deleted') return;
      if (!event.payload || payloadTypeName(event.payload) !== 'messenger.user.v1.UserDeleted') {
        log.warn({ eventId: event.id }, 'user.user.deleted without a UserDeleted payload; ignored');
        return;
      }
      const userId = UserDeleted.decode(event.payload.value).before?.userId;
      if (!userId) {
        log.warn({ eventId: event.id }, 'user.user.deleted without a user id; ignored');
        return;
      }
      await auth.removeUser(event.requestId, event.id, userId);
    },
  };
}
