import type { OutboxEntry, OutboxSource } from './outbox-relay.ts';

/**
 * The outbox of a memory store. The store appends entries in the same
 * synchronous step as the state change, which is what makes the pair atomic
 * in a single-threaded process.
 */
export class MemoryOutbox implements OutboxSource {
  #entries: OutboxEntry[] = [];

  append(entries: readonly OutboxEntry[]): void {
    this.#entries.push(...entries);
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
