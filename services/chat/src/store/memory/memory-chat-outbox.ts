import { MemoryOutbox, type OutboxEntry } from '@messenger/platform/events';
import type { SignallingOutbox } from '../chat-store.ts';
import { CommitSignal } from '../commit-signal.ts';

/**
 * The memory store's outbox. An append is the commit (the store makes it in
 * the same synchronous step as the change), so it wakes the relay at once.
 */
export class MemoryChatOutbox extends MemoryOutbox implements SignallingOutbox {
  readonly #signal = new CommitSignal();

  onCommit(wake: () => void): () => void {
    return this.#signal.onCommit(wake);
  }

  override append(entries: readonly OutboxEntry[]): void {
    super.append(entries);
    if (entries.length > 0) this.#signal.committed();
  }
}
