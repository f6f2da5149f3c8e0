import type { ChatSettings } from '@messenger/gen/messenger/chat/v1/chat';
import { MemberSettingsChanged } from '@messenger/gen/messenger/chat/v1/events';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import type { Mute } from '../domain/ports.ts';
import type { DeviceStore } from '../store/device-store.ts';

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
 * `chat.member.settings_changed` → the member's mute of the chat is kept as
 * of the envelope's time: of two changes of one member's settings the later
 * one stays, whatever order a redelivery brings them in (an envelope without
 * a time counts as older than any). Applying the same event twice keeps the
 * same state.
 */
export async function keepMemberMute(store: DeviceStore, event: EventEnvelope): Promise<void> {
  if (!event.payload) return;
  const { chatId, userId, settings } = MemberSettingsChanged.decode(event.payload.value);
  if (!chatId || !userId) return;
  await store.setMute(chatId, userId, muteOf(settings), event.time ?? new Date(0));
}
