// The standalone process starts with default settings and stops cleanly on SIGTERM.
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, status } from '@grpc/grpc-js';
import { UserServiceClient } from '@messenger/gen/messenger/user/v1/user';
import { call, closedPort, failure, spawnNode } from '@messenger/platform/testing';

const here = dirname(fileURLToPath(import.meta.url));

it('user main.ts serves with defaults and exits 0 on SIGTERM', async () => {
  // Port 0 so the test never collides with a running service; everything else default.
  const service = spawnNode(join(here, 'main.ts'), { PATH: process.env.PATH, USER_GRPC_PORT: '0' });
  try {
    const [, port] = await service.waitFor(/"port":(\d+)[^\n]*user service listening/);
    const client = new UserServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const refused = await failure(call(client, client.getUser, { userId: randomUUID() }));
      expect(refused.code).toBe(status.UNAUTHENTICATED);
    } finally {
      client.close();
    }
    await expect(service.stop()).resolves.toBe(0);
  } finally {
    await service.stop('SIGKILL');
  }
});

it('user main.ts exits 0 on SIGTERM while start-up still waits for Kafka', async () => {
  // Brokers on a port nobody listens on: start-up keeps retrying the producer's connect.
  const closed = await closedPort();
  const service = spawnNode(join(here, 'main.ts'), {
    PATH: process.env.PATH,
    USER_GRPC_PORT: '0',
    EVENT_BUS: 'kafka',
    KAFKA_BROKERS: `127.0.0.1:${closed}`,
  });
  try {
    await service.waitFor(/ECONNREFUSED/);
    await expect(service.stop()).resolves.toBe(0);
    // Two log lines, not an order: stdout may receive them either way round.
    await service.waitFor(/"msg":"shutting down during start-up"/);
    await service.waitFor(/"msg":"start-up aborted"/);
  } finally {
    await service.stop('SIGKILL');
  }
});
