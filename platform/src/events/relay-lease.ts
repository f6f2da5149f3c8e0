/**
 * Which of the outbox relays over one store may publish. Every replica of a
 * service runs a relay over the shared store; two publishing at once would
 * publish every entry twice and interleave their order. A lease with an
 * expiry lets one publish at a time, and another take over within one lease
 * period when the holder dies without giving it up.
 *
 * The lease narrows duplicates, it cannot rule them out: a holder paused for
 * longer than the lease (a GC pause, a hung publish) may finish a batch after
 * another replica took over. Consumers dedupe by event id, as for any
 * at-least-once delivery.
 */
export interface RelayLease {
  /**
   * Takes the lease for `holder` for `ttlMs`, or renews it if `holder` has
   * it; false while another holder's lease has not expired.
   */
  acquire(holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if `holder` has it, so another relay takes over at once. */
  release(holder: string): Promise<void>;
}

/**
 * A lease within one process: for several relays over one in-process store
 * (tests), and the reference the store adapters' leases are held to
 * (relay-lease.contract.ts).
 */
export class InMemoryRelayLease implements RelayLease {
  #holder: string | undefined;
  #expiresAt = 0;

  async acquire(holder: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    if (this.#holder !== undefined && this.#holder !== holder && now < this.#expiresAt) return false;
    this.#holder = holder;
    this.#expiresAt = now + ttlMs;
    return true;
  }

  async release(holder: string): Promise<void> {
    if (this.#holder === holder) this.#holder = undefined;
  }
}
