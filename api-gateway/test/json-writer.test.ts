// Conformance of the gateway's response writer (src/marshal/json-writer.ts)
// with the library it replaces on the hot path: for the same bytes, its text
// is exactly `JSON.stringify(toJson(desc, fromBinary(desc, bytes),
// {alwaysEmitImplicit: true, registry}))`, or it gives up (undefined) and
// the library renders. Where the library refuses (throws), it gives up.
// Messages: json_mapping.proto (every scalar, optional, repeated packed and
// not, enums, oneofs, maps of every key type, recursion, every well-known
// type), written by hand and at random — canonical encodings (never given
// up on), odd but valid ones (out of order, repeated, unpacked, unknown
// fields, missing map keys) and corrupted ones.
import {
  create,
  type DescField,
  type DescMessage,
  fromBinary,
  type Registry,
  ScalarType,
  toBinary,
  toJson,
} from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { compileJsonWriter } from '../src/marshal/json-writer.ts';
import { createResponseMarshaller } from '../src/marshal/response.ts';
import { testCatalog } from './fixture.ts';

const PKG = 'messenger.gatewaytest.v1';
let registry: Registry;
let kinds: DescMessage;
let scalars: DescMessage;

beforeAll(async () => {
  registry = (await testCatalog()).registry;
  kinds = message(`${PKG}.Kinds`);
  scalars = message(`${PKG}.Scalars`);
});

function message(name: string): DescMessage {
  const desc = registry.getMessage(name);
  if (!desc) throw new Error(`${name} is not in the test contracts`);
  return desc;
}

/** The library's text, or the error it throws. */
function library(desc: DescMessage, bytes: Uint8Array): string | Error {
  try {
    return JSON.stringify(toJson(desc, fromBinary(desc, bytes), { alwaysEmitImplicit: true, registry }));
  } catch (error) {
    return error as Error;
  }
}

/** Same text as the library, or given up; given up whenever the library refuses. */
function expectConforms(desc: DescMessage, bytes: Uint8Array): string | undefined {
  const expected = library(desc, bytes);
  const written = compileJsonWriter(desc, registry)(bytes);
  if (expected instanceof Error) expect(written).toBeUndefined();
  else if (written !== undefined) expect(written).toBe(expected);
  return written;
}

function expectSame(desc: DescMessage, bytes: Uint8Array): string {
  const expected = library(desc, bytes);
  if (expected instanceof Error) throw expected;
  expect(compileJsonWriter(desc, registry)(bytes)).toBe(expected);
  return expected;
}

