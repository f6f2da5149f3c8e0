// A service process (user, main.ts) serving mutual TLS from the files its
// GRPC_TLS_* settings name, checked by the container health check as compose
// and the image run it: over TLS with the same settings it is healthy; a
// plaintext check, or one without a client certificate, is refused.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestPki, type NodeProcess, spawnNode, type TestPki } from '@messenger/platform/testing';
import { check } from '../../scripts/grpc-health-check.ts';

const here = dirname(fileURLToPath(import.meta.url));

describe('a service process serving mutual TLS', () => {
  let pki: TestPki;
  let user: NodeProcess;
  let tlsEnv: Record<string, string>;
  let port: string;

  beforeAll(async () => {
    pki = await createTestPki(['user', 'localhost', '127.0.0.1']);
    tlsEnv = {
      GRPC_TLS_CA_FILE: pki.ca,
      GRPC_TLS_CERT_FILE: pki.server.cert,
      GRPC_TLS_KEY_FILE: pki.server.key,
      GRPC_TLS_REQUIRE_CLIENT_CERT: 'true',
    };
    user = spawnNode(join(here, '../../services/user/src/main.ts'), {
      PATH: process.env.PATH,
      USER_GRPC_PORT: '0',
      ...tlsEnv,
    });
    const [, bound] = await user.waitFor(/"port":(\d+).*"msg":"user service listening"/);
    port = bound ?? '';
  });

  afterAll(async () => {
    await user?.stop();
    await pki?.close();
  });

  it('logs that its gRPC uses TLS', async () => {
    await expect(user.waitFor(/"mutual":true.*"msg":"gRPC to and from this process uses TLS"/)).resolves.toBeTruthy();
  });

  it('is healthy to the container health check with its own TLS settings', async () => {
    await expect(check('user', { ...tlsEnv, USER_GRPC_PORT: port }, 5000)).resolves.toBeUndefined();
    // As an exec liveness probe asks, where the kubelet's own gRPC probe speaks no TLS.
    await expect(check('user', { ...tlsEnv, USER_GRPC_PORT: port }, 5000, 'liveness')).resolves.toBeUndefined();
  });

  it('refuses a plaintext health check and one without a client certificate', async () => {
    await expect(check('user', { USER_GRPC_PORT: port }, 5000)).resolves.toMatch(/^grpc 127\.0\.0\.1:\d+: /);
    await expect(check('user', { GRPC_TLS_CA_FILE: pki.ca, USER_GRPC_PORT: port }, 5000)).resolves.toMatch(
      /^grpc 127\.0\.0\.1:\d+: /,
    );
  });
});
