import { randomUUID } from 'node:crypto';
import { MongoClient, MongoServerError } from 'mongodb';
import { authStoreContract } from '../auth-store.contract.ts';
import { isStoreError } from '../auth-store.ts';
import { MongoAuthStore, translateError } from './mongo-auth-store.ts';

describe('MongoAuthStore error translation', () => {
  it('translates a duplicate-key error and nothing else', () => {
    const duplicate = new MongoServerError({ code: 11000, errmsg: 'E11000 duplicate key error' });
    expect(isStoreError(translateError(duplicate), 'duplicate')).toBe(true);
    const other = new MongoServerError({ code: 112, errmsg: 'WriteConflict' });
    expect(translateError(other)).toBe(other);
  });
});

// Runs against a real server only when one is configured (compose, CI with MongoDB).
const mongoUrl = process.env.MONGODB_URL;
if (mongoUrl) {
  describe('MongoAuthStore against MongoDB', () => {
    let client: MongoClient;
    beforeAll(async () => {
      client = await new MongoClient(mongoUrl).connect();
    });
    afterAll(async () => {
      await client.close();
    });

    authStoreContract('MongoAuthStore', async () => {
      const dbName = `auth_test_${randomUUID().slice(0, 8)}`;
      const store = new MongoAuthStore(client, dbName);
      await store.ensureIndexes();
      return { store, close: async () => void (await client.db(dbName).dropDatabase()) };
    });
  });
}
