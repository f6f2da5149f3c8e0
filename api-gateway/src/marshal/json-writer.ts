// Protobuf bytes → proto3 JSON text in one step: the text that
// `JSON.stringify(toJson(schema, fromBinary(schema, bytes), {alwaysEmitImplicit: true, registry}))`
// produces, read straight from the bytes, without the message object and
// the JSON object in between (the gateway's response path; those two
// intermediate trees were most of its marshalling time and garbage).
//
// It does not try to be a whole protobuf runtime: whatever it does not
// reproduce exactly — a singular message field repeated on the wire (merge),
// groups, malformed or truncated bytes, invalid UTF-8, a closed enum's
// unknown value, a value the library refuses to render (a Timestamp out of
// range, NaN in a Value, an Any of an unknown type), an extension — makes it
// give up, and the caller renders the message with the library instead. So
// its output, when it has one, is the library's; test/json-writer.test.ts
// checks that against the library on every kind of field and well-known type and
// on random messages and random bytes.
import { isUtf8 } from 'node:buffer';
import { type DescEnum, type DescField, type DescMessage, type Registry, ScalarType } from '@bufbuild/protobuf';
import { protoCamelCase, protoSnakeCase } from '@bufbuild/protobuf/reflect';
import { isWrapperDesc } from '@bufbuild/protobuf/wkt';
import { decimal } from './decimal.ts';

/** The JSON text of one message, or undefined when the library must render it. */
export type JsonWriter = (bytes: Uint8Array) => string | undefined;

/**
 * The writer of `desc`'s messages. With `pick`, the text is that field's
 * value alone (`response_body`), `null` when it is unset, as picking it from
 * the library's JSON gives.
 */
export function compileJsonWriter(desc: DescMessage, registry: Registry | undefined, pick?: DescField): JsonWriter {
  const plan = planOf(desc);
  const pickIndex = pick === undefined ? -1 : plan.fields.findIndex((f) => f.number === pick.number);
  if (pick !== undefined && pickIndex < 0) throw new Error(`${pick.name} is not a field of ${desc.typeName}`);
  return (bytes) => {
    currentRegistry = registry;
    buf = asBuffer(bytes);
    sp = 0;
    depth = 0;
    try {
      return messageText(plan, 0, buf.length, pickIndex);
    } catch {
      // GIVE_UP, or a read past what the checks let through: the library decides.
      return undefined;
    } finally {
      currentRegistry = undefined;
      buf = EMPTY;
    }
  };
}

// ---------------------------------------------------------------- plans (compiled once per message type)

const K_SCALAR = 0;
const K_ENUM = 1;
const K_MESSAGE = 2;
const K_LIST = 3;
const K_MAP = 4;

const W_NONE = 0;
const W_TIMESTAMP = 1;
const W_DURATION = 2;
const W_FIELD_MASK = 3;
const W_WRAPPER = 4;
const W_STRUCT = 5;
const W_VALUE = 6;
const W_LIST_VALUE = 7;
const W_ANY = 8;

/** google.protobuf.FeatureSet.FieldPresence */
const IMPLICIT = 2;
const LEGACY_REQUIRED = 3;

const WIRE_VARINT = 0;
const WIRE_64 = 1;
const WIRE_LEN = 2;
const WIRE_32 = 5;

interface EnumPlan {
  /** JSON text of each known value's name. */
  readonly names: ReadonlyMap<number, string>;
  /** google.protobuf.NullValue: always `null`. */
  readonly isNull: boolean;
  /** Closed (proto2) enums keep unknown values as unknown fields: given up on. */
  readonly open: boolean;
}

