// The standalone process in USER_WORKERS=2 processes: both serve calls on the
// one port, and SIGTERM drains both before the primary exits 0. Which worker
// handled a call comes from its debug line (`call done`, with the request id
// and the worker's pid).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import { UserServiceClient } from '@messenger/gen/messenger/user/v1/user';
import { call, closedPort, failure, spawnNode } from '@messenger/platform/testing';

const main = join(dirname(fileURLToPath(import.meta.url)), 'main.ts');
// A free port; debug lines name the worker that handled each call.
const twoWorkers = { PATH: process.env.PATH, USER_GRPC_PORT: '0', USER_WORKERS: '2', LOG_LEVEL: 'debug' };

it('user main.ts serves from two worker processes on one port and drains both on SIGTERM', async () => {
  const service = spawnNode(main, twoWorkers);
  try {
    const [, port] = await service.waitFor(/"port":(\d+)[^\n]*"workers":2,"msg":"user service listening"/);
    // The memory store is each worker's own: the primary says so.
    await service.waitFor(/"perWorkerState":\["USER_STORE=memory"/);

    // A channel each (no shared subchannel): a connection each, handed to the workers in turn.
    const pids = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const client = new UserServiceClient(`127.0.0.1:${port}`, credentials.createInsecure(), {
        'grpc.use_local_subchannel_pool': 1,
      });
      try {
        const md = new Metadata();
        md.set('x-request-id', `spread-${i}`);
        const refused = await failure(call(client, client.getUser, { userId: 'someone' }, md));
        expect(refused.code).toBe(status.UNAUTHENTICATED);
      } finally {
        client.close();
      }
      const [, pid = ''] = await service.waitFor(
        new RegExp(`"pid":(\\d+),"requestId":"spread-${i}"[^\\n]*"call done"`),
      );
      pids.add(pid);
    }
    expect(pids.size).toBe(2);

    await expect(service.stop()).resolves.toBe(0);
    await service.waitFor(/"msg":"worker stopped"[\s\S]*"msg":"worker stopped"[\s\S]*"msg":"stopped"/);
  } finally {
    await service.stop('SIGKILL');
  }
});

it('user main.ts in two workers exits 0 on SIGTERM while the workers still wait for Kafka', async () => {
  // Brokers on a port nobody listens on: each worker's start-up keeps retrying the producer's connect.
  const closed = await closedPort();
  const service = spawnNode(main, { ...twoWorkers, EVENT_BUS: 'kafka', KAFKA_BROKERS: `127.0.0.1:${closed}` });
  try {
    await service.waitFor(/"worker":1,[^\n]*ECONNREFUSED/);
    await service.waitFor(/"worker":2,[^\n]*ECONNREFUSED/);
    await expect(service.stop()).resolves.toBe(0);
    // The workers' lines and the primary's share stdout, in no fixed order.
    await service.waitFor(/"msg":"worker start-up aborted"[\s\S]*"msg":"worker start-up aborted"/);
    await service.waitFor(/"msg":"stopped"/);
  } finally {
    await service.stop('SIGKILL');
  }
});
