/**
 * Who an outbox tells that a write committed entries: in practice the
 * service's outbox relay, which then publishes at once instead of at its
 * next poll.
 */
export class CommitSignal {
  readonly #listeners = new Set<() => void>();

  onCommit(wake: () => void): () => void {
    this.#listeners.add(wake);
    return () => {
      this.#listeners.delete(wake);
    };
  }

  /** Call once entries are committed, never before: a woken relay must find them. */
  committed(): void {
    for (const wake of this.#listeners) wake();
  }
}
