// Routes come from the contract alone: an RPC added to the proto is served
// and documented with no gateway change, and a contract the gateway cannot
// serve (two RPCs on one route, a routed service without an address) stops
// start-up.
import { createApiCatalog } from '@messenger/platform/api-catalog';
import { createLogger } from '@messenger/platform/logger';
import { createMetrics } from '@messenger/platform/metrics';
import { build } from '../src/app.ts';
import {
  createTestAuth,
  editedDescriptorSet,
  MIRROR_SERVICE,
  PROFILE_SERVICE,
  startGateway,
  startTestUpstream,
  testCatalog,
} from './fixture.ts';

describe('routes come from the contract alone', () => {
  const PING = `  // Answers a ping: added to prove routes need no gateway code.
  rpc Ping(PingRequest) returns (PingResponse) {
    option (messenger.options.v1.policy) = {access: ACCESS_PUBLIC};
    option (google.api.http) = {get: "/v1/ping/{name}"};
  }`;
  const MESSAGES = `// Ping input.
message PingRequest {
  // Who pings.
  string name = 1;
}

// Ping output.
message PingResponse {
  // Always empty.
  string reply = 1;
}`;

  it('serves and documents an RPC added to the proto, with no gateway change', async () => {
    const before = await startGateway();
    try {
      expect((await before.app.inject({ method: 'GET', url: '/v1/ping/x' })).statusCode).toBe(404);
      expect((await before.app.inject({ method: 'GET', url: '/openapi.json' })).json().paths).not.toHaveProperty(
        '/v1/ping/{name}',
      );
    } finally {
      await before.close();
    }
    const set = await editedDescriptorSet((s) =>
      s.replace('service MirrorService {', `service MirrorService {\n${PING}\n`).concat(`\n${MESSAGES}\n`),
    );
    const after = await startGateway({ descriptorSet: set });
    try {
      const res = await after.app.inject({ method: 'GET', url: '/v1/ping/x' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ reply: '' });
      const doc = (await after.app.inject({ method: 'GET', url: '/openapi.json' })).json();
      expect(doc.paths['/v1/ping/{name}'].get).toMatchObject({
        operationId: 'MirrorService_Ping',
        summary: 'Answers a ping: added to prove routes need no gateway code.',
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
      });
    } finally {
      await after.close();
    }
  });

  it('refuses to start when two RPCs claim one route, or a routed service has no address', async () => {
    const set = await editedDescriptorSet((s) =>
      s
        .replace(
          'service MirrorService {',
          `service MirrorService {\n${PING.replace('/v1/ping/{name}', '/v1/users/{name}')}\n`,
        )
        .concat(`\n${MESSAGES}\n`),
    );
    const auth = await createTestAuth();
    const base = {
      upstreams: { [PROFILE_SERVICE]: '127.0.0.1:1', [MIRROR_SERVICE]: '127.0.0.1:1' },
      auth: { verifier: auth.verifier },
      logger: createLogger({ level: 'silent', service: 'gw' }),
      metrics: createMetrics({ defaultMetrics: false }),
    };
    await expect(build({ ...base, catalog: createApiCatalog(set) })).rejects.toThrow(/duplicate route GET \/v1\/users/);
    await expect(
      build({ ...base, catalog: await testCatalog(), upstreams: { [PROFILE_SERVICE]: '127.0.0.1:1' } }),
    ).rejects.toThrow(`no upstream address for ${MIRROR_SERVICE}`);
    auth.revocations.close();
  });

  it('shares one upstream fixture across gateways (sanity)', async () => {
    const catalog = await testCatalog();
    const auth = await createTestAuth();
    const upstream = await startTestUpstream(catalog, auth);
    try {
      const a = await startGateway({ catalog, testAuth: auth, upstreamFixture: upstream });
      const res = await a.app.inject({ method: 'GET', url: '/v1/mirror/shared' });
      expect(res.statusCode).toBe(200);
      await a.app.close();
    } finally {
      await upstream.close();
      auth.revocations.close();
    }
  });
});
