import { MessageCreated } from '@messenger/gen/messenger/chat/v1/events';
import type { Subscription } from '@messenger/platform/events';
import type { Notifier } from '../domain/notifier.ts';

export const CHAT_EVENTS_TOPIC = 'chat.events';
export const NEW_MESSAGES_GROUP = 'notification.new-messages';

/**
 * `chat.message.created` → the chat's offline members are pushed to. Shared:
 * one replica handles each event, so a member's coalescing window lives on
 * the replica that owns the chat's partition (events are keyed by chat).
 * Idempotent: the notifier records the event id and a redelivery pushes
 * nothing more.
 */
export function messageCreatedConsumer(notifier: Notifier): Subscription {
  return {
    topics: [CHAT_EVENTS_TOPIC],
    group: NEW_MESSAGES_GROUP,
    delivery: 'shared',
    async handle(event) {
      if (event.type !== 'chat.message.created' || !event.payload) return;
      const { message, memberIds, mentionedUserIds } = MessageCreated.decode(event.payload.value);
      if (!message?.chatId || !message.senderId) return;
      await notifier.messageCreated({
        eventId: event.id,
        chatId: message.chatId,
        senderId: message.senderId,
        sequence: message.sequence,
        memberIds,
        mentionedIds: mentionedUserIds,
        sentAt: message.createTime ?? new Date(),
      });
    },
  };
}
