import { StreamTable } from './stream-table.ts';

describe('StreamTable', () => {
  it('finds a stream by its id until it is deleted, and counts the open ones', () => {
    const table = new StreamTable<string>();
    table.add(1, 'a');
    table.add(3, 'b');
    expect(table.size).toBe(2);
    expect(table.get(1)).toBe('a');
    expect(table.get(3)).toBe('b');
    expect(table.get(5)).toBeUndefined();

    expect(table.delete(1, 'a')).toBe(true);
    expect(table.delete(1, 'a')).toBe(false);
    expect(table.delete(7, 'a')).toBe(false);
    expect(table.delete(3, 'a')).toBe(false);
    expect(table.get(3)).toBe('b');
    expect(table.get(1)).toBeUndefined();
    expect(table.size).toBe(1);
  });

  it('lists the streams in id order, however many have come and gone', () => {
    const table = new StreamTable<number>();
    // A long-lived stream, then many short ones opened and closed around it,
    // as a connection carrying one server stream and many unary calls sees.
    table.add(1, 1);
    for (let id = 3; id < 200_003; id += 2) {
      table.add(id, id);
      const closing = id - 2 * 40;
      if (closing >= 3) table.delete(closing, closing);
    }
    const open = table.values();
    expect(open).toHaveLength(table.size);
    expect(open[0]).toBe(1);
    expect(open.slice(1)).toEqual(Array.from({ length: 40 }, (_, i) => 200_001 - 2 * (39 - i)));
    expect(table.get(199_999)).toBe(199_999);
    expect(table.get(5)).toBeUndefined();
  });

  it('may change while its streams are walked, as closing them all does', () => {
    const table = new StreamTable<number>();
    for (const id of [1, 3, 5]) table.add(id, id);
    const walked: number[] = [];
    for (const id of table.values()) {
      walked.push(id);
      table.delete(id, id);
    }
    expect(walked).toEqual([1, 3, 5]);
    expect(table.size).toBe(0);

    table.add(7, 7);
    table.clear();
    expect(table.size).toBe(0);
    expect(table.get(7)).toBeUndefined();
    expect(table.values()).toEqual([]);
  });
});
