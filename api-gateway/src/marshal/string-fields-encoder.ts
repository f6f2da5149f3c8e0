// The commonest request shape — ids from the path, a few text fields from the
// body, all of them plain string fields — encoded straight from the JSON
// object to protobuf bytes, without `fromJson` building a message for
// `toBinary` to walk. Anything else (another field type, a null, an unknown
// key, one field under both of its names, a lone surrogate) is left to the library, which then
// also decides what is refused; string-fields-encoder.spec.ts checks that the
// bytes are the library's.
import { type DescMessage, type JsonObject, ScalarType } from '@bufbuild/protobuf';

/** The request bytes, or undefined when the library must encode it. */
export type StringFieldsEncoder = (json: JsonObject) => Uint8Array | undefined;

/** google.protobuf.FeatureSet.FieldPresence */
const IMPLICIT = 2;
const LEGACY_REQUIRED = 3;

interface StringField {
  /** Position among the message's fields by number: the order `toBinary` writes them in. */
  readonly index: number;
  /** The encoded tag (field number, wire type 2). */
  readonly tag: Buffer;
  /** Implicit presence: an empty string is not written. */
  readonly implicit: boolean;
}

/** The encoder of `input`'s string-only requests; undefined when no field could take that path. */
export function compileStringFieldsEncoder(input: DescMessage): StringFieldsEncoder | undefined {
  // A required field the JSON leaves out makes `toBinary` throw: the library's to say.
  if (input.fields.some((f) => f.presence === LEGACY_REQUIRED)) return undefined;
  const sorted = input.fields.concat().sort((a, b) => a.number - b.number);
  const byKey = new Map<string, StringField>();
  sorted.forEach((f, index) => {
    if (f.fieldKind !== 'scalar' || f.scalar !== ScalarType.STRING || f.oneof !== undefined) return;
    const entry = { index, tag: varint(((f.number << 3) | 2) >>> 0), implicit: f.presence === IMPLICIT };
    byKey.set(f.name, entry).set(f.jsonName, entry);
  });
  if (byKey.size === 0) return undefined;
  const fields = [...new Set(byKey.values())].sort((a, b) => a.index - b.index);
  // One request at a time (synchronous): the values and their UTF-8 lengths by field, reset after each.
  const values: (string | undefined)[] = new Array(sorted.length).fill(undefined);
  const lengths = new Int32Array(sorted.length);

  return (json) => {
    let complete = true;
    for (const key in json) {
      const field = byKey.get(key);
      const value = json[key];
      // A lone surrogate is refused by the library (not UTF-8 encodable).
      if (
        field === undefined ||
        typeof value !== 'string' ||
        values[field.index] !== undefined ||
        !value.isWellFormed()
      ) {
        complete = false;
        break;
      }
      values[field.index] = value;
    }
    let size = 0;
    if (complete) {
      for (const f of fields) {
        const value = values[f.index];
        if (value === undefined || (value === '' && f.implicit)) continue;
        const length = Buffer.byteLength(value);
        lengths[f.index] = length;
        size += f.tag.length + varintSize(length) + length;
      }
    }
    let out: Buffer | undefined;
    if (complete) {
      out = Buffer.allocUnsafe(size);
      let offset = 0;
      for (const f of fields) {
        const value = values[f.index];
        if (value === undefined || (value === '' && f.implicit)) continue;
        offset += f.tag.copy(out, offset);
        offset = writeVarint(out, offset, lengths[f.index] as number);
        offset += out.write(value, offset, 'utf8');
      }
    }
    for (const f of fields) values[f.index] = undefined;
    return out;
  };
}

function varint(n: number): Buffer {
  const out = Buffer.allocUnsafe(varintSize(n));
  writeVarint(out, 0, n);
  return out;
}

function varintSize(n: number): number {
  let size = 1;
  for (let v = n; v >= 0x80; v = Math.floor(v / 128)) size++;
  return size;
}

function writeVarint(out: Buffer, offset: number, n: number): number {
  let v = n;
  let at = offset;
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[at++] = v;
  return at;
}
