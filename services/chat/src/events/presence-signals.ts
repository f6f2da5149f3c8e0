// Presence changes between replicas, the way typing signals travel:
// straight to `chat.ephemeral` (no outbox, no update id, never replayed),
// read by every replica (typing-signals.ts's consumer) and handed to the
// streams it holds.
import { PresenceChanged } from '@messenger/gen/messenger/chat/v1/events';
import { createEnvelope, type EventBus, packPayload } from '@messenger/platform/events';
import type { Logger } from '@messenger/platform/logger';
import type { PresenceSignals } from '../domain/presence.ts';
import { presenceToProto } from '../grpc/presence-mapper.ts';
import type { UpdateHub } from '../live/update-hub.ts';
import type { LiveUpdate } from './live-updates.ts';

export const PRESENCE_CHANGED = 'chat.presence.changed';

/** Publishes without waiting for the broker: a lost change only leaves an indicator stale until the next GetPresence. */
export function busPresenceSignals(bus: EventBus, topic: string, log: Logger): PresenceSignals {
  return {
    async publish(signal) {
      const payload = PresenceChanged.encode({
        presence: presenceToProto(signal.presence),
        recipientIds: [...signal.recipientIds],
      }).finish();
      const envelope = createEnvelope({
        type: PRESENCE_CHANGED,
        source: 'chat',
        key: signal.presence.userId,
        time: signal.time,
        payload: packPayload('messenger.chat.v1.PresenceChanged', payload),
      });
      bus.publish(topic, [envelope]).catch((error: unknown) => {
        log.warn({ err: error, topic }, 'presence change not published');
      });
    },
  };
}

/** A `chat.presence.changed` payload → the recipients' open streams on this replica, live only. */
export function signalPresenceChanged(hub: UpdateHub<LiveUpdate>, bytes: Uint8Array, time: Date): void {
  let changed: PresenceChanged;
  try {
    changed = PresenceChanged.decode(bytes);
  } catch {
    return; // a payload that does not decode is nobody's update
  }
  if (!changed.presence) return;
  hub.signal(changed.recipientIds, time, { kind: 'same', update: { presence: changed.presence } });
}
