// HPACK (RFC 7541), the header compression of HTTP/2, for the gateway's
// own HTTP/2 client (http2-connection.ts): a complete decoder (static and
// dynamic table, Huffman-coded strings) and an encoder that indexes the
// request headers repeated on every call and sends the rest as literals.

/** The static table (RFC 7541 Appendix A); index 1 is element 0. */
const STATIC: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/**
 * Huffman code lengths of symbols 0–255 and EOS (256), RFC 7541 Appendix B.
 * The code is canonical (codes assigned in order of length, then symbol),
 * so the lengths alone define it; `HUFFMAN_CODES` is derived from them.
 */
// biome-ignore format: a table
const HUFFMAN_LENGTHS = [
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

/** Each symbol's code, right-aligned in `HUFFMAN_LENGTHS[symbol]` bits. */
export const HUFFMAN_CODES: readonly number[] = (() => {
  const order = HUFFMAN_LENGTHS.map((_, symbol) => symbol).sort(
    (a, b) => (HUFFMAN_LENGTHS[a] as number) - (HUFFMAN_LENGTHS[b] as number) || a - b,
  );
  const codes: number[] = new Array(HUFFMAN_LENGTHS.length).fill(0);
  let code = 0;
  let length = HUFFMAN_LENGTHS[order[0] as number] as number;
  for (const symbol of order) {
    const l = HUFFMAN_LENGTHS[symbol] as number;
    code *= 2 ** (l - length);
    length = l;
    codes[symbol] = code;
    code++;
  }
  return codes;
})();

/**
 * The decoding tree, one node per pair of slots: `TREE[2n + bit]` is the
 * next node, or `-(symbol + 1)` for a leaf.
 */
const TREE: Int32Array = (() => {
  const tree = new Int32Array(2 * 257);
  let nodes = 1;
  for (let symbol = 0; symbol <= EOS; symbol++) {
    const code = HUFFMAN_CODES[symbol] as number;
    let node = 0;
    for (let b = (HUFFMAN_LENGTHS[symbol] as number) - 1; b >= 0; b--) {
      const slot = 2 * node + (Math.floor(code / 2 ** b) % 2);
      if (b === 0) {
        tree[slot] = -(symbol + 1);
      } else {
        if (tree[slot] === 0) tree[slot] = nodes++;
        node = tree[slot] as number;
      }
    }
  }
  return tree;
})();

export class HpackError extends Error {}

const EMPTY_BYTES = Buffer.alloc(0);

/**
 * Huffman decoding a nibble at a time. A state is a node of the tree (the
 * bits read since the last symbol); for each state and nibble the tables
 * give the state reached and the symbol completed on the way, if any (no
 * code is shorter than 5 bits, so at most one). A string may end only in
 * a state reached from the root by at most 7 one-bits (its padding).
 */
const { NIBBLE_NEXT, NIBBLE_SYMBOL, ACCEPTING } = (() => {
  let states = 0;
  for (const slot of TREE) states = Math.max(states, slot + 1);
  const next = new Uint16Array(states * 16);
  const symbol = new Int16Array(states * 16).fill(-1);
  for (let state = 0; state < states; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      for (let b = 3; b >= 0; b--) {
        const child = TREE[2 * node + ((nibble >> b) & 1)] as number;
        if (child < 0) {
          symbol[state * 16 + nibble] = -child - 1;
          node = 0;
        } else {
          node = child;
        }
      }
      next[state * 16 + nibble] = node;
    }
  }
  const accepting = new Uint8Array(states);
  for (let node = 0, ones = 0; ones <= 7; ones++, node = TREE[2 * node + 1] as number) accepting[node] = 1;
  return { NIBBLE_NEXT: next, NIBBLE_SYMBOL: symbol, ACCEPTING: accepting };
})();

