import { type Cursor, decodeCursor, encodeCursor, InvalidCursorError, partitionKey, raiseTo } from './cursor.ts';

describe('update id cursors', () => {
  it('carry the hub and every partition offset there and back, topics with # in their name included', () => {
    const cursor: Cursor = new Map([
      [partitionKey('chat.events', 0), 41],
      [partitionKey('chat.events', 3), -1],
      [partitionKey('odd#topic', 1), 7],
    ]);
    expect(decodeCursor(encodeCursor('hub-1', cursor))).toEqual({ hub: 'hub-1', cursor });
  });

  it('refuse what no hub issued', () => {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const bad of ['%%%', encode([]), encode({ h: 1, t: {} }), encode({ h: 'x', t: { c: [1.5] } })]) {
      expect(() => decodeCursor(bad)).toThrow(InvalidCursorError);
    }
  });

  it('are raised to a floor partition by partition, never lowered', () => {
    const cursor: Cursor = new Map([
      ['a#0', 5],
      ['a#1', 9],
    ]);
    raiseTo(
      cursor,
      new Map([
        ['a#0', 7],
        ['a#1', 2],
        ['b#0', 3],
      ]),
    );
    expect([...cursor]).toEqual([
      ['a#0', 7],
      ['a#1', 9],
      ['b#0', 3],
    ]);
  });
});