interface FieldPlan {
  readonly number: number;
  /** `"jsonName":` and `,"jsonName":` */
  readonly first: string;
  readonly next: string;
  readonly kind: number;
  /** Of the value, or of one element or map value: K_SCALAR, K_ENUM or K_MESSAGE. */
  readonly elementKind: number;
  readonly scalar: ScalarType;
  /** Wire type of the value (one element for lists, the value for maps). */
  readonly wire: number;
  /** Wire type of the field's records: `wire`, but length-delimited entries for maps. */
  readonly recordWire: number;
  /** A list whose elements may come packed. */
  readonly packable: boolean;
  readonly enumPlan: EnumPlan | undefined;
  /** The enum's first value: the default of a map value. */
  readonly enumZero: number;
  /** Resolved after the plan is registered, so recursive types terminate. */
  message: MessagePlan | undefined;
  /** Text when absent from the wire (implicit presence, emitted as zero); undefined: omitted. */
  readonly absent: string | undefined;
  /** Index among the message's oneofs, -1 when not in one. */
  readonly oneof: number;
  readonly required: boolean;
  // Map fields only.
  readonly keyScalar: ScalarType;
  readonly keyWire: number;
}

interface MessagePlan {
  readonly desc: DescMessage;
  readonly wkt: number;
  /** By field number, the order of the library's output. */
  readonly fields: FieldPlan[];
  /** Field number → index in `fields` (+1; 0 = unknown) for small numbers. */
  readonly small: Uint16Array;
  readonly large: Map<number, number>;
  readonly oneofs: number;
  /** Scratch ints one scan of this message uses. */
  readonly width: number;
}

const plans = new WeakMap<DescMessage, MessagePlan>();

function planOf(desc: DescMessage): MessagePlan {
  const known = plans.get(desc);
  if (known !== undefined) return known;
  const sorted = desc.fields.concat().sort((a, b) => a.number - b.number);
  const maxSmall = Math.min(256, sorted.reduce((m, f) => Math.max(m, f.number), 0) + 1);
  const plan: MessagePlan = {
    desc,
    wkt: wktOf(desc),
    fields: [],
    small: new Uint16Array(maxSmall),
    large: new Map(),
    oneofs: desc.oneofs.length,
    width: sorted.length * 3 + desc.oneofs.length,
  };
  plans.set(desc, plan);
  sorted.forEach((field, i) => {
    plan.fields.push(fieldPlan(field, desc));
    if (field.number < maxSmall) plan.small[field.number] = i + 1;
    else plan.large.set(field.number, i + 1);
  });
  // After registering: a recursive type finds its own plan.
  sorted.forEach((field, i) => {
    if (field.message !== undefined) (plan.fields[i] as FieldPlan).message = planOf(field.message);
  });
  return plan;
}

function wktOf(desc: DescMessage): number {
  switch (desc.typeName) {
    case 'google.protobuf.Timestamp':
      return W_TIMESTAMP;
    case 'google.protobuf.Duration':
      return W_DURATION;
    case 'google.protobuf.FieldMask':
      return W_FIELD_MASK;
    case 'google.protobuf.Struct':
      return W_STRUCT;
    case 'google.protobuf.Value':
      return W_VALUE;
    case 'google.protobuf.ListValue':
      return W_LIST_VALUE;
    case 'google.protobuf.Any':
      return W_ANY;
    default:
      return isWrapperDesc(desc) ? W_WRAPPER : W_NONE;
  }
}

const enumPlans = new WeakMap<DescEnum, EnumPlan>();

function enumPlanOf(desc: DescEnum): EnumPlan {
  let plan = enumPlans.get(desc);
  if (plan === undefined) {
    const names = new Map<number, string>();
    // The first value of a number wins, as `desc.value[n]` does (aliases).
    for (const v of desc.values)
      if (!names.has(v.number)) names.set(v.number, JSON.stringify(desc.value[v.number]?.jsonName));
    plan = { names, isNull: desc.typeName === 'google.protobuf.NullValue', open: desc.open };
    enumPlans.set(desc, plan);
  }
  return plan;
}

