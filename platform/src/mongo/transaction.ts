import { type ClientSession, type MongoClient, MongoServerError, type TransactionOptions } from 'mongodb';

/** The server's code for a unique-index violation. */
const DUPLICATE_KEY = 11000;

/** True for a unique-index violation, which stores translate into their own `duplicate` error. */
export function isDuplicateKeyError(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === DUPLICATE_KEY;
}

/**
 * How long `inTransaction` lets the driver rerun a transaction that hit a
 * transient error (mostly a write conflict with a concurrent transaction).
 * The driver (mongodb 7) already waits a jittered, exponentially growing
 * time between reruns (up to 500 ms), but keeps rerunning for 120 s, far
 * beyond any caller's deadline: `totalMs` gives up much earlier, so the
 * caller gets an error while it still waits for an answer.
 */
export interface TransactionRetry {
  /** No rerun starts once this long has passed since the first run. */
  readonly totalMs: number;
  readonly now: () => number;
}

export const DEFAULT_TRANSACTION_RETRY: TransactionRetry = { totalMs: 10_000, now: Date.now };

/** A transaction still conflicting after `TransactionRetry.totalMs`; it carries no transient label, so the driver stops. */
export class TransactionRetriesExhausted extends Error {}

/** What to run once the transaction of a session `inTransaction` runs has committed. */
const commitCallbacks = new WeakMap<ClientSession, Set<() => void>>();

/**
 * Runs `work` in one transaction on a fresh session and resolves with its
 * value. The driver retries `work` on transient errors (write conflicts), so
 * it must start from scratch on every run. Commits with majority write
 * concern unless `options` say otherwise. Once the transaction has committed,
 * runs what the run that committed registered with `afterCommit`. Reruns
 * stop after `retry.totalMs`.
 */
export function inTransaction<T>(
  client: MongoClient,
  work: (session: ClientSession) => Promise<T>,
  options: TransactionOptions = {},
  retry: TransactionRetry = DEFAULT_TRANSACTION_RETRY,
): Promise<T> {
  return client.withSession(async (session) => {
    const callbacks = new Set<() => void>();
    commitCallbacks.set(session, callbacks);
    const started = retry.now();
    let runs = 0;
    try {
      const result = await session.withTransaction(
        async () => {
          // Thrown without a transient label, so the driver aborts and stops.
          if (runs > 0 && retry.now() - started >= retry.totalMs) {
            throw new TransactionRetriesExhausted(`transaction still conflicting after ${runs} runs`);
          }
          runs++;
          // A run the driver retries starts from scratch, and so do its callbacks.
          callbacks.clear();
          return work(session);
        },
        { writeConcern: { w: 'majority' }, ...options },
      );
      for (const callback of callbacks) callback();
      return result;
    } finally {
      commitCallbacks.delete(session);
    }
  });
}

/**
 * Runs `callback` once the transaction `session` belongs to has committed;
 * never when it aborts, and once however often the run registers it.
 * `session` is the one `inTransaction` gave its work; the callback only
 * schedules work (such as waking the outbox relay) and must not throw, since
 * the transaction's outcome is settled by then.
 */
export function afterCommit(session: ClientSession, callback: () => void): void {
  const callbacks = commitCallbacks.get(session);
  if (!callbacks) throw new Error('afterCommit needs the session of a transaction inTransaction runs');
  callbacks.add(callback);
}
