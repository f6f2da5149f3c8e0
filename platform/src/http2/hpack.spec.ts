import { HpackDecoder, HpackEncoder, HpackError, HUFFMAN_CODES, huffmanDecode, InvalidHeaderError } from './hpack.ts';

/** Bytes from a hex dump written the way RFC 7541 prints them ("8286 8441 …"). */
const hex = (dump: string): Buffer => Buffer.from(dump.replace(/\s+/g, ''), 'hex');

const decode = (decoder: HpackDecoder, block: Buffer | readonly number[]): string[] => {
  const buf = Buffer.isBuffer(block) ? block : Buffer.from(block);
  return decoder.decode(buf, 0, buf.length);
};

/** An integer with an N-bit prefix (RFC 7541 §5.1), written independently of the encoder under test. */
function int(flags: number, prefixBits: number, value: number): number[] {
  const max = 2 ** prefixBits - 1;
  if (value < max) return [flags | value];
  const out = [flags | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/** A raw (not Huffman-coded) string literal. */
const str = (s: string): number[] => [...int(0x00, 7, s.length), ...Buffer.from(s, 'latin1')];

/**
 * The decoder's dynamic table, newest first, read through indexed
 * representations (62, 63, …) until one is past the end. Decoding an
 * indexed field never changes the table, so probing is harmless.
 */
function dynamicTable(decoder: HpackDecoder): string[] {
  const out: string[] = [];
  for (let index = 62; index < 127; index++) {
    try {
      out.push(...decode(decoder, [0x80 | index]));
    } catch (e) {
      expect(e).toBeInstanceOf(HpackError);
      return out;
    }
  }
  throw new Error('dynamic table longer than the probe');
}

describe('HPACK decoder: RFC 7541 Appendix C', () => {
  it('C.1.1 and C.1.2: 10 and 1337 on a 5-bit prefix, read as dynamic table size updates', () => {
    // A size update is the one 5-bit-prefix representation; the decoder
    // accepts it only up to the table size it was built with, which pins
    // the decoded value exactly (accepted at N, refused at N - 1).
    expect(decode(new HpackDecoder(10), [0x20 | 0b01010])).toEqual([]);
    expect(() => decode(new HpackDecoder(9), [0x20 | 0b01010])).toThrow(HpackError);
    // C.1.2: 1337 is 1f 9a 0a on a 5-bit prefix; the 0x20 pattern marks a size update.
    expect(decode(new HpackDecoder(1337), hex('3f9a 0a'))).toEqual([]);
    expect(() => decode(new HpackDecoder(1336), hex('3f9a 0a'))).toThrow(HpackError);
  });

  it('C.1.3: 42 as a string length (HPACK has no 8-bit prefix; a string length has 7 bits)', () => {
    const value = 'x'.repeat(42);
    // Literal without indexing, name "user-agent" (static 58, which needs the
    // multi-byte form on a 4-bit prefix: 0f 2b), value of 42 bytes (2a).
    const block = [0x0f, 0x2b, 0x2a, ...Buffer.from(value)];
    expect(decode(new HpackDecoder(), block)).toEqual(['user-agent', value]);
    // A length past 127 needs continuation bytes on the 7-bit prefix.
    const long = 'y'.repeat(1337);
    expect(int(0, 7, 1337)).toEqual([0x7f, 0xba, 0x09]);
    expect(decode(new HpackDecoder(), [0x0f, 0x2b, 0x7f, 0xba, 0x09, ...Buffer.from(long)])).toEqual([
      'user-agent',
      long,
    ]);
  });

  it('C.2.1: literal with indexing adds the field to the dynamic table', () => {
    const decoder = new HpackDecoder();
    const block = hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572');
    expect(decode(decoder, block)).toEqual(['custom-key', 'custom-header']);
    expect(dynamicTable(decoder)).toEqual(['custom-key', 'custom-header']);
  });

  it('C.2.2: literal without indexing leaves the dynamic table empty', () => {
    const decoder = new HpackDecoder();
    expect(decode(decoder, hex('040c 2f73 616d 706c 652f 7061 7468'))).toEqual([':path', '/sample/path']);
    expect(dynamicTable(decoder)).toEqual([]);
  });

  it('C.2.3: literal never indexed leaves the dynamic table empty', () => {
    const decoder = new HpackDecoder();
    expect(decode(decoder, hex('1008 7061 7373 776f 7264 0673 6563 7265 74'))).toEqual(['password', 'secret']);
    expect(dynamicTable(decoder)).toEqual([]);
  });

  it('C.2.4: indexed field from the static table', () => {
    const decoder = new HpackDecoder();
    expect(decode(decoder, hex('82'))).toEqual([':method', 'GET']);
    expect(dynamicTable(decoder)).toEqual([]);
  });

  it('decodes only buf[start, end), not the bytes around it', () => {
    const block = hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d');
    // Garbage on both sides that would be an error if read (index 0).
    const buf = Buffer.concat([Buffer.from([0x80, 0x80, 0x80]), block, Buffer.from([0x80])]);
    expect(new HpackDecoder().decode(buf, 3, 3 + block.length)).toEqual([
      ':method',
      'GET',
      ':scheme',
      'http',
      ':path',
      '/',
      ':authority',
      'www.example.com',
    ]);
  });

  // C.3 and C.4 are the same three requests, raw and Huffman-coded: the
  // decoded lists and the dynamic tables after each are identical.
  const request1 = [':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'www.example.com'];
  const request2 = [...request1, 'cache-control', 'no-cache'];
  const request3 = [
    ':method',
    'GET',
    ':scheme',
    'https',
    ':path',
    '/index.html',
    ':authority',
    'www.example.com',
    'custom-key',
    'custom-value',
  ];
  const table1 = [':authority', 'www.example.com'];
  const table2 = ['cache-control', 'no-cache', ...table1];
  const table3 = ['custom-key', 'custom-value', ...table2];

  it.each([
    [
      'C.3 (no Huffman)',
      [
        '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
        '8286 84be 5808 6e6f 2d63 6163 6865',
        '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
      ],
    ],
    [
      'C.4 (Huffman)',
      [
        '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
        '8286 84be 5886 a8eb 1064 9cbf',
        '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
      ],
    ],
  ])('%s: three requests on one decoder', (_name, blocks) => {
    const decoder = new HpackDecoder();
    const [b1, b2, b3] = blocks.map(hex) as [Buffer, Buffer, Buffer];
    expect(decode(decoder, b1)).toEqual(request1);
    expect(dynamicTable(decoder)).toEqual(table1);
    // The second request refers to the first one's :authority by index 62 (be).
    expect(decode(decoder, b2)).toEqual(request2);
    expect(dynamicTable(decoder)).toEqual(table2);
    // The third one's :authority is index 63 (bf): cache-control pushed it back.
    expect(decode(decoder, b3)).toEqual(request3);
    expect(dynamicTable(decoder)).toEqual(table3);
  });

  // C.5 and C.6: three responses with a 256-byte table, so that entries are evicted.
  const date1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
  const date2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
  const location = 'https://www.example.com';
  const cookie = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
  const response1 = [':status', '302', 'cache-control', 'private', 'date', date1, 'location', location];
  const response2 = [':status', '307', 'cache-control', 'private', 'date', date1, 'location', location];
  const response3 = [
    ':status',
    '200',
    'cache-control',
    'private',
    'date',
    date2,
    'location',
    location,
    'content-encoding',
    'gzip',
    'set-cookie',
    cookie,
  ];
  const c5 = [
    `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
     2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
     6c65 2e63 6f6d`,
    '4803 3330 37c1 c0bf',
    `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
     54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
     5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
     3d31`,
  ];
  const c6 = [
    `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
     2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
    '4883 640e ffc1 c0bf',
    `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
     77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
     9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
  ];

  describe.each([
    ['C.5 (no Huffman)', c5],
    ['C.6 (Huffman)', c6],
  ])('%s: three responses with a 256-byte table', (_name, blocks) => {
    const run = (): HpackDecoder => {
      const decoder = new HpackDecoder(256);
      const [b1, b2, b3] = blocks.map(hex) as [Buffer, Buffer, Buffer];
      expect(decode(decoder, b1)).toEqual(response1);
      // 42 + 52 + 65 + 63 = 222 bytes: everything fits.
      expect(dynamicTable(decoder)).toEqual([
        'location',
        location,
        'date',
        date1,
        'cache-control',
        'private',
        ':status',
        '302',
      ]);
      // Adding ":status: 307" (42) would make 264: the oldest, ":status: 302", goes.
      expect(decode(decoder, b2)).toEqual(response2);
      expect(dynamicTable(decoder)).toEqual([
        ':status',
        '307',
        'location',
        location,
        'date',
        date1,
        'cache-control',
        'private',
      ]);
      // Each literal with indexing evicts from the old end; set-cookie (98) alone evicts two.
      expect(decode(decoder, b3)).toEqual(response3);
      expect(dynamicTable(decoder)).toEqual(['set-cookie', cookie, 'content-encoding', 'gzip', 'date', date2]);
      return decoder;
    };

    it('decodes each response and evicts the oldest entries', () => {
      run();
    });

    it('counts the table at 215 bytes afterwards: a 41-byte entry still fits in 256, a 42-byte one evicts', () => {
      // 'x' + 8 bytes + 32 = 41: 215 + 41 = 256, the limit, nothing goes.
      const fits = run();
      expect(decode(fits, [0x40, ...str('x'), ...str('12345678')])).toEqual(['x', '12345678']);
      expect(dynamicTable(fits)).toEqual([
        'x',
        '12345678',
        'set-cookie',
        cookie,
        'content-encoding',
        'gzip',
        'date',
        date2,
      ]);
      // One byte more is 257: the date goes.
      const evicts = run();
      expect(decode(evicts, [0x40, ...str('x'), ...str('123456789')])).toEqual(['x', '123456789']);
      expect(dynamicTable(evicts)).toEqual(['x', '123456789', 'set-cookie', cookie, 'content-encoding', 'gzip']);
    });
  });
});

/** Huffman code lengths of symbols 0–255 and EOS (256), transcribed from the table in RFC 7541 Appendix B. */
// biome-ignore format: a table
const RFC_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];
const EOS = 256;

/** A symbol's code as a string of '0'/'1'. */
const codeBits = (symbol: number): string =>
  (HUFFMAN_CODES[symbol] as number).toString(2).padStart(RFC_LENGTHS[symbol] as number, '0');

/** Bits packed into bytes, the last one padded with ones (the start of EOS), as RFC 7541 §5.2 asks. */
function packBits(bits: string, pad = '1'): Buffer {
  const padded = bits + pad.repeat((8 - (bits.length % 8)) % 8);
  const out = Buffer.alloc(padded.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(padded.slice(8 * i, 8 * i + 8), 2);
  return out;
}

/** A minimal Huffman encoder built on HUFFMAN_CODES, to check the decoder against. */
const huffmanEncode = (s: string): Buffer => packBits(Array.from(s, (c) => codeBits(c.charCodeAt(0))).join(''));

const huffman = (buf: Buffer): string => huffmanDecode(buf, 0, buf.length);

describe('Huffman code (RFC 7541 Appendix B)', () => {
  it('agrees with codes listed in the RFC', () => {
    // [symbol, code, length] straight from the RFC's table, across the range of lengths.
    const listed: [number, number, number][] = [
      [48, 0x0, 5], // '0'
      [97, 0x3, 5], // 'a'
      [32, 0x14, 6], // ' '
      [58, 0x5c, 7], // ':'
      [88, 0xfc, 8], // 'X'
      [0, 0x1ff8, 13],
      [92, 0x7fff0, 19], // '\'
      [128, 0xfffe6, 20],
      [153, 0x1fffdc, 21],
      [199, 0x1ffffec, 25],
      [255, 0x3ffffee, 26],
      [203, 0x7ffffde, 27],
      [127, 0xffffffc, 28],
      [249, 0xffffffe, 28],
      [10, 0x3ffffffc, 30],
      [13, 0x3ffffffd, 30],
      [22, 0x3ffffffe, 30],
      [EOS, 0x3fffffff, 30],
    ];
    for (const [symbol, code, length] of listed) {
      expect([symbol, HUFFMAN_CODES[symbol]]).toEqual([symbol, code]);
      expect([symbol, RFC_LENGTHS[symbol]]).toEqual([symbol, length]);
    }
  });

  it("is the canonical code of the RFC's lengths: complete, prefix-free, codes in (length, symbol) order", () => {
    expect(HUFFMAN_CODES).toHaveLength(257);
    // Left-aligned on 30 bits, the codes sorted by (length, symbol) must
    // tile [0, 2^30) exactly: each starts where the previous one's range
    // ends. That is only true of a complete prefix code, and with the
    // order fixed it determines every code from the lengths.
    const order = RFC_LENGTHS.map((_, s) => s).sort(
      (a, b) => (RFC_LENGTHS[a] as number) - (RFC_LENGTHS[b] as number) || a - b,
    );
    let next = 0;
    for (const symbol of order) {
      const length = RFC_LENGTHS[symbol] as number;
      const code = HUFFMAN_CODES[symbol] as number;
      expect(code).toBeLessThan(2 ** length);
      expect([symbol, code * 2 ** (30 - length)]).toEqual([symbol, next]);
      next += 2 ** (30 - length);
    }
    expect(next).toBe(2 ** 30);
  });

  it("the test's encoder reproduces the RFC's Huffman strings (C.4.1, C.4.3, C.6.1)", () => {
    expect(huffmanEncode('www.example.com')).toEqual(hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff'));
    expect(huffmanEncode('custom-key')).toEqual(hex('25a8 49e9 5ba9 7d7f'));
    expect(huffmanEncode('custom-value')).toEqual(hex('25a8 49e9 5bb8 e8b4 bf'));
    expect(huffmanEncode('https://www.example.com')).toEqual(hex('9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3'));
  });

  it('round-trips every byte value 0..255 in one string', () => {
    const all = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
    expect(huffman(huffmanEncode(all))).toBe(all);
    // Backwards too, so that each symbol follows a different one and ends at a different bit offset.
    const reversed = [...all].reverse().join('');
    expect(huffman(huffmanEncode(reversed))).toBe(reversed);
  });

  it('round-trips each byte value alone (every padding length) and the empty string', () => {
    for (let c = 0; c < 256; c++) {
      const s = String.fromCharCode(c);
      expect([c, huffman(huffmanEncode(s))]).toEqual([c, s]);
    }
    expect(huffmanDecode(Buffer.alloc(0), 0, 0)).toBe('');
  });

  it('decodes only buf[start, end)', () => {
    const encoded = huffmanEncode('custom-value');
    // EOS bytes around it would be an error if read.
    const buf = Buffer.concat([hex('ffff ffff'), encoded, hex('ffff ffff')]);
    expect(huffmanDecode(buf, 4, 4 + encoded.length)).toBe('custom-value');
  });

  it('rejects EOS inside a string', () => {
    expect(() => huffman(hex('ffff ffff'))).toThrow(HpackError);
    expect(() => huffman(packBits(codeBits(97) + codeBits(EOS)))).toThrow(HpackError);
    expect(() => huffman(packBits(codeBits(EOS) + codeBits(97)))).toThrow(HpackError);
  });

  it('rejects padding longer than 7 bits', () => {
    // 'a' (5 bits) then 11 one bits.
    expect(() => huffman(hex('1fff'))).toThrow(HpackError);
    // '&' is 8 bits: a whole byte of ones after it is padding too long.
    expect(huffman(hex('f8'))).toBe('&');
    expect(() => huffman(hex('f8ff'))).toThrow(HpackError);
  });

  it('rejects padding that is not all ones', () => {
    // '0' is 00000; 111 is valid padding, 000 and 110 are not.
    expect(huffman(hex('07'))).toBe('0');
    expect(() => huffman(hex('00'))).toThrow(HpackError);
    expect(() => huffman(hex('06'))).toThrow(HpackError);
    expect(() => huffman(packBits(codeBits(97), '0'))).toThrow(HpackError);
  });
});

describe('HPACK decoder errors', () => {
  it('rejects index 0', () => {
    expect(() => decode(new HpackDecoder(), [0x80])).toThrow(HpackError);
  });

  it('rejects an index past the end of the table', () => {
    const decoder = new HpackDecoder();
    expect(decode(decoder, [0x80 | 61])).toEqual(['www-authenticate', '']);
    expect(() => decode(decoder, [0x80 | 62])).toThrow(HpackError);
    // With one dynamic entry, 62 exists and 63 does not.
    decode(decoder, [0x40, ...str('k'), ...str('v')]);
    expect(decode(decoder, [0x80 | 62])).toEqual(['k', 'v']);
    expect(() => decode(decoder, [0x80 | 63])).toThrow(HpackError);
    // The same through a literal's name index, on 6- and 4-bit prefixes.
    expect(() => decode(decoder, [0x40 | 63, ...str('v')])).toThrow(HpackError);
    expect(() => decode(decoder, [...int(0x00, 4, 63), ...str('v')])).toThrow(HpackError);
  });

  it('rejects an integer that runs past the block or is too large', () => {
    for (const block of [[0xff], [0xff, 0x80], [0xff, 0xff, 0xff], [0x3f], [0x7f], [0x0f]]) {
      expect(() => decode(new HpackDecoder(), block)).toThrow(HpackError);
    }
    expect(() => decode(new HpackDecoder(), [0xff, 0xff, 0xff, 0xff, 0xff, 0x0f])).toThrow(HpackError);
  });

  it('limits an integer to four continuation bytes, whatever its value (RFC 7541 §5.1 allows a length limit)', () => {
    // 31 written with needless zero continuation bytes: four are read, a fifth is refused.
    expect(decode(new HpackDecoder(), [0x3f, 0x80, 0x80, 0x80, 0x00, 0x82])).toEqual([':method', 'GET']);
    expect(() => decode(new HpackDecoder(), [0x3f, 0x80, 0x80, 0x80, 0x80, 0x00, 0x82])).toThrow(HpackError);
  });

  it('rejects a string that runs past the block', () => {
    const blocks = [
      [0x40], // no name length
      [0x40, 0x05, 0x61, 0x62], // a 5-byte name with 2 bytes
      [0x40, ...str('name')], // no value
      [0x04], // indexed name (:path), no value
      [0x04, 0x03, 0x2f, 0x61], // a 3-byte value with 2 bytes
      [0x04, 0x83, 0x64], // a 3-byte Huffman value with 1 byte
      [0x04, 0x7f, 0x80], // the length itself is cut short
    ];
    for (const block of blocks) expect(() => decode(new HpackDecoder(), block)).toThrow(HpackError);
    // The same field complete decodes.
    expect(decode(new HpackDecoder(), [0x04, 0x03, 0x2f, 0x61, 0x62])).toEqual([':path', '/ab']);
  });

  it('rejects a Huffman string with bad padding inside a block', () => {
    expect(() => decode(new HpackDecoder(), [0x04, 0x81, 0x00])).toThrow(HpackError);
  });

  it('rejects a dynamic table size update larger than the table size it was given', () => {
    expect(int(0x20, 5, 4096)).toEqual([0x3f, 0xe1, 0x1f]);
    expect(decode(new HpackDecoder(4096), int(0x20, 5, 4096))).toEqual([]);
    expect(() => decode(new HpackDecoder(4096), int(0x20, 5, 4097))).toThrow(HpackError);
    expect(() => decode(new HpackDecoder(256), int(0x20, 5, 4096))).toThrow(HpackError);
    // Lowered, the table can be raised again up to the original ceiling, not past it.
    const decoder = new HpackDecoder(256);
    decode(decoder, int(0x20, 5, 100));
    expect(decode(decoder, int(0x20, 5, 256))).toEqual([]);
    expect(() => decode(decoder, int(0x20, 5, 257))).toThrow(HpackError);
  });

  it('applies a size update: lowering it evicts, 0 empties the table', () => {
    const decoder = new HpackDecoder();
    decode(decoder, [0x40, ...str('a'), ...str('1'), 0x40, ...str('b'), ...str('2')]);
    expect(dynamicTable(decoder)).toEqual(['b', '2', 'a', '1']);
    decode(decoder, int(0x20, 5, 34)); // room for one 34-byte entry
    expect(dynamicTable(decoder)).toEqual(['b', '2']);
    decode(decoder, [0x20]);
    expect(dynamicTable(decoder)).toEqual([]);
  });

  it('rejects a size update after a header field, accepts two at the start of a block', () => {
    expect(() => decode(new HpackDecoder(), [0x82, 0x20])).toThrow(HpackError);
    expect(() => decode(new HpackDecoder(), [0x20, 0x82, 0x20])).toThrow(HpackError);
    expect(decode(new HpackDecoder(), [0x20, ...int(0x20, 5, 4096), 0x82])).toEqual([':method', 'GET']);
  });

  it('rejects a block whose header list expands past maxListBytes', () => {
    // ":method" + "GET" is 10 bytes: 10 of them are exactly the limit of 100.
    expect(decode(new HpackDecoder(4096, 100), new Array(10).fill(0x82))).toHaveLength(20);
    expect(() => decode(new HpackDecoder(4096, 100), new Array(11).fill(0x82))).toThrow(HpackError);
    // 90 bytes, then a field of 10 (at the limit) or 11 (one past it).
    const nine = new Array(9).fill(0x82);
    expect(decode(new HpackDecoder(4096, 100), [...nine, 0x00, ...str('x'), ...str('123456789')])).toHaveLength(20);
    expect(() => decode(new HpackDecoder(4096, 100), [...nine, 0x00, ...str('x'), ...str('1234567890')])).toThrow(
      HpackError,
    );
    // One byte per field can refer to a 4000-byte entry: 300 of them are over
    // the default 1 MiB though the block is about 4 KB.
    const value = 'v'.repeat(3995);
    const entry = [0x40, ...str('x-big'), ...str(value)];
    expect(decode(new HpackDecoder(), [...entry, ...new Array(200).fill(0xbe)])).toHaveLength(2 * 201);
    expect(() => decode(new HpackDecoder(), [...entry, ...new Array(300).fill(0xbe)])).toThrow(HpackError);
  });
});

/** The headers of a gRPC call as the gateway sends them. */
const call = (path: string, extra: string[] = []): string[] => [
  ':method',
  'POST',
  ':scheme',
  'http',
  ':path',
  path,
  ':authority',
  'localhost:50051',
  'content-type',
  'application/grpc',
  'te',
  'trailers',
  'user-agent',
  'grpc-node-gateway/1.0',
  ...extra,
];

/** Encodes a block, checks that the peer's decoder reads back the same list, returns the block. */
function roundTrip(encoder: HpackEncoder, decoder: HpackDecoder, headers: string[]): Buffer {
  const block = encoder.encode(headers);
  expect(decode(decoder, block)).toEqual(headers);
  return block;
}

describe('HPACK encoder', () => {
  it('produces blocks the decoder reads back, over many blocks on one pair', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    const paths = ['/chat.v1.Chat/Send', '/chat.v1.Chat/List', '/users.v1.Users/Get'];
    for (let i = 0; i < 30; i++) {
      const headers = call(paths[i % 3] as string, [
        'grpc-timeout', // changes every block
        `${1000 - i}m`,
        'authorization', // changes every block
        `Bearer token-${i}`,
        'x-request-id', // an unknown name, changes every block
        `req-${i}`,
        'grpc-accept-encoding', // an unknown name, the same every block
        'identity,gzip',
      ]);
      if (i % 5 === 0) headers.push(':path', paths[i % 3] as string); // the same field twice in a block
      if (i % 7 === 0) headers.push('content-type', `application/grpc+proto${i}`); // a new value of an indexed name
      roundTrip(encoder, decoder, headers);
    }
    // The whole-static-entry fields and empty values.
    roundTrip(encoder, decoder, [':method', 'GET', ':scheme', 'https', ':path', '/', 'x-empty', '', 'te', '']);
  });

  it('sends the repeated headers of a call as one byte each in the next block', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    const first = roundTrip(encoder, decoder, call('/chat.v1.Chat/Send'));
    const second = roundTrip(encoder, decoder, call('/chat.v1.Chat/Send'));
    // :method POST and :scheme http are static entries; the other five are in the dynamic table.
    expect(first.length).toBeGreaterThan(70);
    expect(second).toHaveLength(7);
    for (const byte of second) expect(byte & 0x80).toBe(0x80);
    // A different path costs a literal for the path only.
    const third = roundTrip(encoder, decoder, call('/chat.v1.Chat/List'));
    expect(third.length).toBeLessThan(7 + 2 + '/chat.v1.Chat/List'.length);
  });

  it('never adds authorization or grpc-timeout to the dynamic table', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    // A long path (2038 bytes in the table) that a few per-call entries would push out.
    const path = `/svc.v1.Service/${'m'.repeat(1985)}`;
    let steady = 0;
    for (let i = 0; i < 200; i++) {
      const token = `Bearer ${String(i).padStart(40, '0')}`;
      const block = roundTrip(encoder, decoder, call(path, ['grpc-timeout', `${100 + i}m`, 'authorization', token]));
      // The token is sent in full every time; the path only the first time.
      expect(block.includes(Buffer.from(token))).toBe(true);
      expect(block.includes(Buffer.from(path))).toBe(i === 0);
      if (i === 1) steady = block.length;
      if (i > 0) expect(block.length).toBe(steady);
    }
    expect(steady).toBeLessThan(100);
    // The peer's table holds exactly the five indexed headers.
    expect(dynamicTable(decoder)).toEqual([
      'user-agent',
      'grpc-node-gateway/1.0',
      'te',
      'trailers',
      'content-type',
      'application/grpc',
      ':authority',
      'localhost:50051',
      ':path',
      path,
    ]);
  });

  it('keeps its table in step with the decoder while long paths evict each other (4096-byte table)', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder(4096);
    const paths: string[] = [];
    for (let i = 0; i < 400; i++) {
      let path: string;
      if (i % 4 === 3) {
        // A recent path again: still in the table, or evicted since.
        path = paths[i - 1 - (i % 3)] as string;
      } else {
        path = `/p${i}/${'x'.repeat(100 + ((i * 389) % 1400))}`;
      }
      paths.push(path);
      roundTrip(encoder, decoder, call(path, ['authorization', `Bearer ${i}`]));
    }
    // An entry of exactly 4096 bytes fills the table alone; one of 4097 is never indexed.
    const exact = `/${'e'.repeat(4096 - 32 - ':path'.length - 1)}`;
    roundTrip(encoder, decoder, [':path', exact]);
    expect(dynamicTable(decoder)).toEqual([':path', exact]);
    const tooBig = `/${'b'.repeat(4096 - 32 - ':path'.length)}`;
    roundTrip(encoder, decoder, [':path', tooBig]);
    expect(dynamicTable(decoder)).toEqual([':path', exact]);
    expect(roundTrip(encoder, decoder, [':path', exact])).toHaveLength(1);
    for (let i = 0; i < 20; i++) roundTrip(encoder, decoder, call(paths[(i * 37) % paths.length] as string));
  });

  it('after setPeerTableSize(0) and setPeerTableSize(100) signals 0 and then 100 before the next block', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder(4096);
    roundTrip(encoder, decoder, call('/a'));
    roundTrip(encoder, decoder, call('/a'));
    encoder.setPeerTableSize(0);
    encoder.setPeerTableSize(100);
    const block = roundTrip(encoder, decoder, call('/a'));
    // RFC 7541 §4.2: when the size changes more than once between two
    // blocks, the smallest value is signalled first, then the final one.
    expect([...block.subarray(0, 3)]).toEqual([0x20, ...int(0x20, 5, 100)]);
    // The table was emptied, so the block stands alone: a fresh decoder reads it too.
    expect(decode(new HpackDecoder(4096), block)).toEqual(call('/a'));
    // Blocks after it carry no size update and keep round-tripping in a 100-byte table.
    for (let i = 0; i < 10; i++) {
      const next = roundTrip(encoder, decoder, call(`/a${i % 3}`, ['authorization', `t${i}`]));
      expect((next[0] as number) & 0xe0).not.toBe(0x20);
    }
    expect(dynamicTable(decoder).length).toBeLessThanOrEqual(4);
  });

  it('signals one size update when the size only went down, two when it went down and up again', () => {
    const cases: [number[], number[]][] = [
      [[100, 50], [50]],
      [
        [200, 300],
        [200, 300],
      ],
      [
        [0, 4096],
        [0, 4096],
      ],
      [
        [300, 100, 200],
        [100, 200],
      ],
    ];
    for (const [sizes, signalled] of cases) {
      const encoder = new HpackEncoder();
      const decoder = new HpackDecoder(4096);
      roundTrip(encoder, decoder, call('/a'));
      for (const size of sizes) encoder.setPeerTableSize(size);
      const block = roundTrip(encoder, decoder, call('/a'));
      const updates = signalled.flatMap((size) => int(0x20, 5, size));
      expect([sizes, [...block.subarray(0, updates.length)]]).toEqual([sizes, updates]);
      // What follows the updates is a header field, not a third update.
      expect([sizes, (block[updates.length] as number) & 0xe0]).not.toEqual([sizes, 0x20]);
      roundTrip(encoder, decoder, call('/a'));
    }
  });

  it('after setPeerTableSize(0) indexes nothing, and after raising it indexes again', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder(4096);
    roundTrip(encoder, decoder, call('/a'));
    encoder.setPeerTableSize(0);
    const first = roundTrip(encoder, decoder, call('/a'));
    expect(first[0]).toBe(0x20);
    // A decoder whose table is 0 reads it: nothing refers to a dynamic entry.
    expect(decode(new HpackDecoder(0), first)).toEqual(call('/a'));
    const second = roundTrip(encoder, decoder, call('/a'));
    expect(second).toHaveLength(first.length - 1);
    expect(decode(new HpackDecoder(0), [0x20, ...second])).toEqual(call('/a'));
    encoder.setPeerTableSize(1_000_000); // the encoder uses at most 4096 of it
    const raised = roundTrip(encoder, decoder, call('/a'));
    expect([...raised.subarray(0, 4)]).toEqual([...int(0x20, 5, 4096), 0x83]);
    expect(roundTrip(encoder, decoder, call('/a'))).toHaveLength(7);
    // At 4096 already: no size update.
    encoder.setPeerTableSize(65_536);
    expect(roundTrip(encoder, decoder, call('/a'))).toHaveLength(7);
  });

  it('throws InvalidHeaderError for an illegal header and stays usable', () => {
    const bad: [string, string][] = [
      ['Content-Type', 'application/grpc'],
      ['x-Upper', '1'],
      [':Path', '/a'],
      ['', 'empty name'],
      ['x bad', 'space in the name'],
      ['x\0bad', 'NUL in the name'],
      ['x-bad', 'a\r\nb'],
      ['x-bad', 'a\nb'],
      ['x-bad', 'a\rb'],
      ['x-bad', 'a\0b'],
      [':path', '/a\r\nx-injected: 1'],
      ['x-bad', 'caf\u00e9'], // not ASCII
    ];
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    roundTrip(encoder, decoder, call('/warm'));
    bad.forEach(([name, value], i) => {
      // A new path before the bad header: had the encoder indexed it before
      // throwing, its table would be one entry ahead of the peer's.
      const headers = call(`/new/${i}`, [name, value]);
      let error: unknown;
      try {
        encoder.encode(headers);
      } catch (e) {
        error = e;
      }
      expect([name, value, error]).toEqual([name, value, expect.any(InvalidHeaderError)]);
      expect((error as InvalidHeaderError).code).toBe('ERR_HTTP2_INVALID_HEADER');
      roundTrip(encoder, decoder, call(`/new/${i}`));
      expect(roundTrip(encoder, decoder, call(`/new/${i}`))).toHaveLength(7);
    });
  });
});