describe('hand-written messages: the same text as the library', () => {
  const init = (name: string, value: Record<string, unknown>) => (): [DescMessage, Uint8Array] => {
    const desc = message(name);
    return [desc, toBinary(desc, create(desc, value))];
  };

  it.each([
    ['empty: every implicit field at its default, lists and maps empty', init(`${PKG}.Scalars`, {})],
    [
      'every scalar at an extreme',
      init(`${PKG}.Scalars`, {
        fDouble: -1.7976931348623157e308,
        fFloat: 3.4028234663852886e38,
        fInt32: -2147483648,
        fInt64: -9223372036854775808n,
        fUint32: 4294967295,
        fUint64: 18446744073709551615n,
        fSint32: -2147483648,
        fSint64: -9223372036854775808n,
        fFixed32: 4294967295,
        fFixed64: 18446744073709551615n,
        fSfixed32: -2147483648,
        fSfixed64: -9223372036854775808n,
        fBool: true,
        fString: 'quote " backslash \\ tab \t nul \u0000 del \u007f line sep \u2028 emoji 😀 bom \ufeff',
        fBytes: new Uint8Array([0, 255, 62, 63, 64]),
        fEnum: 2,
      }),
    ],
    [
      'special floats, negative zero, unknown enum values',
      init(`${PKG}.Scalars`, {
        fDouble: Number.NaN,
        fFloat: Number.NEGATIVE_INFINITY,
        rDouble: [0, -0, Number.POSITIVE_INFINITY, 5e-324, 0.1],
        rFloat: [Math.fround(0.1), 1e-45, Number.NaN],
        fEnum: 99,
        rEnum: [0, 1, -5, 1000],
        uEnum: [2, 7],
      }),
    ],
    [
      'optional fields set to their zero values are emitted, unset ones are not',
      init(`${PKG}.Scalars`, { oDouble: 0, oInt64: 0n, oBool: false, oString: '', oBytes: new Uint8Array(0) }),
    ],
    [
      'repeated scalars, packed and not',
      init(`${PKG}.Scalars`, {
        rInt32: [1, -1, 0],
        rInt64: [9007199254740993n, -1n],
        rUint64: [18446744073709551615n],
        rSint32: [-3, 3],
        rSint64: [-9007199254740993n],
        rFixed32: [1],
        rFixed64: [2n],
        rSfixed32: [-2],
        rSfixed64: [-3n],
        rBool: [true, false],
        rString: ['a', '', 'ü'],
        rBytes: [new Uint8Array([1]), new Uint8Array(0)],
        uInt32: [5, -6],
        uDouble: [1.5],
      }),
    ],
    [
      'oneof members, maps of every key type, recursion',
      init(`${PKG}.Kinds`, {
        choice: { case: 'choiceScalars', value: { fInt32: 3 } },
        byString: { b: '1', '10': 'ten', '2': 'two', a: 'x', __proto__: 'proto', '': 'empty', '-1': 'neg' },
        byInt32: { '-5': 1n, '7': 9007199254740993n },
        byInt64: { '-9223372036854775808': 1, '5': 99 },
        byUint32: { '4294967295': new Uint8Array([1, 2]) },
        byUint64: { '18446744073709551615': Number.NaN },
        bySint32: { '-1': true },
        bySint64: { '-2': 1.5 },
        byFixed32: { '3': { fString: 'in a map' } },
        byFixed64: { '4': { seconds: 1n, nanos: 5 } },
        bySfixed32: { '-6': { kind: { case: 'stringValue', value: 'v' } } },
        bySfixed64: { '-7': 's' },
        byBool: { true: 't', false: 'f' },
        kindsByName: { k: { late: 'nested', child: { late: 'deeper' } } },
        child: { child: { child: { children: [{}, { late: 'x' }] } } },
        late: 'declared last, numbered 9',
      }),
    ],
    ['a oneof string member', init(`${PKG}.Kinds`, { choice: { case: 'choiceText', value: '' } })],
    ['a oneof enum member', init(`${PKG}.Kinds`, { choice: { case: 'choiceLevel', value: 0 } })],
    [
      'a oneof well-known member',
      init(`${PKG}.Kinds`, { choice: { case: 'choiceTime', value: { seconds: -62135596800n } } }),
    ],
    [
      'timestamps, durations, field masks',
      init(`${PKG}.Kinds`, {
        time: { seconds: 253402300799n, nanos: 999999999 },
        duration: { seconds: -5n, nanos: -500000000 },
        mask: { paths: ['user.display_name', 'about', 'a_b_c'] },
        times: [
          { seconds: 0n },
          { seconds: -1n, nanos: 1000000 },
          { seconds: 951782400n, nanos: 1000 },
          { seconds: 1700000000n, nanos: 123456789 },
        ],
      }),
    ],
    ['a negative duration under one second', init(`${PKG}.Kinds`, { duration: { seconds: 0n, nanos: -1 } })],
    [
      'struct, value, list value, null',
      init(`${PKG}.Kinds`, {
        struct: {
          fields: {
            b: { kind: { case: 'numberValue', value: 1.5 } },
            '1': { kind: { case: 'boolValue', value: true } },
            n: { kind: { case: 'nullValue', value: 0 } },
            l: {
              kind: {
                case: 'listValue',
                value: { values: [{ kind: { case: 'stringValue', value: 'x' } }] },
              },
            },
            s: { kind: { case: 'structValue', value: { fields: {} } } },
          },
        },
        value: {
          kind: { case: 'structValue', value: { fields: { k: { kind: { case: 'stringValue', value: '"' } } } } },
        },
        list: { values: [{ kind: { case: 'numberValue', value: -0 } }, { kind: { case: 'listValue', value: {} } }] },
        values: [{ kind: { case: 'nullValue', value: 0 } }],
        null: 0,
      }),
    ],
    [
      'wrappers: scalars in JSON, zero when the wrapper is empty',
      init(`${PKG}.Kinds`, {
        wDouble: Number.NaN,
        wFloat: 0,
        wInt64: -1n,
        wUint64: 18446744073709551615n,
        wInt32: 0,
        wUint32: 4294967295,
        wBool: true,
        wString: 'w',
        wBytes: new Uint8Array([251]),
        wInt64s: [{ value: 1n }, {}],
      }),
    ],
    ['an empty message', init(`${PKG}.Kinds`, { empty: {} })],
  ])('%s', (_name, make) => {
    expectSame(...make());
  });

  it('renders an empty wrapper as its zero value', () => {
    const w = new BinaryWriter();
    for (const no of [40, 41, 42, 43, 44, 45, 46, 47, 48, 52])
      w.tag(no, WireType.LengthDelimited).bytes(new Uint8Array(0));
    expect(JSON.parse(expectSame(kinds, w.finish()))).toMatchObject({
      wInt64: '0',
      wBool: false,
      wBytes: '',
      wInt64s: ['0'],
    });
  });

  it('renders int64 as strings, enums by name, bytes as base64 and implicit defaults', () => {
    const text = expectSame(
      scalars,
      toBinary(scalars, create(scalars, { fInt64: 5n, fEnum: 1, fBytes: new Uint8Array([1, 2, 3]) })),
    );
    const json = JSON.parse(text);
    expect(json).toMatchObject({
      fInt64: '5',
      fUint64: '0',
      fEnum: 'LEVEL_LOW',
      fBytes: 'AQID',
      fString: '',
      fDouble: 0,
      fBool: false,
      rInt32: [],
    });
    expect(json).not.toHaveProperty('oEnum');
  });

  it('renders Any of a message, of a well-known type, of an empty message, and an empty Any', () => {
    const timestamp = message('google.protobuf.Timestamp');
    const empty = message('google.protobuf.Empty');
    const cases = [
      { typeUrl: `type.googleapis.com/${PKG}.Scalars`, value: toBinary(scalars, create(scalars, { fInt64: 1n })) },
      { typeUrl: `type.googleapis.com/${PKG}.Kinds`, value: new Uint8Array(0) },
      {
        typeUrl: 'type.googleapis.com/google.protobuf.Timestamp',
        value: toBinary(timestamp, create(timestamp, { seconds: 1n })),
      },
      { typeUrl: 'type.googleapis.com/google.protobuf.Empty', value: toBinary(empty, create(empty)) },
      { typeUrl: '', value: new Uint8Array([8, 1]) },
    ];
    for (const any of cases) {
      const bytes = toBinary(kinds, create(kinds, { any, anys: [any, any] }));
      expectSame(kinds, bytes);
    }
  });

  it('picks the response_body field, null when it is unset', () => {
    const pick = kinds.fields.find((f) => f.name === 'child') as DescField;
    const picked = (bytes: Uint8Array) => compileJsonWriter(kinds, registry, pick)(bytes);
    const withChild = toBinary(kinds, create(kinds, { child: { late: 'c' } }));
    expect(picked(withChild)).toBe(JSON.stringify(JSON.parse(library(kinds, withChild) as string).child));
    expect(picked(new Uint8Array(0))).toBe('null');
  });
});

