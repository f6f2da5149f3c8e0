import { parsePathTemplate, shapeOf, TemplateError } from './path-template.ts';

describe('path template parser', () => {
  it.each([
    [
      '/v1/users',
      [
        { kind: 'literal', value: 'v1' },
        { kind: 'literal', value: 'users' },
      ],
      undefined,
    ],
    [
      '/v1/users/{user_id}',
      [
        { kind: 'literal', value: 'v1' },
        { kind: 'literal', value: 'users' },
        { kind: 'variable', fieldPath: ['user_id'], segments: [{ kind: 'wildcard' }] },
      ],
      undefined,
    ],
    [
      '/v1/{name=shelves/*/books/*}',
      [
        { kind: 'literal', value: 'v1' },
        {
          kind: 'variable',
          fieldPath: ['name'],
          segments: [
            { kind: 'literal', value: 'shelves' },
            { kind: 'wildcard' },
            { kind: 'literal', value: 'books' },
            { kind: 'wildcard' },
          ],
        },
      ],
      undefined,
    ],
    [
      '/v1/{book.name}:publish',
      [
        { kind: 'literal', value: 'v1' },
        { kind: 'variable', fieldPath: ['book', 'name'], segments: [{ kind: 'wildcard' }] },
      ],
      'publish',
    ],
    ['/v1/*/x', [{ kind: 'literal', value: 'v1' }, { kind: 'wildcard' }, { kind: 'literal', value: 'x' }], undefined],
    [
      '/v1/files/{path=**}',
      [
        { kind: 'literal', value: 'v1' },
        { kind: 'literal', value: 'files' },
        { kind: 'variable', fieldPath: ['path'], segments: [{ kind: 'deep-wildcard' }] },
      ],
      undefined,
    ],
    [
      '/v1/things:batchGet',
      [
        { kind: 'literal', value: 'v1' },
        { kind: 'literal', value: 'things' },
      ],
      'batchGet',
    ],
  ])('parses %s', (source, parts, verb) => {
    const t = parsePathTemplate(source);
    expect(t.parts).toEqual(parts);
    expect(t.verb).toBe(verb);
  });

  it.each([
    ['v1/users', 'must start with "/"'],
    ['/', 'needs at least one segment'],
    ['/v1//users', 'empty segment'],
    ['/v1/{user_id', 'unbalanced'],
    ['/v1/{a{b}}', 'nested'],
    ['/v1/{1abc}', 'invalid field path'],
    ['/v1/{a}/{a}', 'bound twice'],
    ['/v1/**/x', '"**" must be the last segment'],
    ['/v1/{a=**}/x', '"**" must be the last segment'],
    ['/v1/us ers', 'invalid literal'],
    ['/v1/x{a}', 'must be a whole segment'],
    ['/v1/x:', 'invalid verb'],
  ])('refuses %s (%s)', (source, reason) => {
    expect(() => parsePathTemplate(source)).toThrow(TemplateError);
    expect(() => parsePathTemplate(source)).toThrow(reason);
  });

  it('gives two templates that differ only in variable names the same shape', () => {
    expect(shapeOf(parsePathTemplate('/v1/users/{id}'))).toBe(shapeOf(parsePathTemplate('/v1/users/{user_id}')));
    expect(shapeOf(parsePathTemplate('/v1/{name=shelves/*}'))).toBe('/v1/shelves/*');
    expect(shapeOf(parsePathTemplate('/v1/users/{id}:undelete'))).toBe('/v1/users/*:undelete');
    expect(shapeOf(parsePathTemplate('/v1/users/me'))).not.toBe(shapeOf(parsePathTemplate('/v1/users/{id}')));
  });
});
