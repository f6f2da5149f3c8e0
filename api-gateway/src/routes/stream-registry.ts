/** Why the gateway ends a stream the service would have kept open. */
export type EndReason = 'revoked' | 'expired' | 'shutdown';

/**
 * The open streams of this process, so that logout, token expiry and shutdown
 * can end them, and the heartbeats of those that ask for them: one timer for
 * the whole process rather than one per stream.
 */
export class StreamRegistry {
  readonly #bySession = new Map<string, Set<OpenStream>>();
  readonly #all = new Set<OpenStream>();
  /**
   * Streams with heartbeats, by when they last wrote, oldest first: a write
   * moves its stream to the end, so the sweep stops at the first stream that
   * is not yet due and visits only the idle ones.
   */
  readonly #lastWrite = new Map<OpenStream, number>();
  readonly #heartbeatMs: number;
  #sweeper: NodeJS.Timeout | undefined;
  /** Set by `endAll` (shutdown): no stream may open after it. */
  #closed = false;

  /** `heartbeatMs`: a stream that wrote nothing for this long gets a heartbeat. */
  constructor(heartbeatMs: number) {
    this.#heartbeatMs = heartbeatMs;
  }

  /** False once `endAll` ran: the caller must not open the stream. */
  add(stream: OpenStream): boolean {
    if (this.#closed) return false;
    this.#all.add(stream);
    if (stream.heartbeat) this.wrote(stream);
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
    this.#lastWrite.delete(stream);
    if (this.#lastWrite.size === 0) this.#stopSweeping();
    if (stream.sessionId === undefined) return;
    const set = this.#bySession.get(stream.sessionId);
    set?.delete(stream);
    if (set?.size === 0) this.#bySession.delete(stream.sessionId);
  }

  /** The stream just wrote to its client: its next heartbeat is a full period away. */
  wrote(stream: OpenStream): void {
    if (!stream.heartbeat || !this.#all.has(stream)) return;
    this.#lastWrite.delete(stream);
    this.#lastWrite.set(stream, Date.now());
    // Checks at least every second, so a heartbeat is at most a second late.
    this.#sweeper ??= setInterval(this.#sweep, Math.min(this.#heartbeatMs, 1000)).unref();
  }

  endSessions(sessionIds: readonly string[]): void {
    for (const id of sessionIds) for (const s of [...(this.#bySession.get(id) ?? [])]) s.end('revoked');
  }

  endAll(reason: EndReason): void {
    this.#closed = true;
    for (const s of [...this.#all]) s.end(reason);
    this.#stopSweeping();
  }

  get size(): number {
    return this.#all.size;
  }

  readonly #sweep = (): void => {
    const due = Date.now() - this.#heartbeatMs;
    for (const [stream, at] of this.#lastWrite) {
      if (at > due) break;
      // Writes (and so calls `wrote`, which moves the stream to the end).
      stream.heartbeat?.();
      // A stream that could not write (not open yet) waits another period.
      if (this.#lastWrite.get(stream) === at) this.wrote(stream);
    }
  };

  #stopSweeping(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}

export interface OpenStream {
  readonly sessionId: string | undefined;
  /** Writes a heartbeat; absent on streams that have none. Called by the registry. */
  readonly heartbeat?: () => void;
  end(reason: EndReason): void;
}