function fieldPlan(field: DescField, parent: DescMessage): FieldPlan {
  const key = `${JSON.stringify(field.jsonName)}:`;
  let elementKind: number;
  let kind: number;
  let scalar = ScalarType.INT32;
  let enumDesc: DescEnum | undefined;
  let keyScalar = ScalarType.STRING;
  switch (field.fieldKind) {
    case 'scalar':
      kind = K_SCALAR;
      elementKind = K_SCALAR;
      scalar = field.scalar;
      break;
    case 'enum':
      kind = K_ENUM;
      elementKind = K_ENUM;
      enumDesc = field.enum;
      break;
    case 'message':
      kind = K_MESSAGE;
      elementKind = K_MESSAGE;
      break;
    case 'list':
      kind = K_LIST;
      elementKind = field.listKind === 'scalar' ? K_SCALAR : field.listKind === 'enum' ? K_ENUM : K_MESSAGE;
      if (field.listKind === 'scalar') scalar = field.scalar;
      if (field.listKind === 'enum') enumDesc = field.enum;
      break;
    default:
      kind = K_MAP;
      elementKind = field.mapKind === 'scalar' ? K_SCALAR : field.mapKind === 'enum' ? K_ENUM : K_MESSAGE;
      if (field.mapKind === 'scalar') scalar = field.scalar;
      if (field.mapKind === 'enum') enumDesc = field.enum;
      keyScalar = field.mapKey;
      break;
  }
  const enumPlan = enumDesc === undefined ? undefined : enumPlanOf(enumDesc);
  const enumZero = enumDesc?.values[0]?.number ?? 0;
  const delimited = 'delimitedEncoding' in field && field.delimitedEncoding === true;
  const wire =
    elementKind === K_MESSAGE ? (delimited ? 3 : WIRE_LEN) : elementKind === K_ENUM ? WIRE_VARINT : wireOf(scalar);
  const implicit = field.presence === IMPLICIT && field.oneof === undefined;
  let absent: string | undefined;
  if (implicit && kind === K_SCALAR) absent = zeroText(scalar);
  else if (implicit && kind === K_ENUM && enumPlan !== undefined) absent = enumText(enumPlan, enumZero);
  return {
    number: field.number,
    first: key,
    next: `,${key}`,
    kind,
    elementKind,
    scalar,
    wire,
    recordWire: kind === K_MAP ? WIRE_LEN : wire,
    packable:
      kind === K_LIST && elementKind !== K_MESSAGE && scalar !== ScalarType.STRING && scalar !== ScalarType.BYTES,
    enumPlan,
    enumZero,
    message: undefined,
    absent,
    oneof: field.oneof === undefined ? -1 : parent.oneofs.indexOf(field.oneof),
    required: field.presence === LEGACY_REQUIRED,
    keyScalar,
    keyWire: wireOf(keyScalar),
  };
}

function wireOf(scalar: ScalarType): number {
  switch (scalar) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WIRE_64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return WIRE_32;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return WIRE_LEN;
    default:
      return WIRE_VARINT;
  }
}

function zeroText(scalar: ScalarType): string {
  switch (scalar) {
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return '"0"';
    case ScalarType.BOOL:
      return 'false';
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return '""';
    default:
      return '0';
  }
}

// ---------------------------------------------------------------- reading (one call at a time, synchronous)

/** Thrown (never seen outside) when the library must render the message. */
const GIVE_UP = new Error('json-writer: left to the library');
function giveUp(): never {
  throw GIVE_UP;
}

const EMPTY = Buffer.alloc(0);
/** The registry of the message being written (Any's types, extensions). */
let currentRegistry: Registry | undefined;
let buf: Buffer = EMPTY;
let pos = 0;
/** The last varint read: low and high 32 bits. */
let lo = 0;
let hi = 0;
let depth = 0;
/** Recursion deeper than this is left to the library (its limit is 100). */
const MAX_DEPTH = 64;
/** Per message being written: count, last value offset, first tag offset of each field; then oneof winners. */
let scratch = new Int32Array(512);
let sp = 0;

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** protobuf-es's varint64read, with the same bits in `lo` and `hi`; past 10 bytes or the end: give up. */
function readVarint(end: number): void {
  let b = buf[pos++] as number;
  if (b < 0x80 && pos <= end) {
    lo = b;
    hi = 0;
    return;
  }
  let l = 0;
  let h = 0;
  pos--;
  for (let shift = 0; shift < 28; shift += 7) {
    b = buf[pos++] as number;
    l |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) {
      if (pos > end) giveUp();
      lo = l;
      hi = 0;
      return;
    }
  }
  const middle = buf[pos++] as number;
  l |= (middle & 0x0f) << 28;
  h = (middle & 0x70) >> 4;
  if ((middle & 0x80) === 0) {
    if (pos > end) giveUp();
    lo = l;
    hi = h;
    return;
  }
  for (let shift = 3; shift <= 31; shift += 7) {
    b = buf[pos++] as number;
    h |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) {
      if (pos > end) giveUp();
      lo = l;
      hi = h;
      return;
    }
  }
  giveUp();
}

