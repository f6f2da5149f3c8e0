import { type DescField, type DescMessage, getOption, hasOption } from '@bufbuild/protobuf';
import { Access } from '@messenger/gen/messenger/options/v1/options';
import type { ApiCatalog, MethodInfo } from '@messenger/platform/api-catalog';
import { type PathTemplate, parsePathTemplate, type Segment, shapeOf } from './path-template.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

/** One path variable: the request field it sets and how its value is read from the router's params. */
export interface PathBinding {
  /** The field path from the request message, e.g. `[user, user_id]`. */
  readonly fields: readonly DescField[];
  /** The dotted proto field path, e.g. `user.user_id`. */
  readonly fieldPath: string;
  /** The router params this variable spans, in order. */
  readonly params: readonly string[];
  /** Joins the params back into the field's value (literal parts included). */
  readonly valueOf: (params: Readonly<Record<string, string | undefined>>) => string;
}

export type BodyRule =
  | { readonly kind: 'none' }
  /** `body: "*"`: the whole request message, minus path-bound fields. */
  | { readonly kind: 'all' }
  /** `body: "<field>"`: that top-level field; the rest comes from the path and query. */
  | { readonly kind: 'field'; readonly field: DescField };

/** One HTTP binding of one RPC, compiled at start-up. */
export interface Route {
  readonly httpMethod: HttpMethod;
  readonly template: PathTemplate;
  /** The path as registered with Fastify's router (find-my-way syntax). */
  readonly routerPath: string;
  /** The path in OpenAPI syntax, `{name}` for every param. */
  readonly openApiPath: string;
  readonly method: MethodInfo;
  readonly input: DescMessage;
  readonly output: DescMessage;
  readonly pathBindings: readonly PathBinding[];
  readonly body: BodyRule;
  /** `response_body`: the output field sent instead of the whole message. */
  readonly responseBody: DescField | undefined;
  readonly serverStreaming: boolean;
  /** 0 for the main rule, 1.. for `additional_bindings`. */
  readonly bindingIndex: number;
  /** `UserService_GetUser`, `_1`… for additional bindings. */
  readonly operationId: string;
}

export class RouteTableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RouteTableError';
  }
}

interface HttpRuleValue {
  pattern: { case: string | undefined; value?: string | { kind: string; path: string } };
  body: string;
  responseBody: string;
  additionalBindings: HttpRuleValue[];
}

const HTTP_EXTENSION = 'google.api.http';

export interface RouteTableOptions {
  /** Paths the gateway serves itself; an RPC claiming one stops start-up. */
  readonly reservedPaths?: readonly string[];
}

/**
 * Compiles every `google.api.http` annotation of the catalog into routes.
 * Methods declared ACCESS_INTERNAL (or _BOOTSTRAP) are never routed, annotated or not. Any
 * error in an annotation, and two bindings claiming one method and path
 * shape, stop start-up with a message naming both RPCs.
 */
export function compileRouteTable(catalog: ApiCatalog, opts: RouteTableOptions = {}): Route[] {
  const ext = catalog.registry.getExtension(HTTP_EXTENSION);
  if (ext === undefined) return [];
  const routes: Route[] = [];
  const claimed = new Map<string, Route>();
  const reserved = new Set(opts.reservedPaths ?? []);
  for (const info of catalog.methods()) {
    const desc = info.descriptor;
    if (!hasOption(desc, ext)) continue;
    if (info.access === Access.ACCESS_INTERNAL || info.access === Access.ACCESS_INTERNAL_BOOTSTRAP) continue;
    if (desc.methodKind === 'client_streaming' || desc.methodKind === 'bidi_streaming') {
      throw new RouteTableError(`${info.path}: client-streaming methods cannot be served over HTTP`);
    }
    const rule = getOption(desc, ext) as unknown as HttpRuleValue;
    const rules = [rule, ...rule.additionalBindings];
    rules.forEach((r, index) => {
      if (index > 0 && r.additionalBindings.length > 0) {
        throw new RouteTableError(`${info.path}: additional_bindings may not nest`);
      }
      const route = compileRule(info, r, index);
      const shape = `${route.httpMethod} ${shapeOf(route.template)}`;
      const previous = claimed.get(shape);
      if (previous) {
        throw new RouteTableError(
          `duplicate route ${route.httpMethod} ${route.template.source}: claimed by ${previous.method.path} ` +
            `(${previous.httpMethod} ${previous.template.source}) and ${info.path}`,
        );
      }
      if (reserved.has(route.openApiPath)) {
        throw new RouteTableError(`${info.path}: ${route.template.source} is a path the gateway serves itself`);
      }
      claimed.set(shape, route);
      routes.push(route);
    });
  }
  return routes;
}

