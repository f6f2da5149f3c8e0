// The gateway in front of a service that serves mutual TLS only, over each
// upstream transport: unary routes and server streams go through TLS with
// the gateway's client certificate; a gateway that cannot prove itself or
// verify the service answers 503, never a plaintext call.
import type { AddressInfo } from 'node:net';
import { loadConfig } from '@messenger/platform/config';
import type { GrpcTls } from '@messenger/platform/grpc';
import { loadGrpcTls, runtimeSettings } from '@messenger/platform/runtime';
import { createTestPki, type TestPki } from '@messenger/platform/testing';
import { UPSTREAM_TRANSPORTS } from '../src/upstream/upstream.ts';
import {
  createTestAuth,
  type GatewayFixture,
  startGateway,
  startTestUpstream,
  type TestAuth,
  type TestUpstream,
  testCatalog,
} from './fixture.ts';

/** The certificates a process with these GRPC_TLS_* settings uses, as its start-up reads them. */
function tlsFrom(env: Record<string, string>, servesGrpc: boolean): GrpcTls {
  const tls = loadGrpcTls(loadConfig(runtimeSettings, env), servesGrpc);
  if (!tls) throw new Error('expected TLS settings');
  return tls;
}

describe('gateway → services over TLS', () => {
  let pki: TestPki;
  let auth: TestAuth;
  let upstream: TestUpstream;

  beforeAll(async () => {
    pki = await createTestPki(['localhost', '127.0.0.1']);
    auth = await createTestAuth();
    const tls = tlsFrom(
      {
        GRPC_TLS_CA_FILE: pki.ca,
        GRPC_TLS_CERT_FILE: pki.server.cert,
        GRPC_TLS_KEY_FILE: pki.server.key,
        GRPC_TLS_REQUIRE_CLIENT_CERT: 'true',
      },
      true,
    );
    upstream = await startTestUpstream(await testCatalog(), auth, { tls });
  });

  afterAll(async () => {
    await upstream?.close();
    auth?.revocations.close();
    await pki?.close();
  });

  describe.each(UPSTREAM_TRANSPORTS)('over the %s transport', (transport) => {
    let fx: GatewayFixture;
    let base: string;

    beforeAll(async () => {
      const upstreamTls = tlsFrom(
        { GRPC_TLS_CA_FILE: pki.ca, GRPC_TLS_CERT_FILE: pki.client.cert, GRPC_TLS_KEY_FILE: pki.client.key },
        false,
      );
      fx = await startGateway({ upstreamFixture: upstream, testAuth: auth, upstreamTransport: transport, upstreamTls });
      await fx.app.listen({ host: '127.0.0.1', port: 0 });
      base = `http://127.0.0.1:${(fx.app.server.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      await fx?.close();
    });

    it('serves GET /v1/users/{id}', async () => {
      const res = await fetch(`${base}/v1/users/u1`, {
        headers: { authorization: `Bearer ${await auth.token('u1')}` },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ profile: { userId: 'u1', nickname: 'alice' } });
    });

    it('serves an SSE stream of updates', async () => {
      const abort = new AbortController();
      const res = await fetch(`${base}/v1/updates`, {
        headers: { authorization: `Bearer ${await auth.token('u1')}`, accept: 'text/event-stream' },
        signal: abort.signal,
      });
      expect(res.status).toBe(200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (!text.includes('"update 3"')) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += decoder.decode(chunk.value, { stream: true });
      }
      abort.abort();
      expect(text).toContain('id: 1\n');
      expect(text).toContain('data: {"update":{"updateId":"3","text":"update 3"}}');
    });

    /** GET /v1/users/u1 through a gateway of its own with these GRPC_TLS_* settings. */
    async function getProfileWith(env: Record<string, string>) {
      const gateway = await startGateway({
        upstreamFixture: upstream,
        testAuth: auth,
        upstreamTransport: transport,
        upstreamTls: tlsFrom(env, false),
      });
      try {
        return await gateway.app.inject({
          method: 'GET',
          url: '/v1/users/u1',
          headers: { authorization: `Bearer ${await auth.token('u1')}` },
        });
      } finally {
        await gateway.close();
      }
    }

    // The CA and files exist only once beforeAll ran: each case names its settings lazily.
    it.each([
      ['presents no client certificate', (p: TestPki) => ({ GRPC_TLS_CA_FILE: p.ca })],
      [
        'trusts another CA',
        (p: TestPki) => ({
          GRPC_TLS_CA_FILE: p.otherCa,
          GRPC_TLS_CERT_FILE: p.client.cert,
          GRPC_TLS_KEY_FILE: p.client.key,
        }),
      ],
    ])('answers 503 with a google.rpc.Status body when it %s', async (_what, settings) => {
      const res = await getProfileWith(settings(pki));
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ code: 14 });
    });

    it('checks the certificate for GRPC_TLS_SERVER_NAME instead of the dialled IP when set', async () => {
      const own = { GRPC_TLS_CA_FILE: pki.ca, GRPC_TLS_CERT_FILE: pki.client.cert, GRPC_TLS_KEY_FILE: pki.client.key };
      expect((await getProfileWith({ ...own, GRPC_TLS_SERVER_NAME: 'localhost' })).statusCode).toBe(200);
      expect((await getProfileWith({ ...own, GRPC_TLS_SERVER_NAME: 'chat.messenger.svc' })).statusCode).toBe(503);
    });
  });
});
