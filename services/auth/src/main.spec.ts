// The standalone process starts with its secret set (defaults otherwise), stops cleanly on SIGTERM, and refuses to start without the secret.
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, status } from '@grpc/grpc-js';
import { AuthServiceClient } from '@messenger/gen/messenger/auth/v1/auth';
import { call, failure, spawnNode } from '@messenger/platform/testing';

const here = dirname(fileURLToPath(import.meta.url));

it('auth main.ts serves with defaults and exits 0 on SIGTERM', async () => {
  // Port 0 so the test never collides with a running service; everything else default.
  const service = spawnNode(join(here, 'main.ts'), {
    PATH: process.env.PATH,
    AUTH_GRPC_PORT: '0',
    AUTH_SERVICE_SECRETS: 'subscriber:subscriber-secret-for-tests',
  });
  try {
    const [, port] = await service.waitFor(/"port":(\d+)[^\n]*auth service listening/);
    const client = new AuthServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const jwks = await call(client, client.getJwks, {});
      expect(jwks.keys.length).toBeGreaterThanOrEqual(2);
      const issued = await call(client, client.issueServiceToken, {
        serviceName: 'subscriber',
        serviceSecret: 'subscriber-secret-for-tests',
      });
      expect(issued.serviceToken).toBeTruthy();
      const refused = await failure(call(client, client.logout, { allSessions: false }));
      expect(refused.code).toBe(status.UNAUTHENTICATED);
    } finally {
      client.close();
    }
    await expect(service.stop()).resolves.toBe(0);
  } finally {
    await service.stop('SIGKILL');
  }
});

it('auth main.ts refuses to start without AUTH_SERVICE_SECRETS, naming it', async () => {
  const service = spawnNode(join(here, 'main.ts'), { PATH: process.env.PATH, AUTH_GRPC_PORT: '0' });
  let output = '';
  service.child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const [code] = (await once(service.child, 'close')) as [number | null];
  expect(code).not.toBe(0);
  expect(output).toContain('AUTH_SERVICE_SECRETS: is required in cluster mode');
});
