import { MongoClient, type MongoClientOptions } from 'mongodb';
import type { DependencyProbe } from '../dependencies.ts';

/** A MongoDB store that prepares its collections (indexes) before first use. */
export interface PreparedStore {
  ensureIndexes(): Promise<void>;
}

/**
 * How a store's client connects. `appName` names the service in the server's
 * logs, `currentOp` and profiler entries, so an operator can tell whose
 * operation is slow. `serverSelectionTimeoutMS` bounds how long an operation
 * waits for a usable server (the primary, for a write): the driver's 30 s
 * default would hold every request that long during an election or outage,
 * long after its caller's deadline passed.
 */
export type MongoStoreOptions = Pick<MongoClientOptions, 'appName' | 'serverSelectionTimeoutMS'>;

/** An opened store, its health probe, and how to close its client. */
export interface OpenedMongoStore<S> {
  readonly store: S;
  readonly probe: DependencyProbe;
  close(): Promise<void>;
}

/**
 * Connects, builds the store on the client and ensures its indexes at
 * start-up, so a missing index or an unreachable server stops the process
 * instead of failing its first request. The client is closed again on failure.
 * `probe` tells the process's health whether the server still answers.
 */
export async function openMongoStore<S extends PreparedStore>(
  url: string,
  make: (client: MongoClient) => S,
  options: MongoStoreOptions = {},
): Promise<OpenedMongoStore<S>> {
  const client = new MongoClient(url, options);
  try {
    // Inside the try: a failed first connection closes the client too, like every later failure.
    await client.connect();
    const store = make(client);
    await store.ensureIndexes();
    // `ping` needs no collection, lock or index: it answers as long as a
    // server is selectable, which is what every request needs first.
    const probe: DependencyProbe = {
      dependency: 'mongodb',
      gatesReadiness: true,
      check: async () => {
        await client.db('admin').command({ ping: 1 });
      },
    };
    return { store, probe, close: () => client.close() };
  } catch (error) {
    await client.close();
    throw error;
  }
}
