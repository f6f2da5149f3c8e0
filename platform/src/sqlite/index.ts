// The SQLite pieces every store of the embedded mode shares: a database file
// with ordered migrations and transactions, and the outbox in it.
export { type DirectoryLock, lockDirectory, SqliteDatabase, SqliteOpenError, type SqliteSchema } from './database.ts';
export { outboxSchema, SqliteOutbox } from './outbox.ts';
export { SqliteRevocationList, type SqliteRevocationListOptions } from './revocation-list.ts';
