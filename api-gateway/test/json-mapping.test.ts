// The canonical proto3 JSON mapping, both ways, through the gateway and a
// real gRPC service that returns what it decoded (MirrorService.Mirror).
import { type GatewayFixture, startGateway } from './fixture.ts';

let fx: GatewayFixture;
beforeAll(async () => {
  fx = await startGateway();
});
afterAll(() => fx.close());

type Case = [name: string, body: unknown, expected: Record<string, unknown> | number];

describe('JSON body → gRPC → JSON', () => {
  const cases: Case[] = [
    ['int64 as a string keeps precision', { big: '9007199254740993' }, { big: '9007199254740993' }],
    ['int64 as a number is accepted, answered as a string', { big: 5 }, { big: '5' }],
    ['uint64 max', { ubig: '18446744073709551615' }, { ubig: '18446744073709551615' }],
    ['repeated int64', { numbers: ['1', 2, '-3'] }, { numbers: ['1', '2', '-3'] }],
    ['enum by name', { color: 'COLOR_BLUE' }, { color: 'COLOR_BLUE' }],
    ['enum by number, answered by name', { color: 1 }, { color: 'COLOR_RED' }],
    ['repeated enum', { colors: ['COLOR_RED', 2] }, { colors: ['COLOR_RED', 'COLOR_BLUE'] }],
    ['timestamp normalised to UTC', { when: '2024-05-06T07:08:09.5+02:00' }, { when: '2024-05-06T05:08:09.500Z' }],
    ['duration', { timeout: '1.5s' }, { timeout: '1.500s' }],
    ['field mask in camelCase', { mask: 'about,avatarUrl' }, { mask: 'about,avatarUrl' }],
    ['snake_case input name accepted, camelCase out', { display_name: 'Al' }, { displayName: 'Al' }],
    ['camelCase input name', { displayName: 'Al' }, { displayName: 'Al' }],
    ['bytes as base64', { blob: 'aGVsbG8=' }, { blob: 'aGVsbG8=' }],
    ['bytes as URL-safe base64', { blob: '-_8' }, { blob: '+/8=' }],
    ['wrapper value', { maybe: 7 }, { maybe: 7 }],
    ['wrapper null is unset', { maybe: null }, {}],
    ['oneof member', { text: 'a' }, { text: 'a' }],
    ['map with int64 values', { counters: { a: '1', b: 2 } }, { counters: { a: '1', b: '2' } }],
    [
      'nested message',
      { nested: { name: 'x', child: { level: 2 } } },
      { nested: { name: 'x', level: 0, child: { name: '', level: 2 } } },
    ],
    ['null scalar is the default', { count: null }, { count: 0 }],
    ['NaN double', { ratio: 'NaN' }, { ratio: 'NaN' }],
    ['float', { score: 1.5 }, { score: 1.5 }],
    [
      'defaults are emitted, unset messages are not',
      {},
      {
        id: '',
        count: 0,
        big: '0',
        ubig: '0',
        flag: false,
        ratio: 0,
        blob: '',
        color: 'COLOR_UNSPECIFIED',
        tags: [],
        counters: {},
      },
    ],
    ['unknown field', { bogus: 1 }, 400],
    ['unknown nested field', { nested: { bogus: 1 } }, 400],
    ['both names of one field', { display_name: 'a', displayName: 'b' }, 400],
    ['string for int32', { count: 'abc' }, 400],
    ['fraction for int32', { count: 1.5 }, 400],
    ['int32 overflow', { count: 2147483648 }, 400],
    ['string for bool', { flag: 'yes' }, 400],
    ['unknown enum name', { color: 'COLOR_GREEN' }, 400],
    ['invalid timestamp', { when: 'yesterday' }, 400],
    ['field mask in snake_case', { mask: 'avatar_url' }, 400],
    ['two oneof members', { text: 'a', number: 1 }, 400],
    ['array body', [1, 2], 400],
    ['string body', 'hello', 400],
    ['int64 out of range', { big: '9223372036854775808' }, 400],
  ];

  it.each(cases)('%s', async (_name, body, expected) => {
    const res = await fx.app.inject({
      method: 'POST',
      url: '/v1/mirror',
      payload: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    if (typeof expected === 'number') {
      expect(res.statusCode).toBe(expected);
      const status = res.json();
      expect(status).toEqual({ code: 3, message: expect.any(String), details: expect.any(Array) });
      return;
    }
    expect(res.statusCode).toBe(200);
    const json = res.json();
    expect(json).toMatchObject(expected);
    if ('maybe' in (body as object) && (body as { maybe: unknown }).maybe === null)
      expect(json).not.toHaveProperty('maybe');
  });

  it('names the offending field in a BadRequest violation', async () => {
    const res = await fx.app.inject({ method: 'POST', url: '/v1/mirror', payload: { count: 'abc' } });
    expect(res.json().details).toEqual([
      {
        '@type': 'type.googleapis.com/google.rpc.BadRequest',
        fieldViolations: [{ field: 'count', description: expect.stringContaining('count') }],
      },
    ]);
    const unknown = await fx.app.inject({ method: 'POST', url: '/v1/mirror', payload: { bogus: 1 } });
    expect(unknown.json().message).toBe('unknown field "bogus"');
  });
});

describe('path and query → gRPC', () => {
  it.each([
    ['path variable', '/v1/mirror/abc', { id: 'abc' }],
    ['percent-encoded path variable', '/v1/mirror/a%20b%2Fc', { id: 'a b/c' }],
    [
      'nested query fields',
      '/v1/mirror/x?nested.name=n&nested.child.level=2',
      { nested: { name: 'n', child: { level: 2 } } },
    ],
    ['repeated query values', '/v1/mirror/x?tags=a&tags=b', { tags: ['a', 'b'] }],
    [
      'repeated enums by name and number',
      '/v1/mirror/x?colors=COLOR_RED&colors=2',
      { colors: ['COLOR_RED', 'COLOR_BLUE'] },
    ],
    ['int64', '/v1/mirror/x?big=-9007199254740993', { big: '-9007199254740993' }],
    ['bool forms', '/v1/mirror/x?flag=true', { flag: true }],
    ['bool as 1', '/v1/mirror/x?flag=1', { flag: true }],
    ['enum by number', '/v1/mirror/x?color=1', { color: 'COLOR_RED' }],
    ['timestamp', '/v1/mirror/x?when=2024-01-01T00:00:00Z', { when: '2024-01-01T00:00:00Z' }],
    ['field mask', '/v1/mirror/x?mask=about,avatarUrl', { mask: 'about,avatarUrl' }],
    ['wrapper', '/v1/mirror/x?maybe=3', { maybe: 3 }],
    ['snake_case name', '/v1/mirror/x?display_name=Al', { displayName: 'Al' }],
    ['multi-segment path variable', '/v1/files/a/b/c', { label: 'a/b/c' }],
  ])('%s', async (_name, url, expected) => {
    const res = await fx.app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject(expected);
  });

  it.each([
    ['unknown parameter', '/v1/mirror/x?bogus=1'],
    ['a path-bound field in the query', '/v1/mirror/x?id=y'],
    ['a singular field given twice', '/v1/mirror/x?count=1&count=2'],
    ['a bad bool', '/v1/mirror/x?flag=yes'],
    ['a bad number', '/v1/mirror/x?count=ten'],
    ['a map field', '/v1/mirror/x?counters=1'],
    ['a repeated message', '/v1/mirror/x?items=1'],
    ['sub-field of a scalar', '/v1/mirror/x?count.x=1'],
    ['too deep', '/v1/mirror/x?a.b.c.d.e.f.g.h.i=1'],
  ])('refuses %s with 400', async (_name, url) => {
    const res = await fx.app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 3, message: expect.any(String) });
  });

  it('binds a body field, a multi-segment variable with a verb, and answers response_body only', async () => {
    const res = await fx.app.inject({
      method: 'POST',
      url: '/v1/mirror/things/t1:inspect',
      payload: { name: 'n', level: 3 },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ name: 'n', level: 3 });
  });

  it('takes path values over the body (the id comes from the path only)', async () => {
    const res = await fx.app.inject({
      method: 'PATCH',
      url: '/v1/users/u1',
      headers: { authorization: `Bearer ${await fx.auth.token('u1')}` },
      payload: { userId: 'u2', about: 'changed' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().profile).toMatchObject({ userId: 'u1', about: 'changed' });
    expect(fx.upstream.state.profiles.get('u2')?.about).toBe('');
  });
});
