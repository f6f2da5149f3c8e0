import {
  type DescEnum,
  type DescField,
  type DescFile,
  type DescMessage,
  type DescMethod,
  type DescService,
  getOption,
  hasOption,
  type Registry,
  ScalarType,
} from '@bufbuild/protobuf';
import { Access } from '@messenger/gen/messenger/options/v1/options';
import type { Route } from '../routing/route-table.ts';

type Schema = Record<string, unknown>;

export interface OpenApiOptions {
  readonly title?: string;
  readonly version?: string;
  readonly description?: string;
}

const FIELD_BEHAVIOR = 'google.api.field_behavior';
const REQUIRED = 2;
const OUTPUT_ONLY = 3;
const STATUS_REF = '#/components/schemas/google.rpc.Status';

const WKT: Readonly<Record<string, Schema>> = {
  'google.protobuf.Timestamp': { type: 'string', format: 'date-time', example: '2024-01-01T00:00:00Z' },
  'google.protobuf.Duration': {
    type: 'string',
    example: '1.5s',
    description: 'Seconds with up to 9 fractional digits, suffixed with "s".',
  },
  'google.protobuf.FieldMask': {
    type: 'string',
    example: 'about,avatarUrl',
    description: 'Comma-separated lowerCamelCase field paths.',
  },
  'google.protobuf.Struct': { type: 'object', additionalProperties: true },
  'google.protobuf.Value': {},
  'google.protobuf.ListValue': { type: 'array', items: {} },
  'google.protobuf.Empty': { type: 'object' },
  'google.protobuf.Any': {
    type: 'object',
    properties: { '@type': { type: 'string' } },
    additionalProperties: true,
  },
  'google.protobuf.StringValue': { type: 'string', nullable: true },
  'google.protobuf.BytesValue': { type: 'string', format: 'byte', nullable: true },
  'google.protobuf.BoolValue': { type: 'boolean', nullable: true },
  'google.protobuf.Int32Value': { type: 'integer', format: 'int32', nullable: true },
  'google.protobuf.UInt32Value': { type: 'integer', format: 'int64', minimum: 0, nullable: true },
  'google.protobuf.Int64Value': { type: 'string', format: 'int64', nullable: true },
  'google.protobuf.UInt64Value': { type: 'string', format: 'uint64', nullable: true },
  'google.protobuf.FloatValue': { type: 'number', format: 'float', nullable: true },
  'google.protobuf.DoubleValue': { type: 'number', format: 'double', nullable: true },
};
/** WKTs whose JSON is a single scalar, so they can be a query parameter. */
const QUERYABLE_WKT = new Set(
  Object.keys(WKT).filter(
    (k) =>
      ![
        'google.protobuf.Struct',
        'google.protobuf.Value',
        'google.protobuf.ListValue',
        'google.protobuf.Empty',
        'google.protobuf.Any',
      ].includes(k),
  ),
);

/**
 * The OpenAPI 3 document of the routes, derived from the same descriptors
 * the routes are: one operation per binding, message schemas as components,
 * proto comments as descriptions, `REQUIRED`/`OUTPUT_ONLY` field behaviour,
 * the bearer scheme on every non-public operation, and `google.rpc.Status`
 * as every operation's error response.
 */
