import { LastFrame } from './last-frame.ts';

// A route's streams share one LastFrame: whatever they are sent, each must
// get the frame of its own message.

const renderCounting = () => {
  const rendered: string[] = [];
  const frames = new LastFrame((bytes) => {
    const text = Buffer.from(bytes).toString('utf8');
    if (text === 'bad') throw new Error('undecodable');
    rendered.push(text);
    return { text };
  });
  return { frames, rendered };
};

const bytesOf = (text: string) => new Uint8Array(Buffer.from(text));

describe('LastFrame', () => {
  it('renders the same bytes once and hands every stream that one frame', () => {
    const { frames, rendered } = renderCounting();
    const first = frames.of(bytesOf('update 1'));
    for (let i = 0; i < 5; i++) expect(frames.of(bytesOf('update 1'))).toBe(first);
    expect(rendered).toEqual(['update 1']);
  });

  it('renders bytes that differ, even by one byte at the end or by length', () => {
    const { frames, rendered } = renderCounting();
    expect(frames.of(bytesOf('update 1')).text).toBe('update 1');
    expect(frames.of(bytesOf('update 2')).text).toBe('update 2');
    expect(frames.of(bytesOf('update 22')).text).toBe('update 22');
    expect(frames.of(bytesOf('update 1')).text).toBe('update 1');
    expect(rendered).toEqual(['update 1', 'update 2', 'update 22', 'update 1']);
  });

  it('keeps a copy: a message view whose buffer is written over later does not change what it matches', () => {
    const { frames } = renderCounting();
    const chunk = Buffer.from('xxupdate 1yy');
    expect(frames.of(chunk.subarray(2, 10)).text).toBe('update 1');
    chunk.write('update 9', 2);
    expect(frames.of(chunk.subarray(2, 10)).text).toBe('update 9');
    expect(frames.of(bytesOf('update 1')).text).toBe('update 1');
  });

  it('lets a rendering failure through and keeps the frame it had', () => {
    const { frames, rendered } = renderCounting();
    const first = frames.of(bytesOf('update 1'));
    expect(() => frames.of(bytesOf('bad'))).toThrow('undecodable');
    expect(frames.of(bytesOf('update 1'))).toBe(first);
    expect(rendered).toEqual(['update 1']);
  });
});
