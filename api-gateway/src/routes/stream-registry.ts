/** Why the gateway ends a stream the service would have kept open. */
export type EndReason = 'revoked' | 'expired' | 'shutdown';

/** The open streams of this process, so that logout, token expiry and shutdown can end them. */
export class StreamRegistry {
  readonly #bySession = new Map<string, Set<OpenStream>>();
  readonly #all = new Set<OpenStream>();
  /** Set by `endAll` (shutdown): no stream may open after it. */
  #closed = false;

  /** False once `endAll` ran: the caller must not open the stream. */
  add(stream: OpenStream): boolean {
    if (this.#closed) return false;
    this.#all.add(stream);
    if (stream.sessionId === undefined) return true;
    let set = this.#bySession.get(stream.sessionId);
    if (!set) {
      set = new Set();
      this.#bySession.set(stream.sessionId, set);
    }
    set.add(stream);
    return true;
  }

  remove(stream: OpenStream): void {
    this.#all.delete(stream);
    if (stream.sessionId === undefined) return;
    const set = this.#bySession.get(stream.sessionId);
    set?.delete(stream);
    if (set?.size === 0) this.#bySession.delete(stream.sessionId);
  }

  endSessions(sessionIds: readonly string[]): void {
    for (const id of sessionIds) for (const s of [...(this.#bySession.get(id) ?? [])]) s.end('revoked');
  }

  endAll(reason: EndReason): void {
    this.#closed = true;
    for (const s of [...this.#all]) s.end(reason);
  }

  get size(): number {
    return this.#all.size;
  }
}

export interface OpenStream {
  readonly sessionId: string | undefined;
  end(reason: EndReason): void;
}
