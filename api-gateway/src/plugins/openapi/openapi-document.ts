import {
  type DescEnum,
  type DescField,
  type DescMessage,
  type DescService,
  getOption,
  hasOption,
  type Registry,
} from '@bufbuild/protobuf';
import { Access } from '@messenger/gen/messenger/options/v1/options';
import { SCALAR_JSON_WKT } from '../../marshal/well-known-types.ts';
import type { Route } from '../../routing/route-table.ts';
import { type Schema, scalarSchema, statusSchema, WKT_SCHEMAS } from './openapi-schemas.ts';
import { CommentIndex } from './proto-comments.ts';

export interface OpenApiOptions {
  readonly title?: string;
  readonly version?: string;
  readonly description?: string;
}

/**
 * A route the gateway serves itself (media uploads and downloads), described
 * next to its handler: raw bytes in or out, and where it answers JSON, a
 * message of the contract (by type name) so its schema is the RPC's.
 */
export interface OwnOperation {
  readonly method: 'get' | 'post' | 'put';
  /** OpenAPI form: `/v1/chats/{chat_id}/attachments`. */
  readonly path: string;
  readonly operationId: string;
  readonly tag: string;
  readonly summary: string;
  readonly description: string;
  readonly public?: boolean;
  readonly parameters: readonly {
    readonly name: string;
    readonly in: 'path' | 'query' | 'header';
    readonly required: boolean;
    readonly description: string;
  }[];
  /** The body is the file itself. */
  readonly uploads?: boolean;
  /** The JSON answer's message; absent, the answer is the stored bytes. */
  readonly responseMessage?: string;
}

const FIELD_BEHAVIOR = 'google.api.field_behavior';
const REQUIRED = 2;
const OUTPUT_ONLY = 3;
const STATUS_REF = '#/components/schemas/google.rpc.Status';

/**
 * The OpenAPI 3 document of the routes, derived from the same descriptors
 * the routes are: one operation per binding, message schemas as components,
 * proto comments as descriptions, `REQUIRED`/`OUTPUT_ONLY` field behaviour,
 * the bearer scheme on every non-public operation, and `google.rpc.Status`
 * as every operation's error response.
 */
export function buildOpenApiDocument(
  routes: readonly Route[],
  registry: Registry,
  opts: OpenApiOptions = {},
  own: readonly OwnOperation[] = [],
): Schema {
  const comments = new CommentIndex();
  const behaviorExt = registry.getExtension(FIELD_BEHAVIOR);
  const schemas: Record<string, Schema> = { 'google.rpc.Status': statusSchema() };
  const pending: DescMessage[] = [];

  const behaviors = (field: DescField): number[] =>
    behaviorExt && hasOption(field, behaviorExt) ? (getOption(field, behaviorExt) as unknown as number[]) : [];

  const ref = (message: DescMessage): Schema => {
    const wkt = WKT_SCHEMAS[message.typeName];
    if (wkt) return { ...wkt };
    if (!(message.typeName in schemas)) {
      schemas[message.typeName] = {};
      pending.push(message);
    }
    return { $ref: `#/components/schemas/${message.typeName}` };
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
        if (isMessage && !SCALAR_JSON_WKT.has(field.message.typeName)) {
          if (depth < 2) walk(field.message, `${name}.`, depth + 1);
          continue;
        }
        if (field.fieldKind === 'map') continue;
        if (field.fieldKind === 'list' && field.listKind === 'message' && !SCALAR_JSON_WKT.has(field.message.typeName))
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

  for (const op of own) {
    const message = op.responseMessage === undefined ? undefined : registry.getMessage(op.responseMessage);
    if (op.responseMessage !== undefined && message === undefined) {
      throw new TypeError(`gateway: ${op.operationId} answers ${op.responseMessage}, which is not in the contract`);
    }
    const ok = message
      ? { description: 'OK', content: { 'application/json': { schema: ref(message) } } }
      : { description: 'The stored bytes.', content: { '*/*': { schema: { type: 'string', format: 'binary' } } } };
    paths[op.path] ??= {};
    (paths[op.path] as Record<string, Schema>)[op.method] = {
      operationId: op.operationId,
      tags: [op.tag],
      summary: op.summary,
      description: op.description,
      parameters: op.parameters.map((p) => ({ ...p, schema: { type: 'string' } })),
      ...(op.uploads
        ? {
            requestBody: {
              required: true,
              content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
            },
          }
        : {}),
      responses: {
        '200': ok,
        ...(message ? {} : { '206': { description: 'The requested byte range (`Range`).' } }),
        default: {
          description: 'An error: `google.rpc.Status`.',
          content: { 'application/json': { schema: { $ref: STATUS_REF } } },
        },
      },
      security: op.public ? [] : [{ bearerAuth: [] }],
    };
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

function firstSentence(text: string): string {
  const line = text.split('\n\n')[0]?.replace(/\n/g, ' ') ?? '';
  const dot = line.search(/\.(\s|$)/);
  return (dot < 0 ? line : line.slice(0, dot + 1)).trim();
}

function commentSuffix(c: string): string {
  return c ? `: ${c.replace(/\n/g, ' ')}` : '';
}