function compileRule(info: MethodInfo, rule: HttpRuleValue, bindingIndex: number): Route {
  const where = `${info.path}${bindingIndex > 0 ? ` (additional binding ${bindingIndex})` : ''}`;
  const fail = (reason: string): never => {
    throw new RouteTableError(`${where}: ${reason}`);
  };
  const desc = info.descriptor;
  const { httpMethod, path } = methodAndPath(rule, fail);
  let template: PathTemplate;
  try {
    template = parsePathTemplate(path);
  } catch (e) {
    return fail((e as Error).message);
  }
  const input = desc.input;
  const output = desc.output;

  const compiled = compilePath(template, input, fail);
  const boundTopLevel = new Set(compiled.bindings.map((b) => b.fields[0]?.name));

  let body: BodyRule = { kind: 'none' };
  if (rule.body === '*') body = { kind: 'all' };
  else if (rule.body !== '') {
    const field = input.fields.find((f) => f.name === rule.body);
    if (!field) fail(`body field ${JSON.stringify(rule.body)} is not a top-level field of ${input.typeName}`);
    if (boundTopLevel.has(rule.body)) fail(`body field ${rule.body} is also bound in the path`);
    body = { kind: 'field', field: field as DescField };
  }
  if (httpMethod === 'GET' && body.kind !== 'none') fail('a GET binding cannot have a body');

  let responseBody: DescField | undefined;
  if (rule.responseBody !== '') {
    responseBody = output.fields.find((f) => f.name === rule.responseBody);
    if (!responseBody) fail(`response_body ${JSON.stringify(rule.responseBody)} is not a field of ${output.typeName}`);
  }

  return {
    httpMethod,
    template,
    routerPath: compiled.routerPath,
    openApiPath: compiled.openApiPath,
    method: info,
    input,
    output,
    pathBindings: compiled.bindings,
    body,
    responseBody,
    serverStreaming: desc.methodKind === 'server_streaming',
    bindingIndex,
    operationId: `${desc.parent.name}_${desc.name}${bindingIndex > 0 ? `_${bindingIndex}` : ''}`,
  };
}

function methodAndPath(rule: HttpRuleValue, fail: (r: string) => never): { httpMethod: HttpMethod; path: string } {
  const { pattern } = rule;
  if (pattern.case === undefined || pattern.value === undefined) return fail('google.api.http has no pattern');
  if (pattern.case === 'custom') {
    const custom = pattern.value as { kind: string; path: string };
    const kind = custom.kind.toUpperCase();
    if (!METHODS.has(kind)) return fail(`unsupported custom HTTP method ${JSON.stringify(custom.kind)}`);
    return { httpMethod: kind as HttpMethod, path: custom.path };
  }
  const kind = pattern.case.toUpperCase();
  if (!METHODS.has(kind)) return fail(`unsupported HTTP method ${pattern.case}`);
  return { httpMethod: kind as HttpMethod, path: pattern.value as string };
}

const VERB = /^[A-Za-z0-9_-]+$/;

/**
 * Turns a template into a find-my-way path. A variable spanning several
 * segments (`{name=shelves/*}`) becomes its literals plus one router param per
 * wildcard, joined back into the field's value; `**` becomes the router's
 * trailing wildcard; a verb after a param becomes a regex param whose suffix
 * is stripped again.
 */