describe('what the library refuses, the writer leaves to it', () => {
  const refused: [string, () => Uint8Array][] = [
    ['a timestamp after year 9999', () => toBinary(kinds, create(kinds, { time: { seconds: 253402300800n } }))],
    ['a timestamp before year 1', () => toBinary(kinds, create(kinds, { time: { seconds: -62135596801n } }))],
    ['negative timestamp nanos', () => toBinary(kinds, create(kinds, { time: { nanos: -1 } }))],
    ['a duration with mixed signs', () => toBinary(kinds, create(kinds, { duration: { seconds: 1n, nanos: -1 } }))],
    ['a duration out of range', () => toBinary(kinds, create(kinds, { duration: { seconds: 315576000001n } }))],
    ['an irreversible field mask path', () => toBinary(kinds, create(kinds, { mask: { paths: ['foo__bar'] } }))],
    ['a value without a kind', () => toBinary(kinds, create(kinds, { value: {} }))],
    [
      'a NaN number value',
      () => toBinary(kinds, create(kinds, { value: { kind: { case: 'numberValue', value: Number.NaN } } })),
    ],
    [
      'an Any of a type not in the registry',
      () =>
        toBinary(kinds, create(kinds, { any: { typeUrl: 'type.googleapis.com/x.Unknown', value: new Uint8Array(0) } })),
    ],
    ['invalid UTF-8 in a string', () => new Uint8Array([0x0a, 0x02, 0x72, 0x02, 0xc3, 0x28])],
    ['a truncated message', () => toBinary(kinds, create(kinds, { late: 'truncated' })).subarray(0, 5)],
    ['a length past the end', () => new Uint8Array([0x4a, 0x7f, 0x61])],
    ['a group', () => new Uint8Array([0x0b, 0x0c])],
    ['field number zero', () => new Uint8Array([0x00, 0x01])],
  ];
  it.each(refused)('%s', (_name, bytes) => {
    expect(compileJsonWriter(kinds, registry)(bytes())).toBeUndefined();
  });

  it('an Any holding an extension the registry knows: the library writes it, so the writer gives up', () => {
    const methodOptions = message('google.protobuf.MethodOptions');
    // messenger.options.v1.policy (field 50001 of MethodOptions): any payload will do.
    const ext = [...registry].find((t) => t.kind === 'extension' && t.extendee.typeName === methodOptions.typeName);
    expect(ext).toBeDefined();
    const w = new BinaryWriter();
    w.tag((ext as { number: number }).number, WireType.LengthDelimited).bytes(new Uint8Array(0));
    const bytes = toBinary(
      kinds,
      create(kinds, { any: { typeUrl: `type.googleapis.com/${methodOptions.typeName}`, value: w.finish() } }),
    );
    expect(compileJsonWriter(kinds, registry)(bytes)).toBeUndefined();
  });
});

