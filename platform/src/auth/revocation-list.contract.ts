import type { RevocationList } from './revocation.ts';

export interface RevocationListFixture {
  readonly list: RevocationList;
  close(): Promise<void> | void;
}

/**
 * The behaviour every `RevocationList` adapter must show (in-memory, SQLite,
 * Redis, layered), through `isRevoked` and, where it has one, `isRevokedNow`,
 * on the real clock. Expiry over time is each adapter's own spec (fake clock
 * in memory; a short real wait against Redis).
 */
export function revocationListContract(name: string, make: () => Promise<RevocationListFixture>): void {
  describe(`RevocationList contract: ${name}`, () => {
    let fixture: RevocationListFixture;
    const nowSeconds = () => Math.floor(Date.now() / 1000);
    /** `isRevoked`, and `isRevokedNow` where the adapter answers at once: both must agree. */
    const revoked = async (sessionId: string): Promise<boolean> => {
      const now = fixture.list.isRevokedNow?.(sessionId);
      const answer = await fixture.list.isRevoked(sessionId);
      if (now !== undefined) expect(now).toBe(answer);
      return answer;
    };

    beforeEach(async () => {
      fixture = await make();
    });
    afterEach(async () => {
      await fixture.close();
    });

    it('knows nothing of a session never revoked', async () => {
      expect(await revoked('never-revoked')).toBe(false);
    });

    it('reports a revoked session until its time, and no other session', async () => {
      await fixture.list.revokeSession('s-revoked', nowSeconds() + 60);
      expect(await revoked('s-revoked')).toBe(true);
      expect(await revoked('s-other')).toBe(false);
    });

    it('ignores a revocation whose time has already passed', async () => {
      await fixture.list.revokeSession('s-past', nowSeconds() - 1);
      expect(await revoked('s-past')).toBe(false);
    });

    it('keeps a session revoked when it is revoked again', async () => {
      await fixture.list.revokeSession('s-twice', nowSeconds() + 60);
      await fixture.list.revokeSession('s-twice', nowSeconds() + 120);
      expect(await revoked('s-twice')).toBe(true);
    });

    it('treats session ids as opaque strings', async () => {
      await fixture.list.revokeSession('s:with:colons/and*glob?', nowSeconds() + 60);
      expect(await revoked('s:with:colons/and*glob?')).toBe(true);
      expect(await revoked('s:with:colons/and*')).toBe(false);
    });
  });
}
