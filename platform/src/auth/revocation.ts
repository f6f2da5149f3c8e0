/**
 * Sessions whose access tokens must stop working before they expire (logout,
 * refresh-token reuse). Kept minimal so a Redis adapter is two commands:
 * `SET revoked:<sid> 1 EXAT <until>` and `EXISTS revoked:<sid>`.
 *
 * `until` must cover every token already issued for the session: at least
 * the last token's `exp` plus the verifiers' clock tolerance — simplest,
 * `now + TOKEN_VALIDITY_HORIZON_SECONDS`. After `until` the entry may vanish.
 */
export interface RevocationList {
  /** Revokes the session until `untilEpochSeconds` (exclusive). A time already past is a no-op; a later one extends. */
  revokeSession(sessionId: string, untilEpochSeconds: number): Promise<void>;
  isRevoked(sessionId: string): Promise<boolean>;
}

export interface InMemoryRevocationListOptions {
  /** How often expired entries are swept; default 60 s. Lookups also drop expired entries they meet. */
  readonly sweepIntervalMs?: number;
  /** Clock in epoch milliseconds (tests). */
  readonly now?: () => number;
}

/**
 * Embedded mode: one process, one map. Memory is bounded by the sessions
 * revoked within the last validity horizon; expired entries are dropped on
 * lookup and by a periodic sweep whose timer never keeps the process alive.
 */
export class InMemoryRevocationList implements RevocationList {
  readonly #until = new Map<string, number>();
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;

  constructor(opts: InMemoryRevocationListOptions = {}) {
    const interval = opts.sweepIntervalMs ?? 60_000;
    if (!Number.isFinite(interval) || interval <= 0) throw new TypeError('sweepIntervalMs must be a positive number');
    this.#now = opts.now ?? Date.now;
    this.#timer = setInterval(() => this.sweep(), interval);
    this.#timer.unref();
  }

  async revokeSession(sessionId: string, untilEpochSeconds: number): Promise<void> {
    if (typeof sessionId !== 'string' || sessionId === '') throw new TypeError('sessionId is required');
    if (!Number.isFinite(untilEpochSeconds)) throw new TypeError('untilEpochSeconds must be a finite number');
    if (untilEpochSeconds <= this.#nowSeconds()) return;
    const previous = this.#until.get(sessionId);
    if (previous === undefined || untilEpochSeconds > previous) this.#until.set(sessionId, untilEpochSeconds);
  }

  async isRevoked(sessionId: string): Promise<boolean> {
    return this.isRevokedNow(sessionId);
  }

  /** The same answer without a promise: the list is this process's own. */
  isRevokedNow(sessionId: string): boolean {
    const until = this.#until.get(sessionId);
    if (until === undefined) return false;
    if (until > this.#nowSeconds()) return true;
    this.#until.delete(sessionId);
    return false;
  }

  /** Drops expired entries; returns how many. Runs on the timer; callable directly. */
  sweep(): number {
    const now = this.#nowSeconds();
    let dropped = 0;
    for (const [sessionId, until] of this.#until) {
      if (until <= now) {
        this.#until.delete(sessionId);
        dropped++;
      }
    }
    return dropped;
  }

  /** The sessions still revoked, with their `until` in epoch seconds (to copy them elsewhere). */
  *entries(): IterableIterator<[sessionId: string, untilEpochSeconds: number]> {
    const now = this.#nowSeconds();
    for (const [sessionId, until] of this.#until) if (until > now) yield [sessionId, until];
  }

  /** Entries held, expired or not (for metrics and tests). */
  get size(): number {
    return this.#until.size;
  }

  /** Stops the sweep timer. */
  close(): void {
    clearInterval(this.#timer);
  }

  #nowSeconds(): number {
    return this.#now() / 1000;
  }
}
