// The gRPC TLS settings → certificates, and the configurations refused at
// start-up, each naming its setting.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnNode } from '../../testing/node-process.ts';
import { createTestPki, type TestPki } from '../../testing/tls.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { loadGrpcTls } from './grpc-tls.ts';
import { runtimeSettings } from './service-runtime.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

describe('gRPC TLS settings', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await createTestPki();
  });
  afterAll(() => pki.close());

  const load = (env: Record<string, string>, servesGrpc = true) =>
    loadGrpcTls(loadConfig(runtimeSettings, env), servesGrpc);

  function problemsOf(env: Record<string, string>, servesGrpc = true): readonly string[] {
    try {
      load(env, servesGrpc);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    throw new Error('accepted');
  }

  it('is plaintext when nothing is set', () => {
    expect(load({})).toBeUndefined();
  });

  it('reads the CA, certificate and key a service serves and calls with', () => {
    const tls = load({
      GRPC_TLS_CA_FILE: pki.ca,
      GRPC_TLS_CERT_FILE: pki.server.cert,
      GRPC_TLS_KEY_FILE: pki.server.key,
      GRPC_TLS_REQUIRE_CLIENT_CERT: 'true',
    });
    expect(tls?.ca.toString()).toContain('BEGIN CERTIFICATE');
    expect(tls?.identity?.key.toString()).toContain('PRIVATE KEY');
    expect(tls?.requireClientCert).toBe(true);
  });

  it('lets a process that serves no gRPC (the gateway) verify servers with the CA alone', () => {
    expect(load({ GRPC_TLS_CA_FILE: pki.ca }, false)).toMatchObject({ requireClientCert: false });
    expect(load({ GRPC_TLS_CA_FILE: pki.ca }, false)?.identity).toBeUndefined();
  });

  it('refuses half a configuration, naming the setting that is missing', () => {
    expect(problemsOf({ GRPC_TLS_CA_FILE: pki.ca, GRPC_TLS_CERT_FILE: pki.server.cert })).toEqual([
      'GRPC_TLS_KEY_FILE: is required with GRPC_TLS_CERT_FILE',
    ]);
    expect(problemsOf({ GRPC_TLS_CERT_FILE: pki.server.cert, GRPC_TLS_KEY_FILE: pki.server.key })).toEqual([
      'GRPC_TLS_CA_FILE: is required with GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE (gRPC TLS)',
    ]);
    expect(problemsOf({ GRPC_TLS_CA_FILE: pki.ca })).toEqual([
      'GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE: are required for a gRPC server with TLS',
    ]);
    expect(problemsOf({ GRPC_TLS_CA_FILE: pki.ca, GRPC_TLS_REQUIRE_CLIENT_CERT: 'true' }, false)).toEqual([
      'GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE: are required with GRPC_TLS_REQUIRE_CLIENT_CERT=true',
    ]);
  });

  it('refuses files that cannot be read or are not what they should be, naming each', () => {
    expect(
      problemsOf({
        GRPC_TLS_CA_FILE: join(pki.dir, 'missing.pem'),
        GRPC_TLS_CERT_FILE: pki.server.key,
        GRPC_TLS_KEY_FILE: pki.client.key,
      }),
    ).toEqual([
      `GRPC_TLS_CA_FILE: cannot read ${JSON.stringify(join(pki.dir, 'missing.pem'))} (ENOENT)`,
      'GRPC_TLS_CERT_FILE: is not a PEM certificate',
    ]);
    expect(
      problemsOf({ GRPC_TLS_CA_FILE: pki.ca, GRPC_TLS_CERT_FILE: pki.server.cert, GRPC_TLS_KEY_FILE: pki.client.key }),
    ).toEqual(['GRPC_TLS_KEY_FILE: is not the key of GRPC_TLS_CERT_FILE']);
  });

  it('stops a service process at start-up, naming the setting', async () => {
    const user = spawnNode(join(repoRoot, 'services/user/src/main.ts'), {
      PATH: process.env.PATH,
      USER_GRPC_PORT: '0',
      GRPC_TLS_CA_FILE: pki.ca,
      GRPC_TLS_CERT_FILE: pki.server.cert,
    });
    await user.waitFor(/GRPC_TLS_KEY_FILE: is required with GRPC_TLS_CERT_FILE/);
    expect(await user.stop()).not.toBe(0);
  });
});
