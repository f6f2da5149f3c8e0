import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describeWithMongo, expectIndexScan } from '@messenger/platform/testing';
import { MongoServerSelectionError } from 'mongodb';
import { deviceStoreContract } from '../device-store.contract.ts';
import { MongoDeviceStore, openMongoDeviceStore } from './mongo-device-store.ts';

it('refuses to open when no MongoDB answers, within its server selection timeout', async () => {
  const closed = createServer().listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const { port } = closed.address() as { port: number };
  closed.close();
  // The default 30 s selection would outlast this test's timeout: the option reaches the client.
  await expect(
    openMongoDeviceStore(`mongodb://127.0.0.1:${port}/?directConnection=true`, 'notification', {
      serverSelectionTimeoutMS: 300,
    }),
  ).rejects.toBeInstanceOf(MongoServerSelectionError);
});

// Runs against a real server only when one is configured (MONGODB_URL: compose, `make test-mongo`).
describeWithMongo(
  'MongoDeviceStore against MongoDB',
  (client, dbName) => new MongoDeviceStore(client, dbName),
  (freshStore) => {
    deviceStoreContract('MongoDeviceStore', freshStore);

    it('reads a chat’s muting members and a user’s devices by index, never a collection scan', async () => {
      const { db, close } = await freshStore();
      try {
        const mutes = db.collection('mutes').find({ chatId: randomUUID(), muted: true, userId: { $in: ['a', 'b'] } });
        expectIndexScan(await mutes.explain('queryPlanner'), 'chat_muted');
        const devices = db.collection('devices').find({ userId: randomUUID() }).sort({ createTime: -1, _id: -1 });
        expectIndexScan(await devices.explain('queryPlanner'), 'user_newest');
      } finally {
        await close();
      }
    });
  },
);
