import { setTimeout as sleep } from 'node:timers/promises';
import { IdleTimers } from './idle-timers.ts';

describe('IdleTimers', () => {
  it('wakes every waiter that stayed idle for its period, and none that was removed', async () => {
    const timers = new IdleTimers();
    const woke: string[] = [];
    const waiter = (name: string) => ({ idle: () => woke.push(name) });
    const [a, b, gone, long] = [waiter('a'), waiter('b'), waiter('gone'), waiter('long')];
    timers.add(a, 10);
    timers.add(gone, 10);
    timers.add(b, 30);
    timers.add(long, 60_000);
    timers.remove(gone);
    // Waiting again starts over, with the new period only.
    timers.add(a, 40);
    for (let i = 0; i < 250 && woke.length < 2; i++) await sleep(10);
    await sleep(50);
    expect(woke.sort()).toEqual(['a', 'b']);
    expect(timers.size).toBe(1);
    timers.remove(long);
    expect(timers.size).toBe(0);
  });
});
