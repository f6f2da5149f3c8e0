import { CommitSignal } from './commit-signal.ts';
import type { OutboxEntry, OutboxSource } from './outbox-relay.ts';

/**
 * The outbox of a memory store. The store appends entries in the same
 * synchronous step as the state change, which is what makes the pair atomic
 * in a single-threaded process; so an append is the commit, and it wakes the
 * relay.
 */
export class MemoryOutbox implements OutboxSource {
  #entries: OutboxEntry[] = [];
  readonly #signal = new CommitSignal();

  /** Stores the entries and wakes the relay; appending none changes nothing and wakes nobody. */
  append(entries: readonly OutboxEntry[]): void {
    if (entries.length === 0) return;
    this.#entries.push(...entries);
    this.#signal.committed();
  }

  onCommit(wake: () => void): () => void {
    return this.#signal.onCommit(wake);
  }

  async pendingEvents(limit: number): Promise<readonly OutboxEntry[]> {
    return this.#entries.slice(0, limit);
  }

  async markPublished(eventIds: readonly string[]): Promise<void> {
    const done = new Set(eventIds);
    this.#entries = this.#entries.filter((e) => !done.has(e.envelope.id));
  }

  get size(): number {
    return this.#entries.length;
  }
}