/** A tag: `lo` = field number, `hi` = wire type. Only what the library also accepts (no groups). */
function readTag(end: number): void {
  const start = pos;
  readVarint(end);
  if (hi !== 0 || pos - start > 5) giveUp();
  const tag = lo >>> 0;
  const no = tag >>> 3;
  const wire = tag & 7;
  if (no === 0 || (wire !== WIRE_VARINT && wire !== WIRE_64 && wire !== WIRE_LEN && wire !== WIRE_32)) giveUp();
  lo = no;
  hi = wire;
}

/** Length of a length-delimited value, which must end by `end`. */
function readLength(end: number): number {
  readVarint(end);
  const length = lo >>> 0;
  if (hi !== 0 || pos + length > end) giveUp();
  return length;
}

function skip(wire: number, end: number): void {
  switch (wire) {
    case WIRE_VARINT:
      readVarint(end);
      return;
    case WIRE_64:
      pos += 8;
      break;
    case WIRE_32:
      pos += 4;
      break;
    default: {
      // Not `pos += readLength(end)`: that would add to the position from before the length.
      const length = readLength(end);
      pos += length;
    }
  }
  if (pos > end) giveUp();
}

function fieldIndex(plan: MessagePlan, no: number): number {
  return (no < plan.small.length ? (plan.small[no] as number) : (plan.large.get(no) ?? 0)) - 1;
}

/**
 * First pass over one message's bytes: where each field is (its last
 * occurrence: the one the library keeps), how often, and which member of
 * each oneof came last. Wire types must be the fields' own.
 */
function scan(plan: MessagePlan, start: number, end: number, base: number): void {
  const n = plan.fields.length;
  scratch.fill(0, base, base + plan.width);
  pos = start;
  while (pos < end) {
    const tagAt = pos;
    readTag(end);
    const no = lo;
    const wire = hi;
    const i = fieldIndex(plan, no);
    if (i < 0) {
      // An extension would be written by the library (it has the registry).
      if (currentRegistry?.getExtensionFor(plan.desc, no) !== undefined) giveUp();
      skip(wire, end);
      continue;
    }
    const f = plan.fields[i] as FieldPlan;
    if (wire !== f.recordWire && !(wire === WIRE_LEN && f.packable)) giveUp();
    const at = base + 3 * i;
    if (scratch[at] === 0) scratch[at + 2] = tagAt;
    (scratch[at] as number)++;
    scratch[at + 1] = pos;
    if (f.oneof >= 0) scratch[base + 3 * n + f.oneof] = i + 1;
    skip(wire, end);
  }
  if (pos !== end) giveUp();
}

/** Reserves scratch for one message scan; released by resetting `sp`. */
function reserve(plan: MessagePlan): number {
  const base = sp;
  sp += plan.width;
  if (sp > scratch.length) {
    const grown = new Int32Array(Math.max(scratch.length * 2, sp));
    grown.set(scratch);
    scratch = grown;
  }
  return base;
}

// ---------------------------------------------------------------- writing

/** The JSON of the message in [start, end): a well-known type's own form, or an object. */
function messageTextOf(plan: MessagePlan, start: number, end: number): string {
  if (++depth > MAX_DEPTH) giveUp();
  const base = reserve(plan);
  scan(plan, start, end, base);
  let text: string;
  switch (plan.wkt) {
    case W_NONE:
      text = fieldsText(plan, end, base, -1);
      break;
    case W_TIMESTAMP:
      text = timestampText(plan, base);
      break;
    case W_DURATION:
      text = durationText(plan, base);
      break;
    case W_FIELD_MASK:
      text = fieldMaskText(plan, end, base);
      break;
    case W_WRAPPER:
      text = wrapperText(plan, base);
      break;
    case W_STRUCT:
      text = mapText(plan.fields[0] as FieldPlan, scratch[base] as number, scratch[base + 2] as number, end);
      break;
    case W_VALUE:
      text = valueText(plan, base);
      break;
    case W_LIST_VALUE:
      text = listText(plan.fields[0] as FieldPlan, scratch[base] as number, scratch[base + 2] as number, end);
      break;
    default:
      text = anyText(plan, base);
  }
  sp = base;
  depth--;
  return text;
}

