import { type ClientSession, type MongoClient, MongoServerError, type TransactionOptions } from 'mongodb';

/** The server's code for a unique-index violation. */
const DUPLICATE_KEY = 11000;

/** True for a unique-index violation, which stores translate into their own `duplicate` error. */
export function isDuplicateKeyError(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === DUPLICATE_KEY;
}

/**
 * Runs `work` in one transaction on a fresh session and resolves with its
 * value. The driver retries `work` on transient errors (write conflicts), so
 * it must start from scratch on every run. Commits with majority write
 * concern unless `options` say otherwise.
 */
export function inTransaction<T>(
  client: MongoClient,
  work: (session: ClientSession) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  return client.withSession((session) =>
    session.withTransaction(() => work(session), { writeConcern: { w: 'majority' }, ...options }),
  );
}
