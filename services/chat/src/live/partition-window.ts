import { Queue } from './queue.ts';

/** An event kept for resuming, where it sits in its partition. */
export interface Kept<E> {
  readonly offset: number;
  /** Arrival order across partitions, for merging a replay. */
  readonly arrival: number;
  readonly receivedAt: number;
  readonly event: E;
}

export interface WindowLimits {
  /** Events kept. */
  readonly size: number;
  /** And for at most this long. */
  readonly maxAgeMs: number;
}

/** What a hub knows of one partition of the log: how far it has seen, and the recent events it keeps. */
export class PartitionWindow<E> {
  readonly key: string;
  /** The first offset the hub saw: where its knowledge of the partition starts. */
  readonly firstSeen: number;
  /** The newest offset seen. */
  last: number;
  /** Every event above this offset is in the window. */
  replayableAfter: number;
  readonly #kept = new Queue<Kept<E>>();
  readonly #limits: WindowLimits;

  constructor(key: string, firstOffset: number, limits: WindowLimits) {
    this.key = key;
    this.firstSeen = firstOffset;
    this.last = firstOffset - 1;
    this.replayableAfter = firstOffset - 1;
    this.#limits = limits;
  }

  /** Keeps an event, then drops the oldest ones beyond the size or the age limit. */
  keep(kept: Kept<E>): void {
    this.#kept.push(kept);
    const oldest = kept.receivedAt - this.#limits.maxAgeMs;
    for (;;) {
      const first = this.#kept.at(0);
      if (!first) break;
      if (this.#kept.length <= this.#limits.size && first.receivedAt >= oldest) break;
      this.replayableAfter = first.offset;
      this.#kept.shift();
    }
  }

  /** The kept events above `offset`, oldest first. */
  *after(offset: number): Generator<Kept<E>> {
    // Offsets grow along the window: find the first one above `offset`, so a
    // short absence costs a short replay whatever the window's size.
    let lo = 0;
    let hi = this.#kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#kept.at(mid) as Kept<E>).offset > offset) hi = mid;
      else lo = mid + 1;
    }
    for (let i = lo; i < this.#kept.length; i++) yield this.#kept.at(i) as Kept<E>;
  }
}
