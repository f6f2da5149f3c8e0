// `make run`'s process: starts every service, prints where they listen and a
// ready line, answers health checks, and exits 0 on SIGTERM.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, makeGenericClientConstructor } from '@grpc/grpc-js';
import { call, spawnNode } from '@messenger/platform/testing';
import { service as healthService } from 'grpc-health-check';

const here = dirname(fileURLToPath(import.meta.url));
const Health = makeGenericClientConstructor(healthService, 'Health');

it('starts the system, reports ready, serves health on every service and stops cleanly', async () => {
  const system = spawnNode(join(here, 'main.ts'), {
    PATH: process.env.PATH,
    LOG_LEVEL: 'warn',
    USER_GRPC_PORT: '0',
    SUBSCRIBER_GRPC_PORT: '0',
  });
  try {
    await system.waitFor(/messenger ready/);
    const ports: number[] = [];
    for (const name of ['user', 'subscriber']) {
      const [, port] = await system.waitFor(new RegExp(`^${name}\\s+grpc://127\\.0\\.0\\.1:(\\d+)$`, 'm'));
      ports.push(Number(port));
    }
    for (const port of ports) {
      const client = new Health(`127.0.0.1:${port}`, credentials.createInsecure());
      try {
        const check = client.check as unknown as Parameters<typeof call>[1];
        await expect(call(client, check, { service: '' })).resolves.toEqual({ status: 'SERVING' });
      } finally {
        client.close();
      }
    }
    await expect(system.stop()).resolves.toBe(0);
  } finally {
    await system.stop('SIGKILL');
  }
});
