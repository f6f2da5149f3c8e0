/** What an idle timer wakes. */
export interface IdleWaiter {
  idle(): void;
}

/**
 * Wakes waiters that stayed idle for their period, with one timer for all of
 * them instead of one per waiter: thousands of open streams each waiting for
 * their next update would otherwise each arm (and, at every update, clear and
 * re-arm) a timer of their own. Waiters of one period wait in the order they
 * started, which is also the order they fall due, so each firing only visits
 * the waiters that are due (plus one).
 */
export class IdleTimers {
  /** Per period in ms: each waiter and when it falls due, in that order. */
  readonly #lanes = new Map<number, Map<IdleWaiter, number>>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  /** `waiter.idle()` runs in `ms` unless `remove` comes first; a waiter added again starts over. */
  add(waiter: IdleWaiter, ms: number): void {
    this.remove(waiter);
    let lane = this.#lanes.get(ms);
    if (!lane) {
      lane = new Map();
      this.#lanes.set(ms, lane);
    }
    const at = performance.now() + ms;
    lane.set(waiter, at);
    if (at < this.#timerAt) this.#arm(at);
  }

  remove(waiter: IdleWaiter): void {
    for (const lane of this.#lanes.values()) lane.delete(waiter);
  }

  /** Waiters not yet woken, for tests. */
  get size(): number {
    let n = 0;
    for (const lane of this.#lanes.values()) n += lane.size;
    return n;
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#fire, Math.max(0, at - performance.now()));
    // The server keeps the process alive, not a pending heartbeat.
    this.#timer.unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [ms, lane] of this.#lanes) {
      for (const [waiter, at] of lane) {
        if (at > now) {
          next = Math.min(next, at);
          break;
        }
        lane.delete(waiter);
        waiter.idle();
      }
      if (lane.size === 0) this.#lanes.delete(ms);
    }
    if (next < this.#timerAt) this.#arm(next);
  };
}
