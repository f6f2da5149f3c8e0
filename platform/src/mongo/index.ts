// The MongoDB pieces every service's store shares.

export * from './indexes.ts';
export * from './open-mongo-store.ts';
export { MongoOutbox } from './outbox.ts';
export { MongoRelayLease } from './relay-lease.ts';
export * from './transaction.ts';