export function buildOpenApiDocument(routes: readonly Route[], registry: Registry, opts: OpenApiOptions = {}): Schema {
  const comments = new CommentIndex();
  const behaviorExt = registry.getExtension(FIELD_BEHAVIOR);
  const schemas: Record<string, Schema> = { 'google.rpc.Status': statusSchema() };
  const pending: DescMessage[] = [];

  const behaviors = (field: DescField): number[] =>
    behaviorExt && hasOption(field, behaviorExt) ? (getOption(field, behaviorExt) as unknown as number[]) : [];

  const ref = (message: DescMessage): Schema => {
    const wkt = WKT[message.typeName];
    if (wkt) return { ...wkt };
    if (!(message.typeName in schemas)) {
      schemas[message.typeName] = {};
      pending.push(message);
    }
    return { $ref: `#/components/schemas/${message.typeName}` };
  };

  const scalarSchema = (t: ScalarType): Schema => {
    switch (t) {
      case ScalarType.INT32:
      case ScalarType.SINT32:
      case ScalarType.SFIXED32:
        return { type: 'integer', format: 'int32' };
      case ScalarType.UINT32:
      case ScalarType.FIXED32:
        return { type: 'integer', format: 'int64', minimum: 0 };
      case ScalarType.INT64:
      case ScalarType.SINT64:
      case ScalarType.SFIXED64:
        return { type: 'string', format: 'int64' };
      case ScalarType.UINT64:
      case ScalarType.FIXED64:
        return { type: 'string', format: 'uint64' };
      case ScalarType.FLOAT:
        return { type: 'number', format: 'float' };
      case ScalarType.DOUBLE:
        return { type: 'number', format: 'double' };
      case ScalarType.BOOL:
        return { type: 'boolean' };
      case ScalarType.BYTES:
        return { type: 'string', format: 'byte' };
      default:
        return { type: 'string' };
    }
  };
  const enumSchema = (e: DescEnum): Schema => {
    const lines = e.values.map((v) => `- \`${v.name}\`${commentSuffix(comments.of(v))}`);
    const about = comments.of(e);
    return {
      type: 'string',
      enum: e.values.map((v) => v.name),
      description: [about, ...lines].filter((l) => l !== '').join('\n'),
    };
  };

  const fieldSchema = (field: DescField): Schema => {
    let schema: Schema;
    switch (field.fieldKind) {
      case 'scalar':
        schema = scalarSchema(field.scalar);
        break;
      case 'enum':
        schema = enumSchema(field.enum);
        break;
      case 'message':
        schema = ref(field.message);
        break;
      case 'list':
        schema = {
          type: 'array',
          items:
            field.listKind === 'scalar'
              ? scalarSchema(field.scalar)
              : field.listKind === 'enum'
                ? enumSchema(field.enum)
                : ref(field.message),
        };
        break;
      case 'map':
        schema = {
          type: 'object',
          additionalProperties:
            field.mapKind === 'scalar'
              ? scalarSchema(field.scalar)
              : field.mapKind === 'enum'
                ? enumSchema(field.enum)
                : ref(field.message),
        };
        break;
    }
    let description = comments.of(field);
    if (field.oneof) {
      const others = field.oneof.fields.map((f) => f.jsonName).join(', ');
      description = `${description}${description ? '\n\n' : ''}At most one of: ${others}.`;
    }
    // A $ref cannot carry siblings in OpenAPI 3.0: wrap it to keep the description.
    if ('$ref' in schema && (description || behaviors(field).includes(OUTPUT_ONLY))) schema = { allOf: [schema] };
    if (description) schema.description = description;
    if (behaviors(field).includes(OUTPUT_ONLY)) schema.readOnly = true;
    return schema;
  };

  const objectSchema = (message: DescMessage, skip: ReadonlySet<string> = new Set()): Schema => {
    const properties: Record<string, Schema> = {};
    const required: string[] = [];
    for (const field of message.fields) {
      if (skip.has(field.name)) continue;
      properties[field.jsonName] = fieldSchema(field);
      if (behaviors(field).includes(REQUIRED)) required.push(field.jsonName);
    }
    const schema: Schema = { type: 'object', properties };
    const description = comments.of(message);
    if (description) schema.description = description;
    if (required.length > 0) schema.required = required;
    return schema;
  };

  const queryParameters = (route: Route): Schema[] => {
    if (route.body.kind === 'all') return [];
    const skip = new Set(route.pathBindings.map((b) => b.fields[0]?.name));
    if (route.body.kind === 'field') skip.add(route.body.field.name);
    const out: Schema[] = [];
    // Recursive messages are expanded a few levels deep, no further.
    const walk = (message: DescMessage, prefix: string, depth: number) => {
      for (const field of message.fields) {
        if (depth === 0 && skip.has(field.name)) continue;
        const name = `${prefix}${field.jsonName}`;
        const isMessage = field.fieldKind === 'message';
        if (isMessage && !QUERYABLE_WKT.has(field.message.typeName)) {
          if (depth < 2) walk(field.message, `${name}.`, depth + 1);
          continue;
        }
        if (field.fieldKind === 'map') continue;
        if (field.fieldKind === 'list' && field.listKind === 'message' && !QUERYABLE_WKT.has(field.message.typeName))
          continue;
        const schema = fieldSchema(field);
        const description = schema.description;
        delete schema.description;
        delete schema.readOnly;
        out.push({
          name,
          in: 'query',
          required: false,
          ...(description ? { description } : {}),
          schema,
          ...(field.fieldKind === 'list' ? { style: 'form', explode: true } : {}),
        });
      }
    };
    walk(route.input, '', 0);
    return out;
  };

  const pathParameters = (route: Route): Schema[] => {
    const names = [...route.openApiPath.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
    return names.map((name) => {
      const binding = route.pathBindings.find((b) => b.fieldPath === name || name.startsWith(`${b.fieldPath}.`));
      const leaf = binding?.fields[binding.fields.length - 1];
      const schema = leaf && binding?.params.length === 1 ? fieldSchema(leaf) : { type: 'string' };
      const description = schema.description;
      delete schema.description;
      delete schema.readOnly;
      return { name, in: 'path', required: true, ...(description ? { description } : {}), schema };
    });
  };

  const paths: Record<string, Record<string, Schema>> = {};
  for (const route of routes) {
    const desc = route.method.descriptor;
    const text = comments.of(desc);
    const operation: Schema = {
      operationId: route.operationId,
      tags: [desc.parent.name],
      summary: firstSentence(text) || desc.name,
      ...(text ? { description: text } : {}),
      parameters: [...pathParameters(route), ...queryParameters(route)],
      responses: responses(route),
      security: route.method.access === Access.ACCESS_PUBLIC ? [] : [{ bearerAuth: [] }],
    };
    if (route.body.kind !== 'none') {
      const schema =
        route.body.kind === 'all'
          ? objectSchema(route.input, new Set(route.pathBindings.map((b) => b.fields[0]?.name ?? '')))
          : fieldSchema(route.body.field);
      const empty = route.body.kind === 'all' && Object.keys((schema.properties as object) ?? {}).length === 0;
      operation.requestBody = {
        required: !empty,
        content: { 'application/json': { schema } },
      };
    }
    paths[route.openApiPath] ??= {};
    (paths[route.openApiPath] as Record<string, Schema>)[route.httpMethod.toLowerCase()] = operation;
  }

  function responses(route: Route): Schema {
    const out: Schema = {};
    const body = route.responseBody ? fieldSchema(route.responseBody) : ref(route.output);
    if (route.serverStreaming) {
      out['200'] = {
        description:
          'A stream: Server-Sent Events by default (one `data:` JSON message per event, `id:` the resume token), ' +
          'or newline-delimited JSON (`{"result": …}` / `{"error": Status}` per line) with `Accept: application/x-ndjson`.',
        content: {
          'text/event-stream': { schema: { type: 'string' } },
          'application/x-ndjson': {
            schema: { type: 'object', properties: { result: body, error: { $ref: STATUS_REF } } },
          },
        },
      };
    } else {
      out['200'] = { description: 'OK', content: { 'application/json': { schema: body } } };
      if (route.method.cache && route.httpMethod === 'GET')
        out['304'] = { description: 'Not modified (`If-None-Match`).' };
    }
    out.default = {
      description: 'An error: `google.rpc.Status`.',
      content: { 'application/json': { schema: { $ref: STATUS_REF } } },
    };
    return out;
  }

  // Components are filled breadth-first as references are met.
  while (pending.length > 0) {
    const message = pending.shift() as DescMessage;
    schemas[message.typeName] = objectSchema(message);
  }

  const services = new Map<string, DescService>();
  for (const r of routes) services.set(r.method.descriptor.parent.name, r.method.descriptor.parent);
  return {
    openapi: '3.0.3',
    info: {
      title: opts.title ?? 'Messenger API',
      version: opts.version ?? 'v1',
      ...(opts.description ? { description: opts.description } : {}),
    },
    tags: [...services.values()].map((s) => ({ name: s.name, description: comments.of(s) })),
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'An access token from `POST /v1/auth/login` or `POST /v1/auth/register`.',
        },
      },
    },
  };
}

