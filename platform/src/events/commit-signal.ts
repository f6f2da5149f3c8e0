/**
 * How an outbox tells its listeners — in practice the service's outbox
 * relay — that a write has committed entries, so the relay publishes at once
 * instead of at its next poll. Outboxes own one and call `committed()`; the
 * relay subscribes through the outbox's `onCommit`.
 */
export class CommitSignal {
  readonly #listeners = new Set<() => void>();

  /** Calls `wake` on every `committed()` until the returned function is called. */
  onCommit(wake: () => void): () => void {
    // A wrapper per subscription, so subscribing one function twice needs two unsubscribes.
    const listener = () => wake();
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * Call once entries are committed, never before: a woken relay must find
   * them. Listeners only schedule work and must not throw.
   */
  committed(): void {
    for (const wake of this.#listeners) wake();
  }
}
