// Typing signals between replicas. They skip the outbox and the live-updates
// window: published straight to `chat.ephemeral`, which every replica reads
// (broadcast) and hands to the streams it holds, with no update id, so they
// are never stored in the database nor replayed on resume.
import { TypingChanged } from '@messenger/gen/messenger/chat/v1/events';
import { createEnvelope, type EventBus, packPayload, type Subscription } from '@messenger/platform/events';
import type { Logger } from '@messenger/platform/logger';
import type { TypingSignals } from '../domain/typing.ts';
import type { UpdateHub } from '../live/update-hub.ts';
import type { LiveUpdate } from './live-updates.ts';
import { READ_CHANGED, signalReadChanged } from './read-receipts.ts';

export const EPHEMERAL_TOPIC = 'chat.ephemeral';
const TYPING_CHANGED = 'chat.typing.changed';

/**
 * Publishes without waiting for the broker: a typing indicator that is late
 * is worthless, so SetTyping does not wait for (or fail with) the event bus;
 * a failure is logged and the signal is lost.
 */
export function busTypingSignals(bus: EventBus, log: Logger): TypingSignals {
  return {
    async publish(signal) {
      const payload = TypingChanged.encode({
        typing: {
          chatId: signal.chatId,
          userId: signal.userId,
          typing: signal.typing,
          expireTime: signal.expireTime,
        },
        recipientIds: [...signal.recipientIds],
      }).finish();
      const envelope = createEnvelope({
        type: TYPING_CHANGED,
        source: 'chat',
        key: signal.chatId,
        time: signal.time,
        payload: packPayload('messenger.chat.v1.TypingChanged', payload),
      });
      bus.publish(EPHEMERAL_TOPIC, [envelope]).catch((error: unknown) => {
        log.warn({ err: error, topic: EPHEMERAL_TOPIC }, 'typing signal not published');
      });
    },
  };
}

/** `chat.ephemeral` (typing signals, read receipts) → this replica's open streams of the recipients, live only. */
export function ephemeralUpdatesConsumer(hub: UpdateHub<LiveUpdate>): Subscription {
  return {
    topics: [EPHEMERAL_TOPIC],
    group: 'chat.ephemeral-updates',
    delivery: 'broadcast',
    async handle(event) {
      if (event.type === READ_CHANGED && event.payload) {
        return signalReadChanged(hub, event.payload.value, event.time ?? new Date());
      }
      if (event.type !== TYPING_CHANGED || !event.payload) return;
      let changed: TypingChanged;
      try {
        changed = TypingChanged.decode(event.payload.value);
      } catch {
        return; // a payload that does not decode is nobody's update
      }
      if (!changed.typing) return;
      hub.signal(changed.recipientIds, event.time ?? new Date(), {
        kind: 'same',
        update: { typingChanged: changed.typing },
      });
    },
  };
}
