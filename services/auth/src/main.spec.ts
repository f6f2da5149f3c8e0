// The standalone process starts with default settings and stops cleanly on SIGTERM.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, status } from '@grpc/grpc-js';
import { AuthServiceClient } from '@messenger/gen/messenger/auth/v1/auth';
import { call, failure, spawnNode } from '@messenger/platform/testing';

const here = dirname(fileURLToPath(import.meta.url));

it('auth main.ts serves with defaults and exits 0 on SIGTERM', async () => {
  // Port 0 so the test never collides with a running service; everything else default.
  const service = spawnNode(join(here, 'main.ts'), { PATH: process.env.PATH, AUTH_GRPC_PORT: '0' });
  try {
    const [, port] = await service.waitFor(/"port":(\d+)[^\n]*auth service listening/);
    const client = new AuthServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const jwks = await call(client, client.getJwks, {});
      expect(jwks.keys.length).toBeGreaterThanOrEqual(2);
      // The development secret of the subscriber service, as its own default config has it.
      const issued = await call(client, client.issueServiceToken, {
        serviceName: 'subscriber',
        serviceSecret: 'dev-only-subscriber-secret',
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
