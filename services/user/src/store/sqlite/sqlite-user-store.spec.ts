import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { userEventEntry } from '../../events/user-events.ts';
import { userStoreContract } from '../user-store.contract.ts';
import { withEventEncoding } from '../user-store.ts';
import { SqliteUserStore } from './sqlite-user-store.ts';

userStoreContract('SqliteUserStore', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-user-store-'));
  const store = SqliteUserStore.open(join(dir, 'user.db'));
  return {
    store,
    close: async () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteUserStore file', () => {
  it('keeps profiles and unpublished events across a reopen of its file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sqlite-user-store-'));
    const file = join(dir, 'user.db');
    try {
      const t = new Date('2025-01-02T03:04:05.678Z');
      const user = {
        id: randomUUID(),
        nickname: 'Ada',
        about: 'hi',
        avatarUrl: '',
        createTime: t,
        updateTime: t,
        version: 1,
      };
      const first = SqliteUserStore.open(file);
      await withEventEncoding(first, userEventEntry).insert(user, [{ kind: 'created', user, requestId: 'r' }]);
      first.close();

      const second = SqliteUserStore.open(file);
      try {
        await expect(second.get(user.id)).resolves.toEqual(user);
        await expect(second.searchByNickname('ad', undefined, 10)).resolves.toEqual([user]);
        expect((await second.outbox.pendingEvents(10)).map((e) => e.envelope.type)).toEqual(['user.user.created']);
      } finally {
        second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
