import { InMemoryRevocationList } from './revocation.ts';
import { revocationListContract } from './revocation-list.contract.ts';

revocationListContract('InMemoryRevocationList', async () => {
  const list = new InMemoryRevocationList();
  return { list, close: () => list.close() };
});

describe('InMemoryRevocationList', () => {
  let t: number;
  let list: InMemoryRevocationList;
  const seconds = () => t / 1000;

  beforeEach(() => {
    t = 1_700_000_000_000;
    list = new InMemoryRevocationList({ now: () => t });
  });
  afterEach(() => list.close());

  it('lets entries expire at their time', async () => {
    await list.revokeSession('s-1', seconds() + 900);
    t += 899_000;
    await expect(list.isRevoked('s-1')).resolves.toBe(true);
    t += 1000;
    await expect(list.isRevoked('s-1')).resolves.toBe(false);
    expect(list.size).toBe(0); // dropped by the lookup that met it
  });

  it('extends, never shortens, a revocation', async () => {
    await list.revokeSession('s-1', seconds() + 900);
    await list.revokeSession('s-1', seconds() + 60);
    t += 120_000;
    await expect(list.isRevoked('s-1')).resolves.toBe(true);
  });

  it('sweeps expired entries it is never asked about', async () => {
    for (let i = 0; i < 100; i++) await list.revokeSession(`s-${i}`, seconds() + (i < 60 ? 60 : 600));
    expect(list.size).toBe(100);
    t += 61_000;
    expect(list.sweep()).toBe(60);
    expect(list.size).toBe(40);
  });

  it('sweeps on a timer that never keeps the process alive, stopped by close()', async () => {
    const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timeouts();
    const timed = new InMemoryRevocationList({ now: () => t, sweepIntervalMs: 10 });
    try {
      expect(timeouts()).toBe(before); // unref'd: not an active resource
      await timed.revokeSession('s-1', seconds() + 1);
      t += 2000;
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(timed.size).toBe(0);
    } finally {
      timed.close();
    }
    await timed.revokeSession('s-2', seconds() + 1);
    t += 2000;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(timed.size).toBe(1); // closed: no more sweeps
  });

  it('refuses bad input', async () => {
    await expect(list.revokeSession('', seconds() + 60)).rejects.toThrow(TypeError);
    await expect(list.revokeSession('s-1', Number.NaN)).rejects.toThrow(TypeError);
    expect(() => new InMemoryRevocationList({ sweepIntervalMs: 0 })).toThrow(TypeError);
  });
});
