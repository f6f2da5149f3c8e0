import {
  type DescField,
  type DescMessage,
  fromJson,
  type JsonObject,
  type JsonValue,
  type Registry,
  ScalarType,
  toBinary,
} from '@bufbuild/protobuf';
import type { Route } from '../routing/route-table.ts';
import { compileStringFieldsEncoder } from './string-fields-encoder.ts';
import { SCALAR_JSON_WKT } from './well-known-types.ts';

/** Input the client got wrong: always a 400 with a field violation when the field is known. */
export class MarshalError extends Error {
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super(message);
    this.name = 'MarshalError';
    this.field = field;
  }
}

export type QueryValues = Readonly<Record<string, string | readonly string[] | undefined>>;
export type RouterParams = Readonly<Record<string, string | undefined>>;

export interface RequestMarshaller {
  /**
   * The request message as protobuf bytes, from the path params, the query
   * string and the parsed JSON body (undefined when there was none). Throws
   * MarshalError on anything the contract does not accept.
   */
  encode(params: RouterParams, query: QueryValues, body: unknown): Uint8Array;
}

const MAX_MESSAGE_CHARS = 300;
const MAX_QUERY_DEPTH = 8;
const TRUE = new Set(['true', 'True', 'TRUE', 't', 'T', '1']);
const FALSE = new Set(['false', 'False', 'FALSE', 'f', 'F', '0']);

/**
 * Builds the marshaller of one route. The three sources are merged into one
 * JSON object and decoded once by the canonical proto3 JSON parser, so path
 * and query values obey exactly the rules a JSON body does (int64 as string,
 * enum names, RFC 3339 timestamps, both field-name forms, unknown → error).
 */
export function createRequestMarshaller(route: Route, registry: Registry): RequestMarshaller {
  const { input, body, pathBindings } = route;
  const excluded = new Set<DescField>();
  for (const b of pathBindings) if (b.fields.length === 1 && b.fields[0]) excluded.add(b.fields[0]);
  if (body.kind === 'field') excluded.add(body.field);
  const acceptsQuery = body.kind !== 'all';
  const options = { ignoreUnknownFields: false, registry };
  // Path ids and text fields only (most requests): bytes without the message in between.
  const stringFields = compileStringFieldsEncoder(input);

  return {
    encode(params, query, rawBody) {
      let target: JsonObject;
      if (body.kind === 'all') {
        if (rawBody === undefined || rawBody === null) target = {};
        else if (typeof rawBody === 'object' && !Array.isArray(rawBody)) target = rawBody as JsonObject;
        else throw new MarshalError(`the request body must be a JSON object (${input.typeName})`);
      } else {
        target = {};
        if (body.kind === 'field' && rawBody !== undefined) target[body.field.jsonName] = rawBody as JsonValue;
      }
      if (acceptsQuery) {
        for (const key in query) {
          const raw = query[key];
          if (raw !== undefined) applyQueryValue(target, input, key, raw, excluded);
        }
      }
      for (const binding of pathBindings) {
        setPath(
          target,
          binding.fields,
          scalarFromString(binding.fields[binding.fields.length - 1] as DescField, binding.valueOf(params)),
        );
      }
      const encoded = stringFields?.(target);
      if (encoded !== undefined) return encoded;
      let message: ReturnType<typeof fromJson>;
      try {
        message = fromJson(input, target, options);
      } catch (e) {
        throw fromJsonFailure(e);
      }
      return toBinary(input, message);
    },
  };
}

/** Sets a (possibly nested) path-bound field, replacing whatever the body had under either name. */
function setPath(target: JsonObject, fields: readonly DescField[], value: JsonValue): void {
  let obj = target;
  for (let i = 0; i < fields.length - 1; i++) {
    const f = fields[i] as DescField;
    const existingKey = f.jsonName in obj ? f.jsonName : f.name in obj ? f.name : undefined;
    const existing = existingKey === undefined ? undefined : obj[existingKey];
    if (existing === undefined || existing === null) {
      const child: JsonObject = {};
      obj[f.jsonName] = child;
      obj = child;
    } else if (typeof existing === 'object' && !Array.isArray(existing)) {
      obj = existing as JsonObject;
    } else {
      throw new MarshalError(`field ${f.name} must be an object`, f.name);
    }
  }
  const leaf = fields[fields.length - 1] as DescField;
  delete obj[leaf.name];
  obj[leaf.jsonName] = value;
}