/** The top-level message (never a scan shared with a caller). */
function messageText(plan: MessagePlan, start: number, end: number, pick: number): string {
  if (pick < 0) return messageTextOf(plan, start, end);
  // response_body: the whole message is still rendered (what the library refuses, it refuses here too).
  const base = reserve(plan);
  scan(plan, start, end, base);
  if (plan.wkt !== W_NONE) giveUp();
  return fieldsText(plan, end, base, pick);
}

/** A message as a JSON object: fields by number, defaults of implicit-presence fields included. */
function fieldsText(plan: MessagePlan, end: number, base: number, pick: number): string {
  const fields = plan.fields;
  const n = fields.length;
  let out = '{';
  let any = false;
  let picked = 'null';
  for (let i = 0; i < n; i++) {
    const f = fields[i] as FieldPlan;
    const at = base + 3 * i;
    const count = scratch[at] as number;
    let text: string;
    if (f.kind === K_LIST) {
      text = listText(f, count, scratch[at + 2] as number, end);
    } else if (f.kind === K_MAP) {
      text = mapText(f, count, scratch[at + 2] as number, end);
    } else if (count === 0) {
      if (f.required) giveUp();
      if (f.absent === undefined) continue;
      text = f.absent;
    } else {
      if (f.oneof >= 0 && scratch[base + 3 * n + f.oneof] !== i + 1) continue;
      // A singular message given twice is merged by the library.
      if (f.elementKind === K_MESSAGE && count > 1) giveUp();
      pos = scratch[at + 1] as number;
      text = valueAt(f, end);
    }
    if (i === pick) picked = text;
    out += any ? f.next + text : f.first + text;
    any = true;
  }
  return pick < 0 ? `${out}}` : picked;
}

/** One value (a singular field's, a list element, a map value) at `pos`. */
function valueAt(f: FieldPlan, end: number): string {
  switch (f.elementKind) {
    case K_SCALAR:
      return scalarText(f.scalar, end);
    case K_ENUM: {
      readVarint(end);
      const plan = f.enumPlan as EnumPlan;
      const value = lo | 0;
      if (!plan.open && !plan.names.has(value)) giveUp();
      return enumText(plan, value);
    }
    default: {
      const length = readLength(end);
      const start = pos;
      const text = messageTextOf(f.message as MessagePlan, start, start + length);
      pos = start + length;
      return text;
    }
  }
}

function enumText(plan: EnumPlan, value: number): string {
  if (plan.isNull) return 'null';
  return plan.names.get(value) ?? String(value);
}

function listText(f: FieldPlan, count: number, firstTag: number, end: number): string {
  if (count === 0) return '[]';
  let out = '[';
  let any = false;
  let seen = 0;
  pos = firstTag;
  while (seen < count) {
    readTag(end);
    const wire = hi;
    if (lo !== f.number) {
      skip(wire, end);
      continue;
    }
    seen++;
    if (wire === WIRE_LEN && f.packable) {
      const length = readLength(end);
      const packedEnd = pos + length;
      while (pos < packedEnd) {
        const text = valueAt(f, packedEnd);
        out += any ? `,${text}` : text;
        any = true;
      }
      if (pos !== packedEnd) giveUp();
    } else {
      const text = valueAt(f, end);
      out += any ? `,${text}` : text;
      any = true;
    }
  }
  return `${out}]`;
}

/**
 * A map as a JSON object. Keys go through a plain (null-prototype) object,
 * as they do in the library's, so their order is the same: integer-like
 * keys ascending first, then the others as first inserted, later values
 * replacing earlier ones.
 */
