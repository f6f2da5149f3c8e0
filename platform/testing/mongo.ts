// The MongoDB half of a store contract: registered only when MONGODB_URL
// names a server (docker-compose, or any machine with MongoDB), since none
// can be installed on the machines that run `make test` by default.
import { randomUUID } from 'node:crypto';
import type { PreparedStore } from '@messenger/platform/mongo';
import { type Db, MongoClient } from 'mongodb';

export interface FreshMongoStore<S> {
  readonly store: S;
  /** The store's own database, for explain() and raw checks. */
  readonly db: Db;
  /** Drops the database. */
  close(): Promise<void>;
}

/**
 * `describe(title)` with one client for the file and `freshStore()` giving
 * each test a store on a new, uniquely named database with its indexes.
 * Without MONGODB_URL nothing is registered (not skipped: absent).
 */
export function describeWithMongo<S extends PreparedStore>(
  title: string,
  make: (client: MongoClient, dbName: string) => S,
  suite: (freshStore: () => Promise<FreshMongoStore<S>>) => void,
): void {
  const url = process.env.MONGODB_URL;
  if (!url) return;
  describe(title, () => {
    let client: MongoClient;
    beforeAll(async () => {
      client = await new MongoClient(url).connect();
    });
    afterAll(async () => {
      await client.close();
    });
    suite(async () => {
      const dbName = `test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
      const store = make(client, dbName);
      await store.ensureIndexes();
      const db = client.db(dbName);
      return { store, db, close: async () => void (await db.dropDatabase()) };
    });
  });
}

/** Every value of `key` anywhere in an explain plan (classic and slot-based engines nest differently). */
function planValues(plan: unknown, key: string): string[] {
  if (Array.isArray(plan)) return plan.flatMap((p) => planValues(p, key));
  if (plan === null || typeof plan !== 'object') return [];
  return Object.entries(plan).flatMap(([k, value]) =>
    k === key && typeof value === 'string' ? [value] : planValues(value, key),
  );
}

/**
 * Asserts that an `explain('queryPlanner')` result's winning plan reads an
 * index range (optionally the named index) with no collection scan and no
 * in-memory sort: the query costs the same whatever the collection's size.
 */
export function expectIndexScan(explained: unknown, index?: string): void {
  const plan = (explained as { queryPlanner: { winningPlan: unknown } }).queryPlanner.winningPlan;
  const stages = planValues(plan, 'stage');
  expect(stages).toContain('IXSCAN');
  expect(stages).not.toContain('COLLSCAN');
  expect(stages).not.toContain('SORT');
  if (index !== undefined) expect(planValues(plan, 'indexName')).toContain(index);
}
