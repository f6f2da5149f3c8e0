import { Queue } from './queue.ts';

/** The last `limit` ids seen, to drop duplicates; the oldest is forgotten first. */
export class RecentIds {
  readonly #ids = new Set<string>();
  readonly #order = new Queue<string>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** True when `id` was seen already; otherwise remembers it and answers false. */
  seenBefore(id: string): boolean {
    if (this.#ids.has(id)) return true;
    this.#ids.add(id);
    this.#order.push(id);
    if (this.#order.length > this.#limit) this.#ids.delete(this.#order.shift() as string);
    return false;
  }
}
