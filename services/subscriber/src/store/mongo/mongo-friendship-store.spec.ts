import { randomUUID } from 'node:crypto';
import { describeWithMongo, expectIndexScan } from '@messenger/platform/testing';
import { MongoServerError } from 'mongodb';
import type { Friendship } from '../../domain/friendship.ts';
import { isStoreError } from '../../domain/friendship-storage.ts';
import { friendshipStoreContract } from '../friendship-store.contract.ts';
import { type FriendshipDoc, listQuery, MongoFriendshipStore, translateError } from './mongo-friendship-store.ts';

describe('MongoFriendshipStore query building', () => {
  it('lists by one equality key and a listKey range, in listKey order', () => {
    expect(listQuery('u1', undefined, undefined)).toEqual({ filter: { members: 'u1' }, sort: { listKey: -1 } });
    expect(listQuery('u1', 'incoming', 'k').filter).toEqual({ views: 'u1:incoming', listKey: { $lt: 'k' } });
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
  'MongoFriendshipStore against MongoDB',
  (client, dbName) => new MongoFriendshipStore(client, dbName),
  (freshStore) => {
    friendshipStoreContract('MongoFriendshipStore', freshStore);

    it('lists with an index scan, never a collection scan or an in-memory sort', async () => {
      const { store, db, close } = await freshStore();
      try {
        const me = randomUUID();
        for (let i = 0; i < 3; i++) {
          const t = new Date(Date.now() + i);
          const f: Friendship = {
            requesterId: me,
            addresseeId: randomUUID(),
            state: 'pending',
            createTime: t,
            updateTime: t,
            version: 1,
          };
          await store.insert(f, []);
        }
        const users = db.collection<FriendshipDoc>('friendships');
        for (const status of [undefined, 'outgoing'] as const) {
          const { filter, sort } = listQuery(me, status, '9999');
          const explained = await users.find(filter).sort(sort).limit(51).explain('queryPlanner');
          expectIndexScan(explained);
        }
      } finally {
        await close();
      }
    });
  },
);