describe('the response marshaller', () => {
  it('answers with the writer, and with the library where the writer gives up', () => {
    const marshaller = createResponseMarshaller(kinds, undefined, registry);
    const plain = toBinary(kinds, create(kinds, { late: 'x' }));
    expect(marshaller.toJsonText(plain)).toBe(library(kinds, plain));
    // A singular message twice on the wire: merged by the library, given up on by the writer.
    const w = new BinaryWriter();
    w.tag(2, WireType.LengthDelimited).bytes(toBinary(kinds, create(kinds, { late: 'a' })));
    w.tag(2, WireType.LengthDelimited).bytes(toBinary(kinds, create(kinds, { children: [{}] })));
    const merged = w.finish();
    expect(compileJsonWriter(kinds, registry)(merged)).toBeUndefined();
    expect(marshaller.toJsonText(merged)).toBe(library(kinds, merged));
    expect(JSON.parse(marshaller.toJsonText(merged)).child).toMatchObject({ late: 'a', children: [{}] });
    const refused = toBinary(kinds, create(kinds, { value: {} }));
    expect(() => marshaller.toJsonText(refused)).toThrow();
  });
});

// ---------------------------------------------------------------- random messages

/** mulberry32: a small seeded PRNG, so that a failure replays. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Gen {
  readonly random: () => number;
  /** Canonical: fields in number order, each at most once, values the library accepts. Else odd encodings too. */
  readonly canonical: boolean;
}

const pick = <T>(g: Gen, items: readonly T[]): T => items[Math.floor(g.random() * items.length)] as T;
const chance = (g: Gen, p: number) => g.random() < p;

const STRINGS = [
  '',
  'a',
  'hello world',
  'ünïcödé',
  '😀',
  '"\\/',
  '\u0000\u001f\u007f',
  '\u2028\u2029',
  '\ufeff',
  '10',
  '2',
  '-1',
  '__proto__',
  'toString',
  'k',
];
const INT32 = [0, 1, -1, 127, 128, -128, 2147483647, -2147483648, 300];
const UINT32 = [0, 1, 127, 128, 4294967295, 2147483648];
const INT64 = [
  0n,
  1n,
  -1n,
  9007199254740993n,
  -9007199254740993n,
  9223372036854775807n,
  -9223372036854775808n,
  4294967296n,
];
const UINT64 = [0n, 1n, 4294967295n, 4294967296n, 18446744073709551615n, 9007199254740993n];
const DOUBLES = [
  0,
  -0,
  1,
  -1.5,
  0.1,
  1e21,
  1e-7,
  5e-324,
  1.7976931348623157e308,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
];
const FLOATS = [0, -0, 1, -1.5, Math.fround(0.1), 1e-45, 3.4028234663852886e38, Number.NaN, Number.NEGATIVE_INFINITY];

