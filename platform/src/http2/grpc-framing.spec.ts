import { encodeTimeout, frameMessage, MessageReader } from './grpc-framing.ts';

const collect = (reader: MessageReader, chunks: Buffer[]) => {
  const messages: Buffer[] = [];
  let error: string | undefined;
  for (const chunk of chunks) error ??= reader.push(chunk, { onMessage: (m) => messages.push(Buffer.from(m)) });
  return { messages: messages.map((m) => m.toString()), error };
};

describe('length-prefixed framing', () => {
  it('frames a message behind a 5-byte header, uncompressed', () => {
    expect([...frameMessage(Buffer.from('hi'))]).toEqual([0, 0, 0, 0, 2, 0x68, 0x69]);
    expect([...frameMessage(new Uint8Array(0))]).toEqual([0, 0, 0, 0, 0]);
  });

  it('reads a message inside one chunk as a view of it, without copying', () => {
    const chunk = frameMessage(Buffer.from('hello'));
    let seen: Buffer | undefined;
    new MessageReader(100).push(chunk, {
      onMessage: (m) => {
        seen = m;
      },
    });
    expect(seen?.toString()).toBe('hello');
    expect(seen?.buffer).toBe(chunk.buffer);
  });

  it('reads messages split at every possible byte boundary', () => {
    const wire = Buffer.concat([
      frameMessage(Buffer.from('first')),
      frameMessage(Buffer.alloc(0)),
      frameMessage(Buffer.from('third!')),
    ]);
    for (let a = 0; a <= wire.length; a++) {
      for (let b = a; b <= wire.length; b++) {
        const reader = new MessageReader(100);
        const out = collect(reader, [wire.subarray(0, a), wire.subarray(a, b), wire.subarray(b)]);
        expect(out).toEqual({ messages: ['first', '', 'third!'], error: undefined });
        expect(reader.partial).toBe(false);
      }
    }
  });

  it('knows when the body ended inside a header or a message', () => {
    const wire = frameMessage(Buffer.from('abc'));
    for (const cut of [1, 4, 5, 7]) {
      const reader = new MessageReader(100);
      collect(reader, [wire.subarray(0, cut)]);
      expect(reader.partial).toBe(true);
    }
  });

  it('refuses a compressed message and an unknown flag, and reads nothing after', () => {
    const compressed = Buffer.from([1, 0, 0, 0, 1, 0x41]);
    expect(collect(new MessageReader(100), [compressed])).toEqual({ messages: [], error: 'compressed' });
    const reader = new MessageReader(100);
    expect(collect(reader, [Buffer.from([7, 0, 0]), Buffer.from([0, 0])])).toEqual({ messages: [], error: 'bad-flag' });
    expect(reader.push(frameMessage(Buffer.from('x')), { onMessage: () => {} })).toBe('bad-flag');
  });

  it('refuses a message over the limit from its header, before buffering any of it', () => {
    const header = Buffer.from([0, 0, 0, 0, 11]);
    expect(collect(new MessageReader(10), [header])).toEqual({ messages: [], error: 'too-large' });
    const huge = Buffer.from([0, 0x7f, 0xff, 0xff, 0xff]);
    expect(collect(new MessageReader(4 * 1024 * 1024), [huge.subarray(0, 2), huge.subarray(2)]).error).toBe(
      'too-large',
    );
    expect(collect(new MessageReader(10), [frameMessage(Buffer.alloc(10, 0x61))]).messages).toEqual(['a'.repeat(10)]);
  });
});

describe('grpc-timeout', () => {
  it.each([
    [0, '1m'],
    [0.2, '1m'],
    [1500.1, '1501m'],
    [99_999_999, '99999999m'],
    [100_000_000, '100000S'],
    [1e15, '99999999H'],
  ])('%d ms → %s', (ms, header) => {
    expect(encodeTimeout(ms)).toBe(header);
  });
});
