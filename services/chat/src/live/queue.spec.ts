import { Queue } from './queue.ts';

describe('Queue', () => {
  it('takes items in the order they came, across the cuts of its taken front', () => {
    const q = new Queue<number>();
    const taken: number[] = [];
    for (let i = 0; i < 5000; i++) {
      q.push(i);
      // Take two of every three, so the front is cut while items are still waiting.
      if (i % 3 !== 0) taken.push(q.shift() as number);
    }
    expect(q.length).toBe(5000 - taken.length);
    expect(q.at(0)).toBe(taken.length);
    expect(q.at(q.length - 1)).toBe(4999);
    expect(q.at(-1)).toBeUndefined();
    while (q.length > 0) taken.push(q.shift() as number);
    expect(taken).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(q.shift()).toBeUndefined();
  });
});