function writeScalar(g: Gen, w: BinaryWriter, type: ScalarType): void {
  const r = g.random;
  switch (type) {
    case ScalarType.DOUBLE:
      w.double(chance(g, 0.5) ? pick(g, DOUBLES) : (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20));
      return;
    case ScalarType.FLOAT:
      w.float(chance(g, 0.5) ? pick(g, FLOATS) : Math.fround((r() - 0.5) * 1000));
      return;
    case ScalarType.INT32:
      w.int32(chance(g, 0.5) ? pick(g, INT32) : Math.floor((r() - 0.5) * 2 ** 32) | 0);
      return;
    case ScalarType.SINT32:
      w.sint32(pick(g, INT32));
      return;
    case ScalarType.SFIXED32:
      w.sfixed32(pick(g, INT32));
      return;
    case ScalarType.UINT32:
      w.uint32(pick(g, UINT32));
      return;
    case ScalarType.FIXED32:
      w.fixed32(chance(g, 0.5) ? pick(g, UINT32) : Math.floor(r() * 2 ** 32));
      return;
    case ScalarType.INT64:
      w.int64(chance(g, 0.5) ? pick(g, INT64) : BigInt(Math.floor((r() - 0.5) * 2 ** 62)));
      return;
    case ScalarType.SINT64:
      w.sint64(pick(g, INT64));
      return;
    case ScalarType.SFIXED64:
      w.sfixed64(pick(g, INT64));
      return;
    case ScalarType.UINT64:
      w.uint64(pick(g, UINT64));
      return;
    case ScalarType.FIXED64:
      w.fixed64(pick(g, UINT64));
      return;
    case ScalarType.BOOL:
      w.bool(chance(g, 0.5));
      return;
    case ScalarType.STRING:
      w.string(chance(g, 0.7) ? pick(g, STRINGS) : randomText(g));
      return;
    default:
      w.bytes(Uint8Array.from({ length: Math.floor(r() * 8) }, () => Math.floor(r() * 256)));
  }
}

function randomText(g: Gen): string {
  let s = '';
  const n = Math.floor(g.random() * 12);
  for (let i = 0; i < n; i++)
    s += String.fromCodePoint(pick(g, [0x20, 0x7e, 0xe9, 0x4e2d, 0x1f600, 0x0a, 0x22]) + Math.floor(g.random() * 3));
  return s;
}

const TYPE_URLS = [
  'Scalars',
  'Kinds',
  'google.protobuf.Timestamp',
  'google.protobuf.Duration',
  'google.protobuf.Empty',
  'google.protobuf.Value',
  'google.protobuf.Int32Value',
];

/** A random message of `desc`, as bytes. */
function randomMessage(g: Gen, desc: DescMessage, depth: number): Uint8Array {
  const w = new BinaryWriter();
  const special = wellKnown(g, desc);
  if (special !== undefined) return special;
  let fields = desc.fields.concat().sort((a, b) => a.number - b.number);
  if (!g.canonical && chance(g, 0.3)) fields = fields.sort(() => g.random() - 0.5);
  let oneofTaken = new Set<unknown>();
  for (const field of fields) {
    if (!chance(g, depth > 2 ? 0.2 : 0.5)) continue;
    if (field.oneof) {
      if (g.canonical && oneofTaken.has(field.oneof)) continue;
      oneofTaken.add(field.oneof);
    }
    const times = g.canonical ? 1 : chance(g, 0.15) ? 2 : 1;
    for (let t = 0; t < times; t++) writeField(g, w, field, depth);
  }
  if (!g.canonical && chance(g, 0.2)) {
    // An unknown field.
    w.tag(1000 + Math.floor(g.random() * 100), WireType.Varint).uint32(7);
  }
  oneofTaken = new Set();
  return w.finish();
}

