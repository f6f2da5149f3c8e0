import { describeWithMongo } from '@messenger/platform/testing';
import { type IndexDefinition, planIndexes, reconcileIndexes } from './indexes.ts';

// listIndexes() output as the server gives it: a version field, key order kept.
const listed = (name: string, key: Record<string, 1 | -1>, options: Record<string, unknown> = {}) => ({
  v: 2,
  key,
  name,
  ...options,
});
const ID = listed('_id_', { _id: 1 });

describe('planIndexes', () => {
  const byUser: IndexDefinition = { name: 'user', key: { userId: 1, time: -1 } };
  const ttl: IndexDefinition = { name: 'ttl', key: { expiresAt: 1 }, expireAfterSeconds: 0 };

  it('creates every wanted index on a new collection and leaves _id_ alone', () => {
    expect(planIndexes([], [byUser, ttl])).toEqual([
      { kind: 'create', index: byUser },
      { kind: 'create', index: ttl },
    ]);
    expect(planIndexes([ID], [byUser])).toEqual([{ kind: 'create', index: byUser }]);
  });

  it('does nothing when the indexes are as defined', () => {
    const current = [
      ID,
      listed('user', { userId: 1, time: -1 }),
      listed('ttl', { expiresAt: 1 }, { expireAfterSeconds: 0 }),
    ];
    expect(planIndexes(current, [byUser, ttl])).toEqual([]);
  });

  it('replaces an index whose key, key order, direction or options changed', () => {
    const changes = [
      listed('user', { userId: 1 }),
      listed('user', { time: -1, userId: 1 }),
      listed('user', { userId: 1, time: 1 }),
      listed('user', { userId: 1, time: -1 }, { unique: true }),
      listed('user', { userId: 1, time: -1 }, { partialFilterExpression: { userId: { $exists: true } } }),
    ];
    for (const changed of changes) {
      expect(planIndexes([ID, changed], [byUser])).toEqual([{ kind: 'replace', index: byUser }]);
    }
    expect(planIndexes([listed('ttl', { expiresAt: 1 }, { expireAfterSeconds: 60 })], [ttl])).toEqual([
      { kind: 'replace', index: ttl },
    ]);
  });

  it('reports, without dropping, an index no definition names', () => {
    expect(planIndexes([ID, listed('user', { userId: 1, time: -1 }), listed('adhoc', { email: 1 })], [byUser])).toEqual(
      [{ kind: 'unknown', name: 'adhoc' }],
    );
  });
});

// End to end against a real server only when one is configured (make test-mongo).
describeWithMongo(
  'reconcileIndexes against MongoDB',
  () => ({ ensureIndexes: async () => {} }),
  (freshStore) => {
    it('creates, replaces a changed definition under its name, keeps unknown indexes, and is then a no-op', async () => {
      const { db, close } = await freshStore();
      try {
        const items = db.collection('items');
        await items.createIndex({ owner: 1 }, { name: 'owner' });
        await items.createIndex({ note: 1 }, { name: 'adhoc' });
        const wanted: IndexDefinition[] = [
          { name: 'owner', key: { owner: 1, time: -1 }, unique: true },
          { name: 'ttl', key: { expiresAt: 1 }, expireAfterSeconds: 0 },
        ];
        const actions = await reconcileIndexes(items, wanted);
        expect(actions.map((a) => a.kind).sort()).toEqual(['create', 'replace', 'unknown']);
        const indexes = await items.listIndexes().toArray();
        const owner = indexes.find((i) => i.name === 'owner');
        expect(owner?.key).toEqual({ owner: 1, time: -1 });
        expect(owner?.unique).toBe(true);
        expect(indexes.map((i) => i.name).sort()).toEqual(['_id_', 'adhoc', 'owner', 'ttl']);
        await expect(reconcileIndexes(items, wanted)).resolves.toEqual([{ kind: 'unknown', name: 'adhoc' }]);
        await expect(reconcileIndexes(db.collection('not_yet_created'), wanted)).resolves.toHaveLength(2);
      } finally {
        await close();
      }
    });
  },
);
