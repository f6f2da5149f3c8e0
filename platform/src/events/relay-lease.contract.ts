// What every RelayLease adapter must do; run by each adapter's spec.
import type { RelayLease } from './relay-lease.ts';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function relayLeaseContract(name: string, fresh: () => Promise<{ lease: RelayLease; close(): Promise<void> }>) {
  describe(`${name} (relay lease contract)`, () => {
    let lease: RelayLease;
    let close: () => Promise<void>;
    beforeEach(async () => {
      ({ lease, close } = await fresh());
    });
    afterEach(async () => {
      await close();
    });

    it('gives the lease to one holder at a time, and lets the holder renew it', async () => {
      expect(await lease.acquire('a', 10_000)).toBe(true);
      expect(await lease.acquire('b', 10_000)).toBe(false);
      expect(await lease.acquire('a', 10_000)).toBe(true);
      expect(await lease.acquire('b', 10_000)).toBe(false);
    });

    it('hands the lease over once it has expired without renewal', async () => {
      expect(await lease.acquire('a', 200)).toBe(true);
      expect(await lease.acquire('b', 200)).toBe(false);
      await pause(400);
      expect(await lease.acquire('b', 10_000)).toBe(true);
      expect(await lease.acquire('a', 10_000)).toBe(false);
    });

    it('hands the lease over at once when the holder releases it; a release by another changes nothing', async () => {
      expect(await lease.acquire('a', 10_000)).toBe(true);
      await lease.release('b');
      expect(await lease.acquire('b', 10_000)).toBe(false);
      await lease.release('a');
      expect(await lease.acquire('b', 10_000)).toBe(true);
    });
  });
}