function compilePath(
  template: PathTemplate,
  input: DescMessage,
  fail: (r: string) => never,
): { routerPath: string; openApiPath: string; bindings: PathBinding[] } {
  const router: string[] = [];
  const openApi: string[] = [];
  const bindings: PathBinding[] = [];
  let nextParam = 0;
  const { verb } = template;
  if (verb !== undefined && !VERB.test(verb)) fail(`unsupported verb ${JSON.stringify(verb)}`);
  const flat = template.parts.flatMap((p) => (p.kind === 'variable' ? p.segments : [p]));
  const lastSegment = flat[flat.length - 1];
  let segmentIndex = 0;

  // A router param for one `*`; the last one carries the verb, if any.
  const paramFor = (openApiName: string): { name: string; router: string } => {
    const name = `p${nextParam++}`;
    const isLast = segmentIndex === flat.length - 1;
    const router = isLast && verb !== undefined ? `:${name}(^.*:${verb}$)` : `:${name}`;
    openApi.push(isLast && verb !== undefined ? `{${openApiName}}:${verb}` : `{${openApiName}}`);
    return { name, router };
  };
  const literal = (s: Extract<Segment, { kind: 'literal' }>): void => {
    const isLast = segmentIndex === flat.length - 1;
    router.push(isLast && verb !== undefined ? `${s.value}::${verb}` : s.value);
    openApi.push(isLast && verb !== undefined ? `${s.value}:${verb}` : s.value);
  };
  const stripVerb = verb === undefined ? (v: string) => v : (v: string) => v.slice(0, v.length - verb.length - 1);

  for (const part of template.parts) {
    if (part.kind === 'literal') {
      literal(part);
      segmentIndex++;
      continue;
    }
    if (part.kind === 'wildcard') {
      router.push(paramFor(`_${nextParam}`).router);
      segmentIndex++;
      continue;
    }
    if (part.kind === 'deep-wildcard') {
      if (verb !== undefined) fail('a verb after "**" is not supported');
      router.push('*');
      openApi.push('{_rest}');
      segmentIndex++;
      continue;
    }
    // A variable.
    const fields = resolveFieldPath(input, part.fieldPath, fail);
    const fieldPath = part.fieldPath.join('.');
    const pieces: ({ literal: string } | { param: string; last: boolean })[] = [];
    const params: string[] = [];
    const wildcards = part.segments.filter((s) => s.kind !== 'literal').length;
    for (const seg of part.segments) {
      const isLast = segmentIndex === flat.length - 1;
      if (seg.kind === 'literal') {
        literal(seg);
        pieces.push({ literal: seg.value });
      } else if (seg.kind === 'wildcard') {
        const name = wildcards > 1 ? `${fieldPath}.${params.length + 1}` : fieldPath;
        const p = paramFor(name);
        router.push(p.router);
        params.push(p.name);
        pieces.push({ param: p.name, last: isLast });
      } else {
        if (verb !== undefined) fail('a verb after "**" is not supported');
        router.push('*');
        openApi.push(`{${fieldPath}}`);
        params.push('*');
        pieces.push({ param: '*', last: isLast });
      }
      segmentIndex++;
    }
    bindings.push({ fields, fieldPath, params, valueOf: joiner(pieces, stripVerb) });
  }
  if (lastSegment === undefined) fail('empty template');
  return { routerPath: `/${router.join('/')}`, openApiPath: `/${openApi.join('/')}`, bindings };
}

function joiner(
  pieces: readonly ({ literal: string } | { param: string; last: boolean })[],
  stripVerb: (v: string) => string,
): PathBinding['valueOf'] {
  const only = pieces.length === 1 ? pieces[0] : undefined;
  if (only && 'param' in only) {
    const { param, last } = only;
    return last ? (p) => stripVerb(p[param] ?? '') : (p) => p[param] ?? '';
  }
  return (p) =>
    pieces
      .map((piece) =>
        'literal' in piece ? piece.literal : piece.last ? stripVerb(p[piece.param] ?? '') : (p[piece.param] ?? ''),
      )
      .join('/');
}

/** Resolves a dotted proto field path; every step but the last is a singular message, the last a singular scalar or enum. */
export function resolveFieldPath(
  message: DescMessage,
  path: readonly string[],
  fail: (r: string) => never,
): DescField[] {
  const fields: DescField[] = [];
  let current: DescMessage | undefined = message;
  path.forEach((name, i) => {
    const field = current?.fields.find((f) => f.name === name);
    if (!field) fail(`path variable ${path.join('.')}: ${current?.typeName} has no field ${name}`);
    const f = field as DescField;
    fields.push(f);
    const last = i === path.length - 1;
    if (last) {
      if (f.fieldKind !== 'scalar' && f.fieldKind !== 'enum') {
        fail(`path variable ${path.join('.')} must be a singular scalar or enum field`);
      }
    } else {
      if (f.fieldKind !== 'message') fail(`path variable ${path.join('.')}: ${name} is not a singular message field`);
      current = f.fieldKind === 'message' ? f.message : undefined;
    }
  });
  return fields;
}