/** Decodes a Huffman-coded string (RFC 7541 §5.2): the padding must be < 8 bits of ones; EOS is an error. */
export function huffmanDecode(buf: Uint8Array, start: number, end: number): string {
  let out = '';
  let state = 0;
  for (let i = start; i < end; i++) {
    const byte = buf[i] as number;
    let k = state * 16 + (byte >> 4);
    let symbol = NIBBLE_SYMBOL[k] as number;
    if (symbol >= 0) {
      if (symbol === EOS) throw new HpackError('EOS in a Huffman-coded string');
      out += String.fromCharCode(symbol);
    }
    state = NIBBLE_NEXT[k] as number;
    k = state * 16 + (byte & 15);
    symbol = NIBBLE_SYMBOL[k] as number;
    if (symbol >= 0) {
      if (symbol === EOS) throw new HpackError('EOS in a Huffman-coded string');
      out += String.fromCharCode(symbol);
    }
    state = NIBBLE_NEXT[k] as number;
  }
  if (ACCEPTING[state] !== 1) throw new HpackError('invalid Huffman padding');
  return out;
}

/** An entry's size in a dynamic table (RFC 7541 §4.1). */
const entrySize = (name: string, value: string): number => name.length + value.length + 32;

/**
 * A decoding context: one per connection, fed every header block of it in
 * order. Errors (HpackError) are connection errors (COMPRESSION_ERROR).
 */
export class HpackDecoder {
  /** Newest first. */
  readonly #table: (readonly [string, string])[] = [];
  #size = 0;
  #maxSize: number;
  /** The ceiling a size update may set: the SETTINGS_HEADER_TABLE_SIZE this side announced. */
  readonly #settingsMax: number;
  /** Decoded names and values of one block may not add up to more than this (a block of indexed fields can expand a lot). */
  readonly #maxListBytes: number;
  #p = 0;
  #buf: Buffer = EMPTY_BYTES;
  #end = 0;

  constructor(tableSize = 4096, maxListBytes = 1 << 20) {
    this.#maxSize = tableSize;
    this.#settingsMax = tableSize;
    this.#maxListBytes = maxListBytes;
  }

  /** The header block `buf[start, end)` as `[name, value, name, value, …]`. */
  decode(buf: Buffer, start: number, end: number): string[] {
    this.#buf = buf;
    this.#p = start;
    this.#end = end;
    const out: string[] = [];
    let listBytes = 0;
    let fieldSeen = false;
    while (this.#p < end) {
      const b = buf[this.#p] as number;
      let name: string;
      let value: string;
      if (b & 0x80) {
        [name, value] = this.#entry(this.#int(7));
      } else if (b & 0x40) {
        const index = this.#int(6);
        name = index === 0 ? this.#string() : (this.#entry(index)[0] as string);
        value = this.#string();
        this.#add(name, value);
      } else if (b & 0x20) {
        // A size update belongs at the start of a block (RFC 7541 §4.2).
        if (fieldSeen) throw new HpackError('dynamic table size update after a header field');
        const size = this.#int(5);
        if (size > this.#settingsMax) throw new HpackError('dynamic table size update above the limit');
        this.#maxSize = size;
        this.#evict();
        continue;
      } else {
        // Literal without indexing (0000) or never indexed (0001): the same to a decoder.
        const index = this.#int(4);
        name = index === 0 ? this.#string() : (this.#entry(index)[0] as string);
        value = this.#string();
      }
      fieldSeen = true;
      listBytes += name.length + value.length;
      if (listBytes > this.#maxListBytes) throw new HpackError('header list too large');
      out.push(name, value);
    }
    this.#buf = EMPTY_BYTES;
    return out;
  }

  #entry(index: number): readonly [string, string] {
    const entry = index <= STATIC.length ? STATIC[index - 1] : this.#table[index - STATIC.length - 1];
    if (index === 0 || entry === undefined) throw new HpackError(`invalid header index ${index}`);
    return entry;
  }

  #add(name: string, value: string): void {
    this.#table.unshift([name, value]);
    this.#size += entrySize(name, value);
    this.#evict();
  }

  #evict(): void {
    while (this.#size > this.#maxSize) {
      const [name, value] = this.#table.pop() as readonly [string, string];
      this.#size -= entrySize(name, value);
    }
  }

