import type { ChatSettings } from '@messenger/gen/messenger/chat/v1/chat';
import { MemberSettingsChanged } from '@messenger/gen/messenger/chat/v1/events';
import type { Subscription } from '@messenger/platform/events';
import type { Mute } from '../domain/ports.ts';
import type { DeviceStore } from '../store/device-store.ts';
import { CHAT_EVENTS_TOPIC } from './message-created.consumer.ts';

export const MEMBER_MUTES_GROUP = 'notification.member-mutes';

/**
 * The mute a member's published settings hold. The chat service publishes
 * them as of the event's time: `muted` false is no mute (also a timed one
 * that had ended); `muted` with `mute_until` is a mute until then; `muted`
 * without it is a mute with no end. The archive flag is not the notifier's
 * concern.
 */
export function muteOf(settings: ChatSettings | undefined): Mute | null {
  if (!settings?.muted) return null;
  return { until: settings.muteUntil ?? null };
}

/**
 * `chat.member.settings_changed` → the member's mute of the chat is kept,
 * as of the envelope's time: of two changes of one member's settings the
 * later one stays, whatever order a redelivery brings them in (an envelope
 * without a time counts as older than any). Shared by the replicas; applying
 * the same event twice keeps the same state.
 */
export function memberSettingsConsumer(store: DeviceStore): Subscription {
  return {
    topics: [CHAT_EVENTS_TOPIC],
    group: MEMBER_MUTES_GROUP,
    delivery: 'shared',
    async handle(event) {
      if (event.type !== 'chat.member.settings_changed' || !event.payload) return;
      const { chatId, userId, settings } = MemberSettingsChanged.decode(event.payload.value);
      if (!chatId || !userId) return;
      await store.setMute(chatId, userId, muteOf(settings), event.time ?? new Date(0));
    },
  };
}
