import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteDatabase } from '@messenger/platform/sqlite';
import { deviceStoreContract } from '../device-store.contract.ts';
import { deviceSchema, SqliteDeviceStore } from './sqlite-device-store.ts';

deviceStoreContract('SqliteDeviceStore', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'device-store-'));
  const store = SqliteDeviceStore.open(join(dir, 'notification.db'));
  return {
    store,
    close: async () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteDeviceStore', () => {
  it('keeps devices across a reopen of its file, and remembers the latest handled events only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'device-store-'));
    const file = join(dir, 'notification.db');
    try {
      const first = SqliteDeviceStore.open(file);
      const user = randomUUID();
      const device = {
        id: randomUUID(),
        userId: user,
        target: { kind: 'webpush', endpoint: 'https://push.example/a', p256dh: 'k', auth: 'a' },
        createdAt: new Date('2025-01-01T00:00:00Z'),
      } as const;
      await first.register(device, 5);
      first.close();
      const again = SqliteDeviceStore.open(file);
      expect(await again.listByUser(user)).toEqual([device]);
      again.close();

      const small = new SqliteDeviceStore(SqliteDatabase.open(join(dir, 'small.db'), [deviceSchema]), {
        dedupeWindow: 2,
      });
      for (const id of ['a', 'b', 'c']) await small.firstDelivery(id);
      expect(await small.firstDelivery('b')).toBe(false);
      expect(await small.firstDelivery('a')).toBe(true);
      small.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