function mapText(f: FieldPlan, count: number, firstTag: number, end: number): string {
  if (count === 0) return '{}';
  const entries: Record<string, string> = Object.create(null);
  let seen = 0;
  pos = firstTag;
  while (seen < count) {
    readTag(end);
    if (lo !== f.number) {
      skip(hi, end);
      continue;
    }
    seen++;
    const length = readLength(end);
    const entryEnd = pos + length;
    let keyOffset = -1;
    let valueOffset = -1;
    let values = 0;
    while (pos < entryEnd) {
      readTag(entryEnd);
      const no = lo;
      const wire = hi;
      if (no === 1) {
        if (wire !== f.keyWire) giveUp();
        keyOffset = pos;
      } else if (no === 2) {
        if (wire !== f.wire) giveUp();
        valueOffset = pos;
        values++;
      }
      skip(wire, entryEnd);
    }
    if (pos !== entryEnd) giveUp();
    let key: string;
    if (keyOffset < 0) {
      key = f.keyScalar === ScalarType.BOOL ? 'false' : f.keyScalar === ScalarType.STRING ? '' : '0';
    } else {
      pos = keyOffset;
      key = mapKey(f.keyScalar, entryEnd);
    }
    let text: string;
    if (valueOffset < 0) {
      text =
        f.elementKind === K_SCALAR
          ? zeroText(f.scalar)
          : f.elementKind === K_ENUM
            ? enumText(f.enumPlan as EnumPlan, f.enumZero)
            : messageTextOf(f.message as MessagePlan, entryEnd, entryEnd);
    } else {
      if (f.elementKind === K_MESSAGE && values > 1) giveUp();
      pos = valueOffset;
      text = f.elementKind === K_ENUM ? mapEnumText(f, entryEnd) : valueAt(f, entryEnd);
    }
    entries[key] = text;
    pos = entryEnd;
  }
  let out = '{';
  let any = false;
  for (const key of Object.keys(entries)) {
    const item = `${JSON.stringify(key)}:${entries[key]}`;
    out += any ? `,${item}` : item;
    any = true;
  }
  return `${out}}`;
}

/** Map values of enum type are read as plain int32 (no closed-enum check), as the library does. */
function mapEnumText(f: FieldPlan, end: number): string {
  readVarint(end);
  return enumText(f.enumPlan as EnumPlan, lo | 0);
}

/** A map key as the string the library's object key becomes. */
function mapKey(scalar: ScalarType, end: number): string {
  switch (scalar) {
    case ScalarType.STRING:
      return stringAt(end);
    case ScalarType.BOOL:
      readVarint(end);
      return lo !== 0 || hi !== 0 ? 'true' : 'false';
    default: {
      const text = scalarText(scalar, end);
      // 64-bit keys come back quoted.
      return text.charCodeAt(0) === 34 ? text.slice(1, -1) : text;
    }
  }
}

const int64View = new DataView(new ArrayBuffer(8));

function int64Text(l: number, h: number): string {
  if ((h === 0 && l >= 0) || (h === -1 && l < 0)) return `"${decimal(l)}"`;
  int64View.setInt32(0, l, true);
  int64View.setInt32(4, h, true);
  return `"${int64View.getBigInt64(0, true)}"`;
}

function uint64Text(l: number, h: number): string {
  if (h === 0) return `"${decimal(l >>> 0)}"`;
  int64View.setInt32(0, l, true);
  int64View.setInt32(4, h, true);
  return `"${int64View.getBigUint64(0, true)}"`;
}

function numberText(v: number): string {
  if (Number.isFinite(v)) return String(v);
  return Number.isNaN(v) ? '"NaN"' : v > 0 ? '"Infinity"' : '"-Infinity"';
}

/** A string field's value as JSON; invalid UTF-8 is left to the library (which refuses or replaces it). */
function stringAt(end: number): string {
  const length = readLength(end);
  const start = pos;
  pos += length;
  const text = buf.toString('utf8', start, pos);
  if (text.includes('\uFFFD') && !isUtf8(buf.subarray(start, pos))) giveUp();
  return text;
}

