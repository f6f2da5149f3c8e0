import { randomUUID } from 'node:crypto';
import { describeWithMongo, expectIndexScan } from '@messenger/platform/testing';
import { MongoClient, MongoServerError } from 'mongodb';
import type { UserProfile } from '../../domain/user.ts';
import { isStoreError, prefixUpperBound } from '../../domain/user-storage.ts';
import { userStoreContract } from '../user-store.contract.ts';
import {
  MongoUserStore,
  nicknameSearchQuery,
  openMongoUserStore,
  translateError,
  type UserDoc,
} from './mongo-user-store.ts';

describe('MongoUserStore query building', () => {
  it('bounds a prefix range by incrementing its last character', () => {
    expect(prefixUpperBound('al')).toBe('am');
    expect(prefixUpperBound('a.')).toBe('a/');
    expect(prefixUpperBound('z')).toBe('{');
    expect(() => prefixUpperBound('')).toThrow(RangeError);
  });

  it('searches one index range, moving past the cursor', () => {
    expect(nicknameSearchQuery('al', undefined)).toEqual({
      filter: { nicknameLower: { $gte: 'al', $lt: 'am' } },
      sort: { nicknameLower: 1 },
    });
    expect(nicknameSearchQuery('al', { nicknameLower: 'alice', id: 'x' }).filter).toEqual({
      nicknameLower: { $gt: 'alice', $lt: 'am' },
    });
  });

  it('translates a duplicate-key error and nothing else', () => {
    const duplicate = new MongoServerError({ code: 11000, errmsg: 'E11000 duplicate key error' });
    expect(isStoreError(translateError(duplicate), 'duplicate')).toBe(true);
    const other = new MongoServerError({ code: 112, errmsg: 'WriteConflict' });
    expect(translateError(other)).toBe(other);
  });
});

// Runs against a real server only when one is configured (compose, CI with MongoDB).
describeWithMongo(
  'MongoUserStore against MongoDB',
  (client, dbName) => new MongoUserStore(client, dbName),
  (freshStore) => {
    userStoreContract('MongoUserStore', freshStore);

    it('searches with an index scan, never a collection scan or an in-memory sort', async () => {
      const { store, db, close } = await freshStore();
      try {
        const t = new Date();
        for (const nickname of ['alice', 'albert', 'bob']) {
          const user: UserProfile = {
            id: randomUUID(),
            nickname,
            about: '',
            avatarUrl: '',
            createTime: t,
            updateTime: t,
            version: 1,
          };
          await store.insert(user, []);
        }
        const { filter, sort } = nicknameSearchQuery('al', { nicknameLower: 'albert', id: 'x' });
        const explained = await db
          .collection<UserDoc>('users')
          .find(filter)
          .sort(sort)
          .limit(51)
          .explain('queryPlanner');
        expectIndexScan(explained);
      } finally {
        await close();
      }
    });
  },
);

// Against a real server only when one is configured (make test-mongo).
const mongoUrl = process.env.MONGODB_URL;
if (mongoUrl) {
  it("names the store's connections after the service, so the server's currentOp and logs tell whose they are", async () => {
    const dbName = `test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const opened = await openMongoUserStore(mongoUrl, dbName, { serverSelectionTimeoutMS: 5000 });
    const observer = await new MongoClient(mongoUrl).connect();
    try {
      const connections = await observer
        .db('admin')
        .aggregate([{ $currentOp: { allUsers: true, idleConnections: true } }, { $match: { appName: 'user' } }])
        .toArray();
      expect(connections.length).toBeGreaterThan(0);
    } finally {
      await observer.db(dbName).dropDatabase();
      await observer.close();
      await opened.close();
    }
  });
}
