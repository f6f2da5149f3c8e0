import { DomainError, ErrorKind } from './errors.ts';
import { StoreFailure } from './store-failure.ts';

export interface RaceRetryOptions {
  /** The store failure kinds that mean "someone else changed it first": the attempt is read and written anew. */
  readonly on: readonly string[];
  /** What kept changing, for the caller's message: `the chat`, `the friendship`. */
  readonly subject: string;
  /** Attempts, the first included; default 5. */
  readonly attempts?: number;
}

const DEFAULT_ATTEMPTS = 5;

/**
 * Runs a read-decide-write attempt again while it loses a race to a concurrent
 * writer (an optimistic-concurrency conflict, or a unique key taken between
 * the read and the write). Each attempt re-reads, so the rules are applied to
 * the state that wins. After the last attempt the caller gets ABORTED, which
 * they may retry.
 */
export async function retryOnRace<T>(attempt: () => Promise<T>, opts: RaceRetryOptions): Promise<T> {
  const attempts = opts.attempts ?? DEFAULT_ATTEMPTS;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof StoreFailure) || !opts.on.includes(error.kind)) throw error;
      if (n >= attempts) {
        throw new DomainError(ErrorKind.Aborted, 'CONCURRENT_CHANGE', `${opts.subject} kept changing; try again`);
      }
    }
  }
}