function writeField(g: Gen, w: BinaryWriter, field: DescField, depth: number): void {
  const n = field.number;
  switch (field.fieldKind) {
    case 'scalar':
      w.tag(n, wireOf(field.scalar));
      writeScalar(g, w, field.scalar);
      return;
    case 'enum':
      w.tag(n, WireType.Varint).int32(pick(g, [0, 1, 2, 99, -1]));
      return;
    case 'message':
      if (depth > 4) return;
      w.tag(n, WireType.LengthDelimited).bytes(randomMessage(g, field.message, depth + 1));
      return;
    case 'list': {
      const count = Math.floor(g.random() * 4);
      if (field.listKind === 'message') {
        if (depth > 4) return;
        for (let i = 0; i < count; i++)
          w.tag(n, WireType.LengthDelimited).bytes(randomMessage(g, field.message, depth + 1));
        return;
      }
      const type = field.listKind === 'enum' ? ScalarType.INT32 : field.scalar;
      const packable = type !== ScalarType.STRING && type !== ScalarType.BYTES;
      const packed = packable && (g.canonical ? field.packed : chance(g, 0.5));
      if (packed) {
        w.tag(n, WireType.LengthDelimited).fork();
        for (let i = 0; i < count; i++) writeScalar(g, w, type);
        w.join();
      } else {
        for (let i = 0; i < count; i++) {
          w.tag(n, wireOf(type));
          writeScalar(g, w, type);
        }
      }
      return;
    }
    default: {
      if (field.mapKind === 'message' && depth > 4) return;
      const count = Math.floor(g.random() * 4);
      for (let i = 0; i < count; i++) {
        w.tag(n, WireType.LengthDelimited).fork();
        if (g.canonical || chance(g, 0.8)) {
          w.tag(1, wireOf(field.mapKey));
          writeScalar(g, w, field.mapKey);
        }
        if (g.canonical || chance(g, 0.8)) {
          if (field.mapKind === 'message') {
            w.tag(2, WireType.LengthDelimited).bytes(randomMessage(g, field.message, depth + 1));
          } else if (field.mapKind === 'enum') {
            w.tag(2, WireType.Varint).int32(pick(g, [0, 1, 2, 42]));
          } else {
            w.tag(2, wireOf(field.scalar));
            writeScalar(g, w, field.scalar);
          }
        }
        w.join();
      }
    }
  }
}

/** Well-known types with values mostly in their accepted ranges (canonical: always). */
function wellKnown(g: Gen, desc: DescMessage): Uint8Array | undefined {
  const w = new BinaryWriter();
  const r = g.random;
  const wild = !g.canonical && chance(g, 0.2);
  switch (desc.typeName) {
    case 'google.protobuf.Timestamp': {
      const seconds = wild
        ? pick(g, [253402300800n, -62135596801n, 0n])
        : BigInt(Math.floor(-62135596800 + r() * (253402300799 + 62135596800)));
      const nanos = wild
        ? pick(g, [-1, 1000000000, 5])
        : pick(g, [0, 1, 1000, 1000000, 999999999, Math.floor(r() * 1e9)]);
      if (seconds !== 0n) w.tag(1, WireType.Varint).int64(seconds);
      if (nanos !== 0) w.tag(2, WireType.Varint).int32(nanos);
      return w.finish();
    }
    case 'google.protobuf.Duration': {
      const seconds = wild ? pick(g, [315576000001n, -1n]) : BigInt(Math.floor((r() - 0.5) * 2 * 315576000000));
      let nanos = pick(g, [0, 1, 1000, 1000000, 999999999, Math.floor(r() * 1e9)]);
      if (seconds < 0n || (seconds === 0n && chance(g, 0.5))) nanos = -nanos;
      if (wild) nanos = -nanos;
      if (seconds !== 0n) w.tag(1, WireType.Varint).int64(seconds);
      if (nanos !== 0) w.tag(2, WireType.Varint).int32(nanos);
      return w.finish();
    }
    case 'google.protobuf.FieldMask': {
      const paths = wild ? ['foo__bar', 'fooBar'] : ['a', 'user_id', 'user.display_name', 'x1_y2'];
      for (let i = Math.floor(r() * 3); i > 0; i--) w.tag(1, WireType.LengthDelimited).string(pick(g, paths));
      return w.finish();
    }
    case 'google.protobuf.Value': {
      const kind = wild ? pick(g, [0, 2]) : 1 + Math.floor(r() * 6);
      const depthOk = r() < 0.5;
      switch (kind) {
        case 1:
          w.tag(1, WireType.Varint).int32(0);
          break;
        case 2:
          w.tag(2, WireType.Bit64).double(wild ? Number.NaN : pick(g, [0, -0, 1.5, 1e21, -3]));
          break;
        case 3:
          w.tag(3, WireType.LengthDelimited).string(pick(g, STRINGS));
          break;
        case 4:
          w.tag(4, WireType.Varint).bool(chance(g, 0.5));
          break;
        case 5:
          w.tag(5, WireType.LengthDelimited).bytes(
            depthOk ? randomMessage(g, message('google.protobuf.Struct'), 5) : new Uint8Array(0),
          );
          break;
        case 6:
          w.tag(6, WireType.LengthDelimited).bytes(
            depthOk ? randomMessage(g, message('google.protobuf.ListValue'), 5) : new Uint8Array(0),
          );
          break;
        default:
          break;
      }
      return w.finish();
    }
    case 'google.protobuf.Any': {
      if (chance(g, 0.1)) return w.finish();
      const name = pick(g, TYPE_URLS);
      const full = name.includes('.') ? name : `${PKG}.${name}`;
      const url = wild
        ? pick(g, ['', 'type.googleapis.com/', 'type.googleapis.com/x.Unknown'])
        : `type.googleapis.com/${full}`;
      w.tag(1, WireType.LengthDelimited).string(url);
      w.tag(2, WireType.LengthDelimited).bytes(randomMessage(g, message(full), 5));
      return w.finish();
    }
    default:
      return undefined;
  }
}

