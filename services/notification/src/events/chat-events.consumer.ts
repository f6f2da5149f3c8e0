import { MessageCreated } from '@messenger/gen/messenger/chat/v1/events';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import type { Subscription } from '@messenger/platform/events';
import type { Notifier } from '../domain/notifier.ts';
import type { DeviceStore } from '../store/device-store.ts';
import { keepMemberMute } from './member-settings.ts';

export const CHAT_EVENTS_TOPIC = 'chat.events';
export const NEW_MESSAGES_GROUP = 'notification.new-messages';

/**
 * `chat.message.created` → the chat's offline members who have not muted it
 * (or are mentioned) are pushed to; `chat.member.settings_changed` → the
 * member's mute is kept. One subscription for both: events are keyed by
 * chat, so a mute the chat service published before a message is kept
 * before that message is handled, and a message sent right after a mute is
 * not pushed to the member. Shared: one replica handles each event, so a
 * member's coalescing window lives on the replica that owns the chat's
 * partition. Idempotent: the notifier records the event id and a
 * redelivered message pushes nothing more; a redelivered settings change
 * keeps the same or a later state.
 */
export function chatEventsConsumer(notifier: Notifier, store: DeviceStore): Subscription {
  return {
    topics: [CHAT_EVENTS_TOPIC],
    group: NEW_MESSAGES_GROUP,
    delivery: 'shared',
    async handle(event) {
      if (event.type === 'chat.message.created') await messageCreated(notifier, event);
      else if (event.type === 'chat.member.settings_changed') await keepMemberMute(store, event);
    },
  };
}

async function messageCreated(notifier: Notifier, event: EventEnvelope): Promise<void> {
  if (!event.payload) return;
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
}
