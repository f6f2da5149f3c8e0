// Read receipts between replicas, the way typing signals travel: straight
// to `chat.ephemeral` (no outbox, no update id, never replayed), read by
// every replica (typing-signals.ts's consumer) and handed to the streams it
// holds.
import { ReadChanged } from '@messenger/gen/messenger/chat/v1/events';
import { createEnvelope, type EventBus, packPayload } from '@messenger/platform/events';
import type { Logger } from '@messenger/platform/logger';
import type { ReadReceipts } from '../domain/read-receipts.ts';
import type { UpdateHub } from '../live/update-hub.ts';
import type { LiveUpdate } from './live-updates.ts';

export const READ_CHANGED = 'chat.read.changed';

/**
 * Publishes without waiting for the broker: MarkRead has stored the
 * position, which is what counts, so it neither waits for nor fails with
 * the event bus; a failure is logged and the receipt is lost.
 */
export function busReadReceipts(bus: EventBus, topic: string, log: Logger): ReadReceipts {
  return {
    async publish(receipt) {
      const payload = ReadChanged.encode({
        receipt: { chatId: receipt.chatId, userId: receipt.userId, readSequence: String(receipt.readSequence) },
        recipientIds: [...receipt.recipientIds],
      }).finish();
      const envelope = createEnvelope({
        type: READ_CHANGED,
        source: 'chat',
        key: receipt.chatId,
        time: receipt.time,
        payload: packPayload('messenger.chat.v1.ReadChanged', payload),
      });
      bus.publish(topic, [envelope]).catch((error: unknown) => {
        log.warn({ err: error, topic }, 'read receipt not published');
      });
    },
  };
}

/** A `chat.read.changed` payload → the recipients' open streams on this replica, live only. */
export function signalReadChanged(hub: UpdateHub<LiveUpdate>, bytes: Uint8Array, time: Date): void {
  let changed: ReadChanged;
  try {
    changed = ReadChanged.decode(bytes);
  } catch {
    return; // a payload that does not decode is nobody's update
  }
  if (!changed.receipt) return;
  hub.signal(changed.recipientIds, time, { kind: 'same', update: { readReceipt: changed.receipt } });
}
