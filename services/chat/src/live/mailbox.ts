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
export class Mailbox<T> {
  readonly #queue = new Queue<T>();
  readonly #limit: number;
  readonly #onClose: () => void;
  #wake: (() => void) | undefined;
  #closed = false;
  #overflowed = false;

  /** `onClose` runs once, when the mailbox closes for whatever reason. */
  constructor(limit: number, onClose: () => void) {
    this.#limit = limit;
    this.#onClose = onClose;
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
    this.#wake?.();
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
        const timer = setTimeout(() => done(false), idleMs);
        const onAbort = () => done(true);
        signal?.addEventListener('abort', onAbort, { once: true });
        const done = (value: boolean) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.#wake = undefined;
          resolve(value);
        };
        this.#wake = () => done(true);
      });
      if (!woke) return 'idle';
    }
  }

  /** Takes no more items; what is queued can still be taken. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
    this.#wake?.();
  }
}