  /** An integer with an N-bit prefix (RFC 7541 §5.1). */
  #int(prefixBits: number): number {
    const buf = this.#buf;
    const mask = (1 << prefixBits) - 1;
    if (this.#p >= this.#end) throw new HpackError('truncated integer');
    let value = (buf[this.#p++] as number) & mask;
    if (value < mask) return value;
    let shift = 0;
    let byte: number;
    do {
      if (this.#p >= this.#end) throw new HpackError('truncated integer');
      byte = buf[this.#p++] as number;
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (shift > 28) throw new HpackError('integer too large');
    } while (byte & 0x80);
    return value;
  }

  /** A string literal (RFC 7541 §5.2), raw or Huffman-coded. */
  #string(): string {
    if (this.#p >= this.#end) throw new HpackError('truncated string');
    const huffman = ((this.#buf[this.#p] as number) & 0x80) !== 0;
    const length = this.#int(7);
    const start = this.#p;
    const end = start + length;
    if (end > this.#end) throw new HpackError('truncated string');
    this.#p = end;
    return huffman ? huffmanDecode(this.#buf, start, end) : this.#buf.toString('latin1', start, end);
  }
}

/** Static-table index of each name, for literals with an indexed name. */
const STATIC_NAME_INDEX: ReadonlyMap<string, number> = (() => {
  const map = new Map<string, number>();
  STATIC.forEach(([name], i) => {
    if (!map.has(name)) map.set(name, i + 1);
  });
  return map;
})();

/** Fields that are a whole static-table entry, sent as one byte. */
const STATIC_FIELD_INDEX: ReadonlyMap<string, number> = new Map([
  [':method\0POST', 3],
  [':method\0GET', 2],
  [':scheme\0http', 6],
  [':scheme\0https', 7],
]);

/**
 * Headers whose values repeat from call to call on a connection, worth a
 * dynamic-table entry: after the first call they cost the peer one byte
 * each. A client's requests repeat the first five, a server's responses
 * the last two (and content-type). Everything else (the token, the
 * deadline, per-call ids, error messages) is a literal that never enters
 * the table, so it cannot push these out.
 */
const INDEXED_NAMES: ReadonlySet<string> = new Set([
  ':path',
  ':authority',
  'content-type',
  'te',
  'user-agent',
  'grpc-accept-encoding',
  'grpc-status',
]);

/** Thrown for a header HTTP/2 cannot carry; the call fails, the connection is unaffected. */
export class InvalidHeaderError extends TypeError {
  readonly code = 'ERR_HTTP2_INVALID_HEADER';
}

/** A header name: lower case, an HTTP token (or a pseudo-header). */
const LEGAL_NAME = /^:?[!#$%&'*+\-.^_`|~0-9a-z]+$/;
/** A header value may not hold NUL, CR or LF (RFC 9113 §8.2.1); this side sends ASCII only. */
const ILLEGAL_VALUE = /[\0\r\n\u0080-\uffff]/;

/**
 * The encoding context of one connection. The peer's decoder mirrors the
 * dynamic table, so the encoder must see every block it produced, in the
 * order they are sent.
 */
export class HpackEncoder {
  /** Field (`name\0value`) → its insertion number; the newest entry has the highest. */
  readonly #index = new Map<string, number>();
  /** Insertion order of the live entries, oldest first, with their sizes. */
  readonly #entries: { key: string; size: number }[] = [];
  #inserted = 0;
  #size = 0;
  #maxSize = 4096;
  /** A size update owed to the peer at the start of the next block. */
  #pendingSizeUpdate = -1;
  /** The smallest size set since the last block: signalled first if below the final one (RFC 7541 §4.2). */
  #pendingMinSize = -1;
  /** Names already checked (they repeat on every call). */
  readonly #legalNames = new Set<string>();
  /** The block being encoded, and how much of it is written. */
  #out = Buffer.allocUnsafe(1024);
  #used = 0;

  /** The peer's SETTINGS_HEADER_TABLE_SIZE; this side uses at most 4096 of it. */
  setPeerTableSize(size: number): void {
    const max = Math.min(size, 4096);
    if (max === this.#maxSize) return;
    this.#maxSize = max;
    this.#pendingMinSize = this.#pendingSizeUpdate < 0 ? max : Math.min(this.#pendingMinSize, max);
    this.#pendingSizeUpdate = max;
    this.#evict();
  }

  /**
   * Encodes `[name, value, …]` as one header block, into a buffer this
   * encoder reuses: the block is valid until the next `encode` (the
   * connection copies it into its frames at once). Throws
   * InvalidHeaderError, leaving the context untouched.
   */
  encode(headers: readonly string[]): Buffer {
    for (let i = 0; i < headers.length; i += 2) this.#check(headers[i] as string, headers[i + 1] as string);
    this.#used = 0;
    if (this.#pendingSizeUpdate >= 0) {
      if (this.#pendingMinSize < this.#pendingSizeUpdate) this.#int(0x20, 5, this.#pendingMinSize);
      this.#int(0x20, 5, this.#pendingSizeUpdate);
      this.#pendingSizeUpdate = -1;
    }
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i] as string;
      const value = headers[i + 1] as string;
      // Only fields that can be in a table are looked up: a token or a deadline is never hashed.
      const indexable = INDEXED_NAMES.has(name);
      const key = indexable || name === ':method' || name === ':scheme' ? `${name}\0${value}` : '';
      if (!indexable && key !== '') {
        const whole = STATIC_FIELD_INDEX.get(key);
        if (whole !== undefined) {
          this.#int(0x80, 7, whole);
          continue;
        }
      }
      const inserted = indexable ? this.#index.get(key) : undefined;
      if (inserted !== undefined) {
        this.#int(0x80, 7, STATIC.length + 1 + this.#inserted - inserted);
        continue;
      }
      const nameIndex = STATIC_NAME_INDEX.get(name) ?? 0;
      const size = entrySize(name, value);
      // With incremental indexing (01, 6-bit index) or without (0000, 4-bit index).
      const indexing = indexable && size <= this.#maxSize;
      this.#int(indexing ? 0x40 : 0x00, indexing ? 6 : 4, nameIndex);
      if (nameIndex === 0) this.#string(name);
      this.#string(value);
      if (indexing) this.#insert(key, size);
    }
    return this.#out.subarray(0, this.#used);
  }

  /** An integer with an N-bit prefix (RFC 7541 §5.1); at most 6 bytes for any length here. */
  #int(flags: number, prefixBits: number, value: number): void {
    this.#reserve(6);
    this.#used = writeInt(this.#out, this.#used, flags, prefixBits, value);
  }

  /** A string literal, raw (no Huffman): the peer copies it instead of decoding it. Names and values are ASCII (checked). */
  #string(s: string): void {
    this.#int(0, 7, s.length);
    this.#reserve(s.length);
    this.#used += this.#out.write(s, this.#used, 'latin1');
  }

  #reserve(bytes: number): void {
    if (this.#used + bytes <= this.#out.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#out.length * 2, this.#used + bytes));
    this.#out.copy(grown, 0, 0, this.#used);
    this.#out = grown;
  }

  #check(name: string, value: string): void {
    if (!this.#legalNames.has(name)) {
      if (!LEGAL_NAME.test(name)) throw new InvalidHeaderError(`invalid HTTP/2 header name ${JSON.stringify(name)}`);
      if (this.#legalNames.size < 1024) this.#legalNames.add(name);
    }
    if (ILLEGAL_VALUE.test(value))
      throw new InvalidHeaderError(`invalid value for HTTP/2 header ${JSON.stringify(name)}`);
  }

  #insert(key: string, size: number): void {
    this.#inserted++;
    this.#index.set(key, this.#inserted);
    this.#entries.push({ key, size });
    this.#size += size;
    this.#evict();
  }

  #evict(): void {
    while (this.#size > this.#maxSize) {
      const oldest = this.#entries.shift() as { key: string; size: number };
      this.#size -= oldest.size;
      // The same field inserted again later has a newer number: keep that one.
      const number = this.#inserted - this.#entries.length;
      if (this.#index.get(oldest.key) === number) this.#index.delete(oldest.key);
    }
  }
}

function writeInt(out: Buffer, p: number, flags: number, prefixBits: number, value: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out[p++] = flags | value;
    return p;
  }
  out[p++] = flags | max;
  let rest = value - max;
  while (rest >= 128) {
    out[p++] = (rest % 128) | 0x80;
    rest = Math.floor(rest / 128);
  }
  out[p++] = rest;
  return p;
}