function applyQueryValue(
  target: JsonObject,
  input: DescMessage,
  key: string,
  raw: string | readonly string[],
  excluded: ReadonlySet<DescField>,
): void {
  const names = key.split('.');
  if (names.length > MAX_QUERY_DEPTH) throw new MarshalError(`query parameter ${clip(key)} is nested too deeply`);
  let message = input;
  let obj = target;
  for (let i = 0; i < names.length; i++) {
    const field = fieldByName(message, names[i] as string);
    if (field === undefined) throw new MarshalError(`unknown query parameter ${JSON.stringify(clip(key))}`, clip(key));
    if (i === 0 && excluded.has(field)) {
      throw new MarshalError(`${field.name} is bound by the path or body and cannot be set in the query`, field.name);
    }
    if (i === names.length - 1) {
      obj[field.jsonName] = queryFieldValue(field, raw, key);
      return;
    }
    if (field.fieldKind !== 'message' || SCALAR_JSON_WKT.has(field.message.typeName)) {
      throw new MarshalError(
        `query parameter ${JSON.stringify(clip(key))}: ${field.name} has no sub-fields`,
        field.name,
      );
    }
    const existing = obj[field.jsonName];
    if (existing === undefined) {
      const child: JsonObject = {};
      obj[field.jsonName] = child;
      obj = child;
    } else {
      obj = existing as JsonObject;
    }
    message = field.message;
  }
}

function queryFieldValue(field: DescField, raw: string | readonly string[], key: string): JsonValue {
  if (field.fieldKind === 'list') {
    const values = typeof raw === 'string' ? [raw] : raw;
    if (field.listKind === 'message' && !SCALAR_JSON_WKT.has(field.message.typeName)) {
      throw new MarshalError(`${field.name} cannot be set from the query string`, field.name);
    }
    return values.map((v) => elementFromString(field, v));
  }
  if (typeof raw !== 'string')
    throw new MarshalError(`query parameter ${JSON.stringify(clip(key))} given more than once`, field.name);
  if (field.fieldKind === 'map')
    throw new MarshalError(`${field.name} cannot be set from the query string`, field.name);
  if (field.fieldKind === 'message') {
    if (!SCALAR_JSON_WKT.has(field.message.typeName)) {
      throw new MarshalError(`${field.name} cannot be set from the query string`, field.name);
    }
    return field.message.typeName === 'google.protobuf.BoolValue' ? boolFrom(raw) : raw;
  }
  return scalarFromString(field, raw);
}

function elementFromString(field: DescField & { fieldKind: 'list' }, raw: string): JsonValue {
  switch (field.listKind) {
    case 'scalar':
      return field.scalar === ScalarType.BOOL ? boolFrom(raw) : raw;
    case 'enum':
      return enumFrom(raw);
    default:
      return field.message.typeName === 'google.protobuf.BoolValue' ? boolFrom(raw) : raw;
  }
}

/** A path or query string as the JSON value the field expects; number types accept strings in proto3 JSON. */
export function scalarFromString(field: DescField, raw: string): JsonValue {
  if (field.fieldKind === 'enum') return enumFrom(raw);
  if (field.fieldKind === 'scalar' && field.scalar === ScalarType.BOOL) return boolFrom(raw);
  return raw;
}

function boolFrom(raw: string): JsonValue {
  if (TRUE.has(raw)) return true;
  if (FALSE.has(raw)) return false;
  return raw; // refused by the JSON parser, with the field named
}

function enumFrom(raw: string): JsonValue {
  return /^-?\d{1,10}$/.test(raw) ? Number(raw) : raw;
}

const fieldMaps = new WeakMap<DescMessage, Map<string, DescField>>();

/** Looks a field up by its proto name or its JSON name. */
export function fieldByName(message: DescMessage, name: string): DescField | undefined {
  let map = fieldMaps.get(message);
  if (!map) {
    map = new Map();
    for (const f of message.fields) {
      map.set(f.name, f);
      map.set(f.jsonName, f);
    }
    fieldMaps.set(message, map);
  }
  return map.get(name);
}

const FIELD_FAILURE = /^cannot decode field ([\w.]+) from JSON: ([\s\S]*)$/;
const MESSAGE_FAILURE = /^cannot decode message ([\w.]+) from JSON: ([\s\S]*)$/;

/** The JSON parser's complaint as a 400, naming the field; the input it quotes is clipped. */
function fromJsonFailure(e: unknown): MarshalError {
  const text = e instanceof Error ? e.message : String(e);
  const field = FIELD_FAILURE.exec(text);
  if (field?.[1] && field[2] !== undefined) {
    const name = field[1].slice(field[1].lastIndexOf('.') + 1);
    return new MarshalError(`invalid value for field ${name}: ${clip(field[2])}`, name);
  }
  const message = MESSAGE_FAILURE.exec(text);
  if (message?.[1] && message[2] !== undefined) {
    const unknown = /^key "(.*)" is unknown$/s.exec(message[2]);
    if (unknown?.[1] !== undefined)
      return new MarshalError(`unknown field ${JSON.stringify(clip(unknown[1]))}`, clip(unknown[1]));
    return new MarshalError(`invalid ${message[1]}: ${clip(message[2])}`);
  }
  return new MarshalError(`invalid request: ${clip(text)}`);
}

function clip(s: string): string {
  return s.length > MAX_MESSAGE_CHARS ? `${s.slice(0, MAX_MESSAGE_CHARS)}…` : s;
}
