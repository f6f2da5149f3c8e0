// Read receipts: when a member's read position moves, the chat's other
// members are told. The position itself is stored by MarkRead; the receipt
// is only a live hint, so it goes out through a port the service wires to
// the event bus directly (not the outbox), and a lost one is recovered by
// reading the chat again (a direct chat's `peer_read_sequence`).
import type { Chat } from './chat.ts';

/** In a group, at most one receipt per member and chat is passed on per interval (the latest position), by default. */
export const GROUP_RECEIPT_INTERVAL_MS = 2_000;

export interface ReadReceipt {
  readonly chatId: string;
  readonly userId: string;
  readonly readSequence: number;
  /** When the position moved. */
  readonly time: Date;
  /** The chat's other members. */
  readonly recipientIds: readonly string[];
}

/** Where read receipts go: every replica's live streams. */
export interface ReadReceipts {
  publish(receipt: ReadReceipt): Promise<void>;
}

/** What MarkRead tells once a position moved; `close` drops what is held back. */
export interface ReadReceiptSender {
  moved(chat: Chat, receipt: ReadReceipt): void;
  close(): void;
}

export const NO_READ_RECEIPTS: ReadReceiptSender = { moved() {}, close() {} };

/**
 * Direct chats: every receipt at once (one recipient; "seen" should show
 * without delay). Groups: a member reading through a busy group moves their
 * position many times a minute, and each receipt is queued to every other
 * member's streams, so per member and chat the first receipt goes at once
 * and, within the following interval, only the latest position is kept and
 * sent when the interval ends. Held receipts are per replica, in memory.
 */
export function pacedReadReceipts(out: ReadReceipts, intervalMs = GROUP_RECEIPT_INTERVAL_MS): ReadReceiptSender {
  /** Per `chatId userId` in its quiet interval: the receipt held back, if any, and the timer ending it. */
  const quiet = new Map<string, { held: ReadReceipt | undefined; timer: ReturnType<typeof setTimeout> }>();
  const send = (receipt: ReadReceipt) => void out.publish(receipt);
  const open = (key: string) => {
    const timer = setTimeout(() => {
      const held = quiet.get(key)?.held;
      quiet.delete(key);
      if (held) {
        send(held);
        open(key);
      }
    }, intervalMs);
    // A held receipt must not keep a stopping process alive.
    timer.unref();
    quiet.set(key, { held: undefined, timer });
  };
  return {
    moved(chat, receipt) {
      if (chat.type === 'direct') return send(receipt);
      const key = `${receipt.chatId} ${receipt.userId}`;
      const entry = quiet.get(key);
      if (entry) {
        if (!entry.held || entry.held.readSequence < receipt.readSequence) entry.held = receipt;
        return;
      }
      send(receipt);
      open(key);
    },
    close() {
      for (const { timer } of quiet.values()) clearTimeout(timer);
      quiet.clear();
    },
  };
}
