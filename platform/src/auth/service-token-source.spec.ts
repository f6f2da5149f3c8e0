import { cachedServiceTokenSource } from './service-token-source.ts';

describe('cachedServiceTokenSource', () => {
  it('issues once, shares the token between concurrent callers, and renews before expiry', async () => {
    let clock = 1000;
    let issued = 0;
    const source = cachedServiceTokenSource(
      async () => {
        issued++;
        return { token: `t${issued}`, expiresAt: clock + 600 };
      },
      () => clock,
    );

    const first = await Promise.all(Array.from({ length: 10 }, () => source.token()));
    expect(new Set(first)).toEqual(new Set(['t1']));
    expect(issued).toBe(1);

    clock += 500; // 100 s left: still valid
    expect(await source.token()).toBe('t1');
    clock += 50; // 50 s left: inside the renewal window
    expect(await source.token()).toBe('t2');
    expect(issued).toBe(2);
  });

  it('tries again after a failed issue', async () => {
    let calls = 0;
    const source = cachedServiceTokenSource(async () => {
      calls++;
      if (calls === 1) throw new Error('auth unavailable');
      return { token: 'ok', expiresAt: Date.now() / 1000 + 600 };
    });
    await expect(source.token()).rejects.toThrow('auth unavailable');
    await expect(source.token()).resolves.toBe('ok');
  });
});
