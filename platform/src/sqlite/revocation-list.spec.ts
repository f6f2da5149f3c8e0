import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { revocationListContract } from '../auth/revocation-list.contract.ts';
import { SqliteRevocationList } from './revocation-list.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sqlite-revocations-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

revocationListContract('SqliteRevocationList', async () => {
  const list = SqliteRevocationList.open(join(dir, 'revocations.db'));
  return { list, close: () => list.close() };
});

describe('SqliteRevocationList', () => {
  let t: number;
  const seconds = () => t / 1000;
  const open = () => SqliteRevocationList.open(join(dir, 'revocations.db'), { now: () => t });

  beforeEach(() => {
    t = 1_700_000_000_000;
  });

  it('keeps a revocation across a reopen of its file, until its time', async () => {
    const first = open();
    await first.revokeSession('s-1', seconds() + 900);
    await first.revokeSession('s-1', seconds() + 60);
    first.close();
    const second = open();
    try {
      t += 899_000;
      await expect(second.isRevoked('s-1')).resolves.toBe(true);
      t += 1000;
      await expect(second.isRevoked('s-1')).resolves.toBe(false);
    } finally {
      second.close();
    }
  });

  it('sweeps expired entries it is never asked about', async () => {
    const list = open();
    try {
      for (let i = 0; i < 10; i++) await list.revokeSession(`s-${i}`, seconds() + (i < 6 ? 60 : 600));
      t += 61_000;
      expect(list.sweep()).toBe(6);
      expect(list.sweep()).toBe(0);
      await expect(list.isRevoked('s-9')).resolves.toBe(true);
    } finally {
      list.close();
    }
  });
});
