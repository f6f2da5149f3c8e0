import { createApiCatalog, loadMessengerCatalog } from '@messenger/platform/api-catalog';
import { editedDescriptorSet, testCatalog } from '../../test/fixture.ts';
import { compileRouteTable, RouteTableError } from './route-table.ts';

/** Inserts an RPC into MirrorService of the test proto. */
function addRpc(rpc: string, messages = ''): (source: string) => string {
  return (source) =>
    source.replace('service MirrorService {', `service MirrorService {\n${rpc}\n`).concat(`\n${messages}\n`);
}

describe('route table', () => {
  it('compiles every annotated, non-internal RPC of the test contracts', async () => {
    const routes = compileRouteTable(await testCatalog());
    const table = routes.map((r) => `${r.httpMethod} ${r.template.source} ${r.method.name}`).sort();
    expect(table).toEqual(
      [
        'GET /v1/users/{user_id} GetProfile',
        'PATCH /v1/users/{user_id} UpdateProfile',
        'GET /v1/contacts ListContacts',
        'POST /v1/sign-in SignIn',
        'POST /v1/admin/purge Purge',
        'GET /v1/updates StreamUpdates',
        'POST /v1/mirror Mirror',
        'GET /v1/mirror/{id} Mirror',
        'POST /v1/mirror/{id=things/*}:inspect Mirror',
        'GET /v1/files/{label=**} Mirror',
        'POST /v1/fail/{mode} Fail',
        'GET /v1/sleep/{ms} Sleep',
        'GET /v1/inspect Inspect',
      ].sort(),
    );
    // ACCESS_INTERNAL methods are never routed, even when annotated.
    expect(routes.some((r) => r.method.name === 'Internal')).toBe(false);
  });

  it('compiles templates to router paths and joins multi-segment variables back', async () => {
    const routes = compileRouteTable(await testCatalog());
    const byTemplate = new Map(routes.map((r) => [r.template.source, r]));
    const inspect = byTemplate.get('/v1/mirror/{id=things/*}:inspect');
    expect(inspect?.routerPath).toBe('/v1/mirror/things/:p0(^.*:inspect$)');
    expect(inspect?.openApiPath).toBe('/v1/mirror/things/{id}:inspect');
    expect(inspect?.pathBindings[0]?.valueOf({ p0: 't1:inspect' })).toBe('things/t1');
    expect(inspect?.body).toMatchObject({ kind: 'field' });
    expect(inspect?.responseBody?.name).toBe('nested');
    const files = byTemplate.get('/v1/files/{label=**}');
    expect(files?.routerPath).toBe('/v1/files/*');
    expect(files?.pathBindings[0]?.valueOf({ '*': 'a/b/c' })).toBe('a/b/c');
    expect(byTemplate.get('/v1/users/{user_id}')?.routerPath).toBe('/v1/users/:p0');
    expect(routes.filter((r) => r.method.name === 'Mirror').map((r) => r.operationId)).toEqual([
      'MirrorService_Mirror',
      'MirrorService_Mirror_1',
      'MirrorService_Mirror_2',
      'MirrorService_Mirror_3',
    ]);
  });

  it('routes the messenger contracts as docs/API.md lists them', async () => {
    const routes = compileRouteTable(await loadMessengerCatalog());
    const table = new Set(routes.map((r) => `${r.httpMethod} ${r.template.source}`));
    for (const route of [
      'POST /v1/auth/register',
      'POST /v1/auth/login',
      'GET /v1/users/{user_id}',
      'PATCH /v1/users/{user_id}',
      'GET /v1/users',
      'POST /v1/friends/{user_id}',
      'GET /v1/friends',
      'POST /v1/chats/{chat_id}/messages',
      'GET /v1/chats/{chat_id}/messages/{message_id}',
      'GET /v1/updates',
    ]) {
      expect(table).toContain(route);
    }
    expect(routes.some((r) => r.method.name === 'CreateUser' || r.method.name === 'BatchGetUsers')).toBe(false);
  });

  it('stops start-up when two RPCs claim one route, naming both', async () => {
    const set = await editedDescriptorSet(
      addRpc(
        `  // Clashes with GetProfile.
  rpc Clash(ClashRequest) returns (ClashResponse) {
    option (messenger.options.v1.policy) = {access: ACCESS_PUBLIC};
    option (google.api.http) = {get: "/v1/users/{id}"};
  }`,
        '// Clash input.\nmessage ClashRequest {\n  // An id.\n  string id = 1;\n}\n\n// Clash output.\nmessage ClashResponse {}',
      ),
    );
    const attempt = () => compileRouteTable(createApiCatalog(set));
    expect(attempt).toThrow(RouteTableError);
    expect(attempt).toThrow(
      /duplicate route GET \/v1\/users\/\{id\}.*ProfileService\/GetProfile.*MirrorService\/Clash/,
    );
  });

  it.each([
    ['a GET with a body', '{get: "/v1/x" body: "*"}', 'a GET binding cannot have a body'],
    ['an unknown body field', '{post: "/v1/x" body: "nope"}', 'body field "nope" is not a top-level field'],
    ['an unknown path field', '{get: "/v1/x/{nope}"}', 'has no field nope'],
    ['a message-typed path field', '{get: "/v1/x/{nested}"}', 'must be a singular scalar or enum field'],
    ['an unknown response_body', '{get: "/v1/x" response_body: "nope"}', 'response_body "nope"'],
    ['a path the gateway serves', '{get: "/healthz"}', 'a path the gateway serves itself'],
    ['a malformed template', '{get: "v1/x"}', 'must start with "/"'],
  ])('stops start-up on %s', async (_name, rule, message) => {
    const set = await editedDescriptorSet(
      addRpc(`  // Broken.
  rpc Broken(Everything) returns (Everything) {
    option (messenger.options.v1.policy) = {access: ACCESS_PUBLIC};
    option (google.api.http) = ${rule};
  }`),
    );
    expect(() => compileRouteTable(createApiCatalog(set), { reservedPaths: ['/healthz'] })).toThrow(message);
  });
});