function scalarText(scalar: ScalarType, end: number): string {
  switch (scalar) {
    case ScalarType.STRING:
      return JSON.stringify(stringAt(end));
    case ScalarType.BYTES: {
      const length = readLength(end);
      const start = pos;
      pos += length;
      return `"${buf.toString('base64', start, pos)}"`;
    }
    case ScalarType.INT32:
      readVarint(end);
      return decimal(lo | 0);
    case ScalarType.UINT32:
      readVarint(end);
      return decimal(lo >>> 0);
    case ScalarType.SINT32:
      readVarint(end);
      return decimal((lo >>> 1) ^ -(lo & 1));
    case ScalarType.BOOL:
      readVarint(end);
      return lo !== 0 || hi !== 0 ? 'true' : 'false';
    case ScalarType.INT64:
      readVarint(end);
      return int64Text(lo, hi);
    case ScalarType.UINT64:
      readVarint(end);
      return uint64Text(lo, hi);
    case ScalarType.SINT64: {
      readVarint(end);
      const s = -(lo & 1);
      return int64Text(((lo >>> 1) | ((hi & 1) << 31)) ^ s, (hi >>> 1) ^ s);
    }
    case ScalarType.FIXED32:
      return decimal(fixed32(end) >>> 0);
    case ScalarType.SFIXED32:
      return decimal(fixed32(end));
    case ScalarType.FLOAT: {
      if (pos + 4 > end) giveUp();
      const v = buf.readFloatLE(pos);
      pos += 4;
      return numberText(v);
    }
    case ScalarType.DOUBLE: {
      if (pos + 8 > end) giveUp();
      const v = buf.readDoubleLE(pos);
      pos += 8;
      return numberText(v);
    }
    case ScalarType.FIXED64: {
      const l = fixed32(end);
      return uint64Text(l, fixed32(end));
    }
    default: {
      const l = fixed32(end);
      return int64Text(l, fixed32(end));
    }
  }
}

function fixed32(end: number): number {
  if (pos + 4 > end) giveUp();
  const v = buf.readInt32LE(pos);
  pos += 4;
  return v;
}

// ---------------------------------------------------------------- well-known types (as the library's toJson)

/** Reads the last value of varint field `no` into `lo`/`hi` (0 when absent). */
function varintField(plan: MessagePlan, base: number, no: number): void {
  const at = base + 3 * fieldSlot(plan, no);
  lo = 0;
  hi = 0;
  if (scratch[at] === 0) return;
  pos = scratch[at + 1] as number;
  readVarint(buf.length);
}

const TIMESTAMP_MIN_S = Date.parse('0001-01-01T00:00:00Z') / 1000;
const TIMESTAMP_MAX_S = Date.parse('9999-12-31T23:59:59Z') / 1000;
const DURATION_MAX_S = 315576000000;

function timestampText(plan: MessagePlan, base: number): string {
  varintField(plan, base, 2);
  const nanos = lo | 0;
  varintField(plan, base, 1);
  const seconds = hi * 4294967296 + (lo >>> 0);
  if (!(seconds >= TIMESTAMP_MIN_S && seconds <= TIMESTAMP_MAX_S) || nanos < 0 || nanos > 999_999_999) giveUp();
  return `"${civilCached(seconds)}${nanosSuffix(nanos)}Z"`;
}

/** Recently formatted seconds (responses repeat their timestamps: created = updated, the same second). */
const CIVIL_SLOTS = 64;
const civilSeconds = new Float64Array(CIVIL_SLOTS).fill(Number.NaN);
const civilTexts: string[] = new Array<string>(CIVIL_SLOTS).fill('');

function civilCached(seconds: number): string {
  const slot = seconds & (CIVIL_SLOTS - 1);
  if (civilSeconds[slot] === seconds) return civilTexts[slot] as string;
  const text = civil(seconds);
  civilSeconds[slot] = seconds;
  civilTexts[slot] = text;
  return text;
}

