import { randomUUID } from 'node:crypto';
import { MongoClient, MongoServerError } from 'mongodb';
import type { Friendship } from '../../domain/friendship.ts';
import { friendshipStoreContract } from '../friendship-store.contract.ts';
import { isStoreError } from '../friendship-store.ts';
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
const mongoUrl = process.env.MONGODB_URL;
if (mongoUrl) {
  describe('MongoFriendshipStore against MongoDB', () => {
    let client: MongoClient;
    beforeAll(async () => {
      client = await new MongoClient(mongoUrl).connect();
    });
    afterAll(async () => {
      await client.close();
    });

    const freshStore = async () => {
      const dbName = `subscriber_test_${randomUUID().slice(0, 8)}`;
      const store = new MongoFriendshipStore(client, dbName);
      await store.ensureIndexes();
      return { store, dbName, close: async () => void (await client.db(dbName).dropDatabase()) };
    };

    friendshipStoreContract('MongoFriendshipStore', freshStore);

    it('lists with an index scan, never a collection scan or an in-memory sort', async () => {
      const { store, dbName, close } = await freshStore();
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
        const users = client.db(dbName).collection<FriendshipDoc>('friendships');
        for (const status of [undefined, 'outgoing'] as const) {
          const { filter, sort } = listQuery(me, status, '9999');
          const explained = await users.find(filter).sort(sort).limit(51).explain('queryPlanner');
          const stages = stagesOf(explained.queryPlanner.winningPlan);
          expect(stages).toContain('IXSCAN');
          expect(stages).not.toContain('COLLSCAN');
          expect(stages).not.toContain('SORT');
        }
      } finally {
        await close();
      }
    });
  });
}

/** Every `stage` named anywhere in an explain plan (classic and slot-based engines nest differently). */
function stagesOf(plan: unknown): string[] {
  if (Array.isArray(plan)) return plan.flatMap(stagesOf);
  if (plan === null || typeof plan !== 'object') return [];
  return Object.entries(plan).flatMap(([key, value]) =>
    key === 'stage' && typeof value === 'string' ? [value] : stagesOf(value),
  );
}
