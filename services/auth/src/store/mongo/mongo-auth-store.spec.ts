import { describeWithMongo } from '@messenger/platform/testing';
import { MongoServerError } from 'mongodb';
import { isStoreError } from '../../domain/auth-storage.ts';
import { authStoreContract } from '../auth-store.contract.ts';
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
describeWithMongo(
  'MongoAuthStore against MongoDB',
  (client, dbName) => new MongoAuthStore(client, dbName),
  (freshStore) => authStoreContract('MongoAuthStore', freshStore),
);
