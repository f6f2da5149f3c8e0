import type { RevocationList } from './revocation.ts';

export interface RevocationListFixture {
  readonly list: RevocationList;
  close(): Promise<void> | void;
}

/**
 * The behaviour every `RevocationList` adapter must show (in-memory, Redis),
 * on the real clock. Expiry over time is each adapter's own spec (fake clock
 * in memory; a short real wait against Redis).
 */
export function revocationListContract(name: string, make: () => Promise<RevocationListFixture>): void {
  describe(`RevocationList contract: ${name}`, () => {
    let fixture: RevocationListFixture;
    const nowSeconds = () => Math.floor(Date.now() / 1000);

    beforeEach(async () => {
      fixture = await make();
    });
    afterEach(async () => {
      await fixture.close();
    });

    it('knows nothing of a session never revoked', async () => {
      await expect(fixture.list.isRevoked('never-revoked')).resolves.toBe(false);
    });

    it('reports a revoked session until its time, and no other session', async () => {
      await fixture.list.revokeSession('s-revoked', nowSeconds() + 60);
      await expect(fixture.list.isRevoked('s-revoked')).resolves.toBe(true);
      await expect(fixture.list.isRevoked('s-other')).resolves.toBe(false);
    });

    it('ignores a revocation whose time has already passed', async () => {
      await fixture.list.revokeSession('s-past', nowSeconds() - 1);
      await expect(fixture.list.isRevoked('s-past')).resolves.toBe(false);
    });

    it('keeps a session revoked when it is revoked again', async () => {
      await fixture.list.revokeSession('s-twice', nowSeconds() + 60);
      await fixture.list.revokeSession('s-twice', nowSeconds() + 120);
      await expect(fixture.list.isRevoked('s-twice')).resolves.toBe(true);
    });

    it('treats session ids as opaque strings', async () => {
      await fixture.list.revokeSession('s:with:colons/and*glob?', nowSeconds() + 60);
      await expect(fixture.list.isRevoked('s:with:colons/and*glob?')).resolves.toBe(true);
      await expect(fixture.list.isRevoked('s:with:colons/and*')).resolves.toBe(false);
    });
  });
}
