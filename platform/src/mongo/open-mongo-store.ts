import { MongoClient } from 'mongodb';

/** A MongoDB store that prepares its collections (indexes) before first use. */
export interface PreparedStore {
  ensureIndexes(): Promise<void>;
}

/**
 * Connects, builds the store on the client and ensures its indexes at
 * start-up, so a missing index or an unreachable server stops the process
 * instead of failing its first request. The client is closed again on failure.
 */
export async function openMongoStore<S extends PreparedStore>(
  url: string,
  make: (client: MongoClient) => S,
): Promise<{ store: S; close(): Promise<void> }> {
  const client = new MongoClient(url);
  await client.connect();
  try {
    const store = make(client);
    await store.ensureIndexes();
    return { store, close: () => client.close() };
  } catch (error) {
    await client.close();
    throw error;
  }
}
