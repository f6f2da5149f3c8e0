import { createScryptHasher } from './password-hasher.ts';

describe('scrypt password hasher', () => {
  it('hashes with N = 2^17 by default to a self-describing string with a fresh salt, and verifies only the right password', async () => {
    const hasher = await createScryptHasher();
    // The derivation runs on libuv's thread pool: the event loop keeps turning meanwhile.
    let ticks = 0;
    const ticking = setInterval(() => ticks++, 5);
    const started = performance.now();
    const a = await hasher.hash('correct horse');
    const took = performance.now() - started;
    clearInterval(ticking);
    // A derivation on the event loop would let at most one tick through; a loaded machine delays ticks, not that.
    expect(took).toBeGreaterThan(20);
    expect(ticks).toBeGreaterThan(1);
    const b = await hasher.hash('correct horse');
    expect(a).toMatch(/^\$scrypt\$ln=17,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(hasher.needsRehash(a)).toBe(false);
    expect(a).not.toBe(b);
    await expect(hasher.verify('correct horse', a)).resolves.toBe(true);
    await expect(hasher.verify('correct horse ', a)).resolves.toBe(false);
    await expect(hasher.verify('Correct horse', b)).resolves.toBe(false);
  });

  it('keeps verifying hashes made with other params, and refuses unreadable or extreme ones', async () => {
    const cheap = await createScryptHasher({ logN: 10, r: 8, p: 1 });
    const stored = await cheap.hash('pässwörd');
    const current = await createScryptHasher({ logN: 11, r: 8, p: 1 });
    await expect(current.verify('pässwörd', stored)).resolves.toBe(true);
    // Verifies, but asks to be replaced by a hash with the current params.
    expect(current.needsRehash(stored)).toBe(true);
    expect(cheap.needsRehash(stored)).toBe(false);
    expect(current.needsRehash('not a hash')).toBe(true);
    // NFC and NFD spellings of one password are the same password.
    await expect(current.verify('pa\u0308sswo\u0308rd', stored)).resolves.toBe(true);
    await expect(current.verify('x', 'not a hash')).resolves.toBe(false);
    await expect(current.verify('x', stored.replace('ln=10', 'ln=30'))).resolves.toBe(false);
    await expect(current.verifyDummy('anything')).resolves.toBe(false);
    await expect(createScryptHasher({ logN: 40, r: 8, p: 1 })).rejects.toThrow(RangeError);
  });

  it('takes about as long for the dummy check as for a real one', async () => {
    const hasher = await createScryptHasher({ logN: 14, r: 8, p: 1 });
    const stored = await hasher.hash('some password');
    // CPU time of this process (scrypt runs on libuv's pool, which it includes), not wall time: other
    // processes on the machine slow both paths' wall time unevenly, but not the work each does.
    const time = async (f: () => Promise<unknown>) => {
      const started = process.cpuUsage();
      await f();
      const { user, system } = process.cpuUsage(started);
      return user + system;
    };
    // Warm both paths (the first derivation allocates its memory), then compare the medians of
    // interleaved rounds: other work of this process (a collection, a late timer) lands in one round, not all.
    await hasher.verify('wrong password', stored);
    await hasher.verifyDummy('wrong password');
    const reals: number[] = [];
    const dummies: number[] = [];
    for (let i = 0; i < 7; i++) {
      reals.push(await time(() => hasher.verify('wrong password', stored)));
      dummies.push(await time(() => hasher.verifyDummy('wrong password')));
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const [real, dummy] = [median(reals), median(dummies)];
    expect(dummy / real).toBeGreaterThan(0.5);
    expect(dummy / real).toBeLessThan(2);
  });
});
