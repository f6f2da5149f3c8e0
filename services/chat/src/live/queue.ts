/** How many taken slots may pile up at a queue's front before they are cut off in one go. */
const COMPACT_AFTER = 1024;

/**
 * A first-in, first-out queue on one array. Taking from the front moves a
 * head index instead of shifting every element; the taken front is cut off
 * in one splice once it is long (COMPACT_AFTER) and at least half of the
 * array, so both ends cost O(1) amortized however long the queue grows.
 */
export class Queue<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** The item `i` places from the front (0 is the oldest); undefined past either end. */
  at(i: number): T | undefined {
    return i < 0 ? undefined : this.#items[this.#head + i];
  }

  /** Takes the oldest item; undefined when the queue is empty. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    // Let the taken item be collected although its slot stays until the next cut.
    this.#items[this.#head] = undefined;
    this.#head++;
    if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
    return item;
  }
}
