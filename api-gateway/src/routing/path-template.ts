/**
 * The `google.api.http` path template grammar (google/api/http.proto):
 *
 *     Template = "/" Segments [ Verb ] ;
 *     Segments = Segment { "/" Segment } ;
 *     Segment  = "*" | "**" | LITERAL | Variable ;
 *     Variable = "{" FieldPath [ "=" Segments ] "}" ;
 *     FieldPath = IDENT { "." IDENT } ;
 *     Verb     = ":" LITERAL ;
 *
 * Parsed once at start-up; a template that does not parse stops start-up.
 */

export type Segment =
  | { readonly kind: 'literal'; readonly value: string }
  /** `*`: exactly one path segment. */
  | { readonly kind: 'wildcard' }
  /** `**`: the rest of the path, zero or more segments; only last. */
  | { readonly kind: 'deep-wildcard' };

export type TemplatePart =
  | Segment
  | {
      readonly kind: 'variable';
      /** `user.user_id` → `['user', 'user_id']`. */
      readonly fieldPath: readonly string[];
      /** What the variable matches; `{x}` is `{x=*}`. */
      readonly segments: readonly Segment[];
    };

export interface PathTemplate {
  /** The template as written in the contract. */
  readonly source: string;
  readonly parts: readonly TemplatePart[];
  readonly verb: string | undefined;
}

export class TemplateError extends Error {
  constructor(template: string, reason: string) {
    super(`invalid path template ${JSON.stringify(template)}: ${reason}`);
    this.name = 'TemplateError';
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Unreserved and sub-delims of RFC 3986 plus `%`-escapes, `@` and `:` (pchar),
// minus the characters the grammar itself uses.
const LITERAL = /^(?:[A-Za-z0-9\-._~!$&'()+,;=@]|%[0-9A-Fa-f]{2})+$/;

export function parsePathTemplate(source: string): PathTemplate {
  const fail = (reason: string): never => {
    throw new TemplateError(source, reason);
  };
  if (!source.startsWith('/')) fail('must start with "/"');

  // The verb is the text after the last ':' that is outside any `{...}`.
  let depth = 0;
  let verbAt = -1;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (c === ':' && depth === 0) verbAt = i;
    if (depth < 0 || depth > 1) fail('unbalanced or nested braces');
  }
  if (depth !== 0) fail('unbalanced braces');
  let path = source;
  let verb: string | undefined;
  if (verbAt >= 0) {
    verb = source.slice(verbAt + 1);
    path = source.slice(0, verbAt);
    if (!LITERAL.test(verb)) fail(`invalid verb ${JSON.stringify(verb)}`);
  }

  const parts: TemplatePart[] = [];
  const rest = path.slice(1);
  if (rest === '') fail('needs at least one segment');
  for (const raw of splitOutsideBraces(rest)) {
    if (raw.includes('{') || raw.includes('}')) {
      if (!raw.startsWith('{') || !raw.endsWith('}')) fail(`variable ${JSON.stringify(raw)} must be a whole segment`);
      const inner = raw.slice(1, -1);
      const eq = inner.indexOf('=');
      const fieldPath = (eq < 0 ? inner : inner.slice(0, eq)).split('.');
      if (!fieldPath.every((p) => IDENT.test(p))) fail(`invalid field path ${JSON.stringify(inner)}`);
      const segments =
        eq < 0
          ? [{ kind: 'wildcard' } as const]
          : inner
              .slice(eq + 1)
              .split('/')
              .map(toSegment);
      if (segments.length === 0) fail('empty variable pattern');
      parts.push({ kind: 'variable', fieldPath, segments });
    } else {
      parts.push(toSegment(raw));
    }
  }

  // `**` may only be the very last segment of the template.
  const flat = parts.flatMap((p) => (p.kind === 'variable' ? p.segments : [p]));
  flat.forEach((s, i) => {
    if (s.kind === 'deep-wildcard' && i !== flat.length - 1) fail('"**" must be the last segment');
  });
  const seen = new Set<string>();
  for (const p of parts) {
    if (p.kind !== 'variable') continue;
    const key = p.fieldPath.join('.');
    if (seen.has(key)) fail(`field ${key} is bound twice`);
    seen.add(key);
  }
  return { source, parts, verb };

  function toSegment(raw: string): Segment {
    if (raw === '*') return { kind: 'wildcard' };
    if (raw === '**') return { kind: 'deep-wildcard' };
    if (raw === '') fail('empty segment');
    if (!LITERAL.test(raw)) fail(`invalid literal ${JSON.stringify(raw)}`);
    return { kind: 'literal', value: raw };
  }
}

function splitOutsideBraces(path: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (c === '/' && depth === 0) {
      out.push(path.slice(start, i));
      start = i + 1;
    }
  }
  out.push(path.slice(start));
  return out;
}

/**
 * The shape two templates must not share: variables and wildcards are
 * anonymous, so `/v1/users/{id}` and `/v1/users/{user_id}` collide.
 */
export function shapeOf(t: PathTemplate): string {
  const segs = t.parts.flatMap((p) => (p.kind === 'variable' ? p.segments : [p]));
  const body = segs.map((s) => (s.kind === 'literal' ? s.value : s.kind === 'wildcard' ? '*' : '**')).join('/');
  return `/${body}${t.verb === undefined ? '' : `:${t.verb}`}`;
}
