import type { IdleTimers, IdleWaiter } from './idle-timers.ts';
import { Queue } from './queue.ts';

/** The stream's reader fell behind by more than the queue limit; it should reconnect and resume. */
export class StreamOverflowError extends Error {
  constructor() {
    super('the stream fell behind');
    this.name = 'StreamOverflowError';
  }
}

/**
 * What one stream's reader takes deliveries from: a queue of at most `limit`
 * items. A writer that finds it full closes it instead, and the reader, once
 * it asks again, learns it fell behind.
 */
export class Mailbox<T> implements IdleWaiter {
  readonly #queue = new Queue<T>();
  readonly #limit: number;
  readonly #onClose: () => void;
  readonly #timers: IdleTimers;
  /** Settles the reader's wait: true when something happened, false when it stayed idle. */
  #wake: ((woke: boolean) => void) | undefined;
  #closed = false;
  #overflowed = false;

  /** `onClose` runs once, when the mailbox closes for whatever reason; `timers` time the reader's idle waits. */
  constructor(limit: number, onClose: () => void, timers: IdleTimers) {
    this.#limit = limit;
    this.#onClose = onClose;
    this.#timers = timers;
  }

  /** Queues `item` for the reader; closes instead when the queue is full. Ignored once closed. */
  put(item: T): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.#limit) {
      this.#overflowed = true;
      this.close();
      return;
    }
    this.#queue.push(item);
    this.#wake?.(true);
  }

  /**
   * The next item; `idle` when nothing came for `idleMs`, `closed` when the
   * mailbox closed or `signal` aborted. Throws StreamOverflowError once the
   * reader has fallen too far behind.
   */
  async take(idleMs: number, signal?: AbortSignal): Promise<T | 'idle' | 'closed'> {
    for (;;) {
      if (this.#overflowed) throw new StreamOverflowError();
      if (this.#queue.length > 0) return this.#queue.shift() as T;
      if (this.#closed || signal?.aborted) return 'closed';
      const woke = await new Promise<boolean>((resolve) => {
        const onAbort = () => done(true);
        signal?.addEventListener('abort', onAbort, { once: true });
        const done = (value: boolean) => {
          this.#timers.remove(this);
          signal?.removeEventListener('abort', onAbort);
          this.#wake = undefined;
          resolve(value);
        };
        this.#wake = done;
        this.#timers.add(this, idleMs);
      });
      if (!woke) return 'idle';
    }
  }

  /** The reader's wait ran out (called by the idle timers). */
  idle(): void {
    this.#wake?.(false);
  }

  /** Takes no more items; what is queued can still be taken. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
    this.#wake?.(true);
  }
}
