// TLS between gRPC processes: the platform server and client pool on
// loopback, with certificates from a CA made for this file.
import { type Client, status } from '@grpc/grpc-js';
import { failure, unary } from '../../test/call.ts';
import { type EchoFixture, loadEcho, startEchoServer } from '../../test/echo-fixture.ts';
import { createTestPki, type TestPki } from '../../testing/tls.ts';
import { loadConfig } from '../config.ts';
import { createMetrics } from '../metrics.ts';
import { loadGrpcTls } from '../runtime/grpc-tls.ts';
import { runtimeSettings } from '../runtime/service-runtime.ts';
import { type ClientPool, createClientPool } from './client-pool.ts';
import type { GrpcServer } from './server.ts';
import type { GrpcTls } from './tls.ts';

/** The certificates a process with these GRPC_TLS_* settings uses, as its start-up reads them. */
function tlsFrom(env: Record<string, string>, servesGrpc = true): GrpcTls | undefined {
  return loadGrpcTls(loadConfig(runtimeSettings, env), servesGrpc);
}

describe.each(['http2', 'grpc-js'] as const)('gRPC over TLS (%s server transport)', (transport) => {
  let fx: EchoFixture;
  let pki: TestPki;
  const servers: GrpcServer[] = [];
  const pools: ClientPool[] = [];

  beforeAll(async () => {
    [fx, pki] = await Promise.all([loadEcho(), createTestPki(['localhost', '127.0.0.1'])]);
  });

  afterAll(async () => {
    for (const pool of pools) pool.close();
    await Promise.all(servers.map((s) => s.shutdown(200)));
    await pki.close();
  });

  async function serve(env: Record<string, string>): Promise<number> {
    const tls = tlsFrom({ GRPC_TLS_CERT_FILE: pki.server.cert, GRPC_TLS_KEY_FILE: pki.server.key, ...env });
    const { server } = startEchoServer(fx, { ...(tls ? { tls } : {}), transport });
    servers.push(server);
    return server.listen('127.0.0.1', 0);
  }

  function client(address: string, env: Record<string, string>): Client {
    const tls = Object.keys(env).length > 0 ? tlsFrom(env, false) : undefined;
    const pool = createClientPool({
      catalog: fx.catalog,
      metrics: createMetrics({ defaultMetrics: false }),
      defaultDeadlineMs: 3000,
      maxAttempts: 1,
      ...(tls ? { tls } : {}),
    });
    pools.push(pool);
    return pool.get(fx.Client, address);
  }

  const echo = (c: Client) => unary<{ text: string }>(c, 'Echo', { text: 'over tls' });

  describe('server TLS', () => {
    let port: number;
    beforeAll(async () => {
      port = await serve({ GRPC_TLS_CA_FILE: pki.ca });
    });

    it('serves a client that verifies it with the CA, dialled by IP address or by DNS name', async () => {
      await expect(echo(client(`127.0.0.1:${port}`, { GRPC_TLS_CA_FILE: pki.ca }))).resolves.toMatchObject({
        text: 'over tls',
      });
      await expect(echo(client(`localhost:${port}`, { GRPC_TLS_CA_FILE: pki.ca }))).resolves.toMatchObject({
        text: 'over tls',
      });
    });

    it('serves TLS only: a plaintext client, or one trusting another CA, gets UNAVAILABLE', async () => {
      expect((await failure(echo(client(`127.0.0.1:${port}`, {})))).code).toBe(status.UNAVAILABLE);
      const otherCa = client(`127.0.0.1:${port}`, { GRPC_TLS_CA_FILE: pki.otherCa });
      expect((await failure(echo(otherCa))).code).toBe(status.UNAVAILABLE);
    });

    it('checks the certificate against GRPC_TLS_SERVER_NAME instead of the dialled host when set', async () => {
      const named = (name: string) =>
        client(`127.0.0.1:${port}`, { GRPC_TLS_CA_FILE: pki.ca, GRPC_TLS_SERVER_NAME: name });
      await expect(echo(named('localhost'))).resolves.toMatchObject({ text: 'over tls' });
      expect((await failure(echo(named('chat.messenger.svc')))).code).toBe(status.UNAVAILABLE);
    });
  });

  describe('mutual TLS (GRPC_TLS_REQUIRE_CLIENT_CERT)', () => {
    let address: string;
    beforeAll(async () => {
      address = `127.0.0.1:${await serve({ GRPC_TLS_CA_FILE: pki.ca, GRPC_TLS_REQUIRE_CLIENT_CERT: 'true' })}`;
    });

    it('serves a client presenting a certificate signed by the CA', async () => {
      const c = client(address, {
        GRPC_TLS_CA_FILE: pki.ca,
        GRPC_TLS_CERT_FILE: pki.client.cert,
        GRPC_TLS_KEY_FILE: pki.client.key,
      });
      await expect(echo(c)).resolves.toMatchObject({ text: 'over tls' });
    });

    it('refuses a client without a certificate, or with one another CA signed', async () => {
      expect((await failure(echo(client(address, { GRPC_TLS_CA_FILE: pki.ca })))).code).toBe(status.UNAVAILABLE);
      const stranger = client(address, {
        GRPC_TLS_CA_FILE: pki.ca,
        GRPC_TLS_CERT_FILE: pki.otherClient.cert,
        GRPC_TLS_KEY_FILE: pki.otherClient.key,
      });
      expect((await failure(echo(stranger))).code).toBe(status.UNAVAILABLE);
    });
  });
});