/** `YYYY-MM-DDTHH:MM:SS` of epoch seconds (years 1–9999), as `Date.toISOString` writes it. */
function civil(seconds: number): string {
  const days = Math.floor(seconds / 86400);
  const sod = seconds - days * 86400;
  // Howard Hinnant's civil_from_days.
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(sod / 3600);
  const minute = Math.floor((sod % 3600) / 60);
  const second = sod % 60;
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}`;
}

function pad(n: number, width: number): string {
  const s = String(n);
  return s.length >= width ? s : '0'.repeat(width - s.length) + s;
}

/** `.123`, `.123456`, `.123456789` or nothing, as the library trims nanos. */
function nanosSuffix(nanos: number): string {
  if (nanos === 0) return '';
  const digits = decimal(nanos + 1_000_000_000).slice(1);
  if (digits.endsWith('000000')) return `.${digits.slice(0, 3)}`;
  if (digits.endsWith('000')) return `.${digits.slice(0, 6)}`;
  return `.${digits}`;
}

function durationText(plan: MessagePlan, base: number): string {
  varintField(plan, base, 2);
  const nanos = lo | 0;
  varintField(plan, base, 1);
  const seconds = hi * 4294967296 + (lo >>> 0);
  if (seconds > DURATION_MAX_S || seconds < -DURATION_MAX_S) giveUp();
  if ((seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0) || Math.abs(nanos) > 999_999_999) giveUp();
  let text = int64Text(lo, hi).slice(1, -1);
  if (nanos !== 0) {
    let digits = decimal(Math.abs(nanos));
    digits = '0'.repeat(9 - digits.length) + digits;
    if (digits.endsWith('000000')) digits = digits.slice(0, 3);
    else if (digits.endsWith('000')) digits = digits.slice(0, 6);
    text += `.${digits}`;
    if (nanos < 0 && seconds === 0) text = `-${text}`;
  }
  return `"${text}s"`;
}

function fieldMaskText(plan: MessagePlan, end: number, base: number): string {
  const f = plan.fields[0] as FieldPlan;
  let count = scratch[base] as number;
  const paths: string[] = [];
  pos = scratch[base + 2] as number;
  while (count > 0) {
    readTag(end);
    if (lo !== f.number) {
      skip(hi, end);
      continue;
    }
    count--;
    const path = stringAt(end);
    const camel = protoCamelCase(path);
    if (protoSnakeCase(camel) !== path) giveUp();
    paths.push(camel);
  }
  return JSON.stringify(paths.join(','));
}

function wrapperText(plan: MessagePlan, base: number): string {
  const f = plan.fields[0] as FieldPlan;
  if (scratch[base] === 0) return zeroText(f.scalar);
  pos = scratch[base + 1] as number;
  return scalarText(f.scalar, buf.length);
}

/** google.protobuf.Value: the member of `kind` set last; none set, NaN or ±Infinity: the library refuses. */
function valueText(plan: MessagePlan, base: number): string {
  const winner = (scratch[base + 3 * plan.fields.length] as number) - 1;
  if (winner < 0) giveUp();
  const f = plan.fields[winner] as FieldPlan;
  if (f.elementKind === K_MESSAGE && (scratch[base + 3 * winner] as number) > 1) giveUp();
  pos = scratch[base + 3 * winner + 1] as number;
  switch (f.number) {
    case 1: // null_value
      readVarint(buf.length);
      return 'null';
    case 2: {
      // number_value
      const text = scalarText(ScalarType.DOUBLE, buf.length);
      if (text.charCodeAt(0) === 34) giveUp();
      return text;
    }
    default:
      return valueAt(f, buf.length);
  }
}

function anyText(plan: MessagePlan, base: number): string {
  const end = buf.length;
  const urlSlot = fieldSlot(plan, 1);
  const valueSlot = fieldSlot(plan, 2);
  let url = '';
  if (scratch[base + 3 * urlSlot] !== 0) {
    pos = scratch[base + 3 * urlSlot + 1] as number;
    url = stringAt(end);
  }
  if (url === '') return '{}';
  const name = url.slice(url.lastIndexOf('/') + 1);
  const desc = name === '' ? undefined : currentRegistry?.getMessage(name);
  if (desc === undefined) giveUp();
  let start = 0;
  let length = 0;
  if (scratch[base + 3 * valueSlot] !== 0) {
    pos = scratch[base + 3 * valueSlot + 1] as number;
    length = readLength(end);
    start = pos;
  }
  const inner = planOf(desc);
  const text = messageTextOf(inner, start, start + length);
  const type = `"@type":${JSON.stringify(url)}`;
  if (inner.wkt !== W_NONE) return `{"value":${text},${type}}`;
  return text === '{}' ? `{${type}}` : `${text.slice(0, -1)},${type}}`;
}

function fieldSlot(plan: MessagePlan, no: number): number {
  const i = fieldIndex(plan, no);
  if (i < 0) giveUp();
  return i;
}
