/**
 * A connection's open streams by id, kept in a plain object (V8 holds its
 * integer keys in a number dictionary) rather than a Map.
 *
 * Why: a connection under load adds and removes one stream per request while
 * a few dozen are open, and its ids only grow. With a Map, 16 of 40 gateway
 * processes measured kept streams and the Map's own hash tables alive past
 * two scavenges: ~80 KB promoted to the old generation per scavenge instead
 * of ~23 KB, for the life of the process, so mark-compacts came every few
 * seconds and set the tail latency. Keyed by a plain object, none of 28
 * processes did (docs/PERFORMANCE.md, Promoted with the stream table).
 */
export class StreamTable<T> {
  #byId: Record<number, T> = Object.create(null);
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(id: number): T | undefined {
    return this.#byId[id];
  }

  /** Adds a stream under an id not in use (a connection never reuses one: its ids only grow). */
  add(id: number, stream: T): void {
    this.#byId[id] = stream;
    this.#size++;
  }

  /** Removes `stream` if it is the one under `id`; false when it is not (already gone). */
  delete(id: number, stream: T): boolean {
    if (this.#byId[id] !== stream) return false;
    delete this.#byId[id];
    this.#size--;
    return true;
  }

  /** The streams in id order, which is the order they opened; a copy, so the table may change while it is walked. */
  values(): T[] {
    return Object.values(this.#byId);
  }

  clear(): void {
    this.#byId = Object.create(null);
    this.#size = 0;
  }
}