function statusSchema(): Schema {
  return {
    type: 'object',
    description:
      'The body of every error (`google.rpc.Status`). 5xx carry only a generic message with an error id to quote.',
    properties: {
      code: { type: 'integer', format: 'int32', description: 'The gRPC status code (`google.rpc.Code`).' },
      message: { type: 'string', description: 'What went wrong, for developers.' },
      details: {
        type: 'array',
        description:
          'Machine-readable details, e.g. `google.rpc.BadRequest` (field violations) and `google.rpc.ErrorInfo` (reason).',
        items: { type: 'object', properties: { '@type': { type: 'string' } }, additionalProperties: true },
      },
    },
    required: ['code', 'message', 'details'],
  };
}

function firstSentence(text: string): string {
  const line = text.split('\n\n')[0]?.replace(/\n/g, ' ') ?? '';
  const dot = line.search(/\.(\s|$)/);
  return (dot < 0 ? line : line.slice(0, dot + 1)).trim();
}

function commentSuffix(c: string): string {
  return c ? `: ${c.replace(/\n/g, ' ')}` : '';
}

type Commented = DescMessage | DescField | DescEnum | DescEnum['values'][number] | DescService | DescMethod;

/** Leading comments from the descriptors' source info (kept by `buf build`), by declaration path. */
class CommentIndex {
  readonly #byFile = new Map<DescFile, Map<string, string>>();