/** The wire type of each scalar type (fixed-width types, length-delimited ones, varints). */
function wireOf(type: ScalarType): WireType {
  if ([ScalarType.DOUBLE, ScalarType.FIXED64, ScalarType.SFIXED64].includes(type)) return WireType.Bit64;
  if ([ScalarType.FLOAT, ScalarType.FIXED32, ScalarType.SFIXED32].includes(type)) return WireType.Bit32;
  return type === ScalarType.STRING || type === ScalarType.BYTES ? WireType.LengthDelimited : WireType.Varint;
}

function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `${i}: ${JSON.stringify(a.slice(Math.max(0, i - 60), i + 40))} vs ${JSON.stringify(b.slice(Math.max(0, i - 60), i + 40))}`;
}

describe('random messages', () => {
  it('canonical encodings: always written, always as the library writes them', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const g = { random: prng(seed), canonical: true };
      const desc = seed % 3 === 0 ? scalars : kinds;
      const bytes = randomMessage(g, desc, 0);
      const expected = library(desc, bytes);
      if (expected instanceof Error)
        throw new Error(`seed ${seed}: the library refused a canonical message: ${expected.message}`);
      const written = compileJsonWriter(desc, registry)(bytes);
      if (written !== expected) {
        throw new Error(
          `seed ${seed}: ${written === undefined ? 'given up' : `differs at ${firstDifference(written, expected)}`}`,
        );
      }
    }
  });

  it('odd encodings: the same text, or left to the library', () => {
    let written = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const g = { random: prng(seed * 7919), canonical: false };
      const desc = seed % 3 === 0 ? scalars : kinds;
      if (expectConforms(desc, randomMessage(g, desc, 0)) !== undefined) written++;
    }
    // Many are still written (out of order, unpacked, unknown fields…); repeated
    // singular messages (merged by the library) and refused values are not.
    expect(written).toBeGreaterThan(100);
  });

  it('corrupted bytes: the same text, or left to the library', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const g = { random: prng(seed * 104729), canonical: true };
      const bytes = randomMessage(g, kinds, 0);
      if (bytes.length === 0) continue;
      const copy = bytes.slice(0, chance(g, 0.5) ? bytes.length : Math.floor(g.random() * bytes.length));
      for (let i = 0; i < 3 && copy.length > 0; i++)
        copy[Math.floor(g.random() * copy.length)] = Math.floor(g.random() * 256);
      expectConforms(kinds, copy);
    }
  });

  it('timestamps across the whole range: the same text', () => {
    const timestamp = message('google.protobuf.Timestamp');
    const g = { random: prng(42), canonical: true };
    for (let i = 0; i < 2000; i++) expectSame(timestamp, wellKnown(g, timestamp) as Uint8Array);
    for (const seconds of [-62135596800n, 253402300799n, 0n, -1n, 951868800n, 951782400n, 4107542400n, -2208988800n]) {
      expectSame(timestamp, toBinary(timestamp, create(timestamp, { seconds })));
    }
  });
});
