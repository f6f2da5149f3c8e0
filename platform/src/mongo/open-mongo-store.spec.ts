import { openMongoStore } from './open-mongo-store.ts';

it('fails start-up, without building the store, when MongoDB is unreachable', async () => {
  let built = false;
  const opening = openMongoStore('mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300', () => {
    built = true;
    return { ensureIndexes: async () => {} };
  });
  await expect(opening).rejects.toThrow(/ECONNREFUSED|Server selection timed out/);
  expect(built).toBe(false);
});
