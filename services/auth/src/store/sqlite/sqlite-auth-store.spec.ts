import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authStoreContract } from '../auth-store.contract.ts';
import { SqliteAuthStore } from './sqlite-auth-store.ts';

authStoreContract('SqliteAuthStore', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-auth-store-'));
  const store = SqliteAuthStore.open(join(dir, 'auth.db'));
  return {
    store,
    close: async () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
