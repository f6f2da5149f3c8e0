// The OpenAPI document is derived from the same descriptors as the routes.
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import { buildOpenApiDocument } from '../src/plugins/openapi/openapi-document.ts';
import { compileRouteTable } from '../src/routing/route-table.ts';
import { type GatewayFixture, startGateway } from './fixture.ts';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: { schemas: Record<string, Record<string, unknown>>; securitySchemes: Record<string, unknown> };
};

/** Every `$ref` in the document points at a component that exists. */
function danglingRefs(doc: Doc): string[] {
  const missing: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === '$ref' && typeof x === 'string') {
          const name = x.replace('#/components/schemas/', '');
          if (!(name in doc.components.schemas)) missing.push(x);
        } else walk(x);
      }
    }
  };
  walk(doc);
  return missing;
}

describe('OpenAPI document', () => {
  let fx: GatewayFixture;
  let doc: Doc;
  beforeAll(async () => {
    fx = await startGateway();
    const res = await fx.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    doc = res.json();
  });
  afterAll(() => fx.close());

  it('has one operation per binding, and no internal method', () => {
    expect(doc.openapi).toBe('3.0.3');
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/v1/admin/purge',
        '/v1/contacts',
        '/v1/fail/{mode}',
        '/v1/files/{label}',
        '/v1/inspect',
        '/v1/mirror',
        '/v1/mirror/things/{id}:inspect',
        '/v1/mirror/{id}',
        '/v1/sign-in',
        '/v1/sleep/{ms}',
        '/v1/updates',
        '/v1/users/{user_id}',
      ].sort(),
    );
    expect(Object.keys(doc.paths['/v1/users/{user_id}'] ?? {}).sort()).toEqual(['get', 'patch']);
    expect(JSON.stringify(doc)).not.toContain('/v1/internal');
    expect(danglingRefs(doc)).toEqual([]);
  });

  it('describes operations from proto comments, with the bearer scheme where a token is needed', () => {
    const get = doc.paths['/v1/users/{user_id}']?.get;
    expect(get).toMatchObject({
      operationId: 'ProfileService_GetProfile',
      tags: ['ProfileService'],
      summary: 'Returns one profile.',
      description: 'Returns one profile. Fails with NOT_FOUND when there is none.',
      security: [{ bearerAuth: [] }],
      parameters: [
        { name: 'user_id', in: 'path', required: true, description: "The profile's id.", schema: { type: 'string' } },
      ],
    });
    expect(doc.paths['/v1/sign-in']?.post?.security).toEqual([]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    });
  });

  it('answers errors with the google.rpc.Status schema', () => {
    for (const ops of Object.values(doc.paths)) {
      for (const op of Object.values(ops)) {
        expect(op.responses).toMatchObject({
          default: { content: { 'application/json': { schema: { $ref: '#/components/schemas/google.rpc.Status' } } } },
        });
      }
    }
    expect(doc.components.schemas['google.rpc.Status']).toMatchObject({
      type: 'object',
      required: ['code', 'message', 'details'],
    });
  });

  it('derives schemas from messages: JSON names, int64 as strings, enums by name, field behaviour', () => {
    const schemas = doc.components.schemas;
    expect(schemas['messenger.gatewaytest.v1.Profile']).toMatchObject({
      type: 'object',
      description: 'A profile.',
      properties: {
        userId: { type: 'string', readOnly: true, description: 'The id.' },
        reads: { type: 'string', format: 'int64', readOnly: true },
      },
    });
    expect(schemas['messenger.gatewaytest.v1.Everything']?.properties).toMatchObject({
      big: { type: 'string', format: 'int64' },
      color: { type: 'string', enum: ['COLOR_UNSPECIFIED', 'COLOR_RED', 'COLOR_BLUE'] },
      when: { type: 'string', format: 'date-time' },
      mask: { type: 'string' },
      counters: { type: 'object', additionalProperties: { type: 'string', format: 'int64' } },
      displayName: { type: 'string' },
      nested: {
        allOf: [{ $ref: '#/components/schemas/messenger.gatewaytest.v1.Nested' }],
        description: 'A nested message.',
      },
    });
  });

  it('puts path-bound fields in the path, the rest of a GET in the query, and body "*" minus the path in the body', () => {
    const query =
      (doc.paths['/v1/mirror/{id}']?.get?.parameters as { name: string; in: string; schema: unknown }[]) ?? [];
    const names = query.filter((p) => p.in === 'query').map((p) => p.name);
    expect(names).toEqual(
      expect.arrayContaining(['count', 'big', 'tags', 'nested.name', 'nested.child.level', 'when', 'maybe']),
    );
    expect(names).not.toContain('id');
    expect(names).not.toContain('counters');
    expect(query.find((p) => p.name === 'tags')).toMatchObject({
      schema: { type: 'array', items: { type: 'string' } },
    });
    const patch = doc.paths['/v1/users/{user_id}']?.patch as {
      requestBody: { content: Record<string, { schema: { properties: object } }> };
    };
    expect(Object.keys(patch.requestBody.content['application/json']?.schema.properties ?? {})).toEqual(['about']);
  });

  it('documents streams as SSE and NDJSON', () => {
    const responses = (doc.paths['/v1/updates']?.get?.responses ?? {}) as Record<string, { content: object }>;
    const ok = responses['200'];
    expect(Object.keys(ok?.content ?? {})).toEqual(['text/event-stream', 'application/x-ndjson']);
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/docs/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    const spec = await fx.app.inject({ method: 'GET', url: '/docs/json' });
    expect(spec.json().paths).toEqual(doc.paths);
  });

  it('documents the messenger contracts with every reference resolved', async () => {
    const catalog = await loadMessengerCatalog();
    const messenger = buildOpenApiDocument(compileRouteTable(catalog), catalog.registry) as Doc;
    expect(danglingRefs(messenger)).toEqual([]);
    expect(messenger.paths['/v1/users/{user_id}']?.get).toMatchObject({
      operationId: 'UserService_GetUser',
      security: [{ bearerAuth: [] }],
    });
    expect(messenger.paths['/v1/auth/register']?.post?.security).toEqual([]);
    const patch = messenger.paths['/v1/users/{user_id}']?.patch as {
      requestBody: { content: Record<string, { schema: object }> };
    };
    expect(patch.requestBody.content['application/json']?.schema).toMatchObject({ required: ['user', 'updateMask'] });
    expect(messenger.components.schemas['messenger.user.v1.User']?.description).toMatch(/^A user's public profile/);
  });
});