  of(desc: Commented): string {
    const file = fileOf(desc);
    let map = this.#byFile.get(file);
    if (!map) {
      map = new Map();
      for (const loc of file.proto.sourceCodeInfo?.location ?? []) {
        if (loc.leadingComments) map.set(loc.path.join(','), clean(loc.leadingComments));
      }
      this.#byFile.set(file, map);
    }
    const path = pathOf(desc);
    return path ? (map.get(path.join(',')) ?? '') : '';
  }
}

function clean(comment: string): string {
  return comment
    .split('\n')
    .map((l) => (l.startsWith(' ') ? l.slice(1) : l).trimEnd())
    .join('\n')
    .trim();
}

function fileOf(desc: Commented): DescFile {
  switch (desc.kind) {
    case 'field':
      return desc.parent.file;
    case 'enum_value':
      return desc.parent.file;
    case 'rpc':
      return desc.parent.file;
    default:
      return desc.file;
  }
}

function pathOf(desc: Commented): number[] | undefined {
  switch (desc.kind) {
    case 'message': {
      if (desc.parent) {
        const parent = pathOf(desc.parent);
        return parent && [...parent, 3, desc.parent.proto.nestedType.indexOf(desc.proto)];
      }
      return [4, desc.file.proto.messageType.indexOf(desc.proto)];
    }
    case 'field': {
      const parent = pathOf(desc.parent);
      return parent && [...parent, 2, desc.parent.proto.field.indexOf(desc.proto)];
    }
    case 'enum': {
      if (desc.parent) {
        const parent = pathOf(desc.parent);
        return parent && [...parent, 4, desc.parent.proto.enumType.indexOf(desc.proto)];
      }
      return [5, desc.file.proto.enumType.indexOf(desc.proto)];
    }
    case 'enum_value': {
      const parent = pathOf(desc.parent);
      return parent && [...parent, 2, desc.parent.proto.value.indexOf(desc.proto)];
    }
    case 'service':
      return [6, desc.file.proto.service.indexOf(desc.proto)];
    case 'rpc': {
      const parent = pathOf(desc.parent);
      return parent && [...parent, 2, desc.parent.proto.method.indexOf(desc.proto)];
    }
    default:
      return undefined;
  }
}
