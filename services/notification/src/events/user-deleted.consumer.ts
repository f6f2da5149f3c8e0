import { UserDeleted } from '@messenger/gen/messenger/user/v1/events';
import type { Subscription } from '@messenger/platform/events';
import type { DeviceStore } from '../store/device-store.ts';

export const USER_EVENTS_TOPIC = 'user.events';
export const USER_DELETED_GROUP = 'notification.user-deleted';

/**
 * `user.user.deleted` → the user's devices and copied mutes are removed:
 * nothing of a deleted account is kept, and its push endpoints are never
 * called again.
 * Idempotent: removing what is gone removes nothing. Shared by the replicas.
 */
export function userDeletedConsumer(store: DeviceStore): Subscription {
  return {
    topics: [USER_EVENTS_TOPIC],
    group: USER_DELETED_GROUP,
    delivery: 'shared',
    async handle(event) {
      if (event.type !== 'user.user.deleted' || !event.payload) return;
      const userId = UserDeleted.decode(event.payload.value).before?.userId;
      if (!userId) return;
      await store.removeAllOf(userId);
      await store.removeMutesOf(userId);
    },
  };
}
