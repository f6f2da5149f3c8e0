// The request fast path (src/marshal/string-fields-encoder.ts) against the
// library it stands in for: for the same JSON object its bytes are
// `toBinary(desc, fromJson(desc, json))`, or it leaves the object to the
// library (undefined) — always when the library refuses it.
import { type DescMessage, fromJson, type JsonObject, type Registry, toBinary } from '@bufbuild/protobuf';
import { compileStringFieldsEncoder } from '../src/marshal/string-fields-encoder.ts';
import { testCatalog } from './fixture.ts';

const PKG = 'messenger.gatewaytest.v1';
let registry: Registry;

beforeAll(async () => {
  registry = (await testCatalog()).registry;
});

function message(name: string): DescMessage {
  const desc = registry.getMessage(`${PKG}.${name}`);
  if (!desc) throw new Error(`${name} is not in the test contracts`);
  return desc;
}

function library(desc: DescMessage, json: JsonObject): Uint8Array | Error {
  try {
    return toBinary(desc, fromJson(desc, json, { ignoreUnknownFields: false, registry }));
  } catch (error) {
    return error as Error;
  }
}

function expectConforms(desc: DescMessage, json: JsonObject): Uint8Array | undefined {
  const encode = compileStringFieldsEncoder(desc);
  const expected = library(desc, json);
  const encoded = encode?.(json);
  if (expected instanceof Error) expect(encoded).toBeUndefined();
  else if (encoded !== undefined)
    expect(Buffer.from(encoded).toString('hex')).toBe(Buffer.from(expected).toString('hex'));
  return encoded;
}

it('encodes path ids and text fields as the library does', () => {
  const cases: [string, JsonObject][] = [
    ['GetProfileRequest', { userId: 'u-1' }],
    ['GetProfileRequest', { user_id: 'ünïcödé 😀' }],
    ['GetProfileRequest', {}],
    ['GetProfileRequest', { userId: '' }],
    ['UpdateProfileRequest', { about: 'a'.repeat(300), userId: 'u' }],
    ['Scalars', { fString: 'x', oString: '' }],
    ['Scalars', { o_string: 'declared late, written in number order', f_string: '' }],
    ['Kinds', { late: 'declared last' }],
    ['Everything', { displayName: 'Al', id: 'i', label: 'a/b' }],
  ];
  for (const [name, json] of cases) expect(expectConforms(message(name), json)).toBeDefined();
});

it('leaves everything else to the library', () => {
  const cases: [string, JsonObject][] = [
    ['GetProfileRequest', { userId: null }],
    ['GetProfileRequest', { userId: 5 }],
    ['GetProfileRequest', { bogus: 'x' }],
    ['GetProfileRequest', { userId: 'a', user_id: 'b' }],
    ['Scalars', { fString: 'x', fInt32: 1 }],
    ['Scalars', { rString: ['x'] }],
    ['Kinds', { choiceText: 'a oneof member' }],
    ['Kinds', { late: 'a lone surrogate \ud800' }],
    ['Everything', { display_name: 'a', displayName: 'b' }],
  ];
  for (const [name, json] of cases) expect(expectConforms(message(name), json)).toBeUndefined();
  expect(compileStringFieldsEncoder(message('PurgeRequest'))).toBeUndefined();
});

it('random objects: the same bytes, or left to the library', () => {
  const keys = ['fString', 'f_string', 'oString', 'o_string', 'fInt32', 'rString', 'bogus', 'fEnum'];
  const values: unknown[] = ['', 'a', 'ü', '😀', '\ud83d', '"', 'x'.repeat(200), null, 0, true, ['a'], {}];
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const scalars = message('Scalars');
  let encoded = 0;
  for (let i = 0; i < 2000; i++) {
    const json: JsonObject = {};
    for (let k = Math.floor(random() * 4); k > 0; k--) {
      json[keys[Math.floor(random() * keys.length)] as string] = values[Math.floor(random() * values.length)] as never;
    }
    if (expectConforms(scalars, json) !== undefined) encoded++;
  }
  expect(encoded).toBeGreaterThan(200);
});
