/**
 * The open streams of each session on this replica, so a revoked session's
 * streams end at once rather than outliving the logout. Fed by
 * `auth.session.revoked` (events/session-revocations.consumer.ts).
 */
export class SessionEnds {
  readonly #watchers = new Map<string, Set<() => void>>();

  /** Calls `onEnd` once when `sessionId` is revoked; the returned function stops watching. */
  watch(sessionId: string, onEnd: () => void): () => void {
    let watchers = this.#watchers.get(sessionId);
    if (!watchers) {
      watchers = new Set();
      this.#watchers.set(sessionId, watchers);
    }
    watchers.add(onEnd);
    return () => {
      watchers.delete(onEnd);
      if (watchers.size === 0 && this.#watchers.get(sessionId) === watchers) this.#watchers.delete(sessionId);
    };
  }

  /** Ends every watched stream of these sessions. */
  revoke(sessionIds: readonly string[]): void {
    for (const sessionId of sessionIds) {
      const watchers = this.#watchers.get(sessionId);
      if (!watchers) continue;
      this.#watchers.delete(sessionId);
      for (const onEnd of watchers) onEnd();
    }
  }
}
