import { createServer } from 'node:net';
import { status } from '@grpc/grpc-js';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import { DomainError, ErrorKind } from '@messenger/platform/domain';
import { createClientPool } from '@messenger/platform/grpc';
import { createMetrics } from '@messenger/platform/metrics';
import { SubscriberErrorReason } from '../domain/subscriber-errors.ts';
import { grpcUserDirectory } from './user-directory.client.ts';

/** host:port where nothing listens: a port the system handed out a moment ago, closed again. */
async function closedAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

it('reports an unreachable user service as unavailable, not as an unknown user', async () => {
  const metrics = createMetrics({ defaultMetrics: false });
  const pool = createClientPool({ catalog: await loadMessengerCatalog(), metrics, defaultDeadlineMs: 1000 });
  try {
    const directory = grpcUserDirectory({ pool, address: await closedAddress(), tokens: { token: async () => 't' } });
    const error = await directory.exists('0b7a3b59-4b0e-4c1e-9b55-0a7c3e3f8a11', 'req-1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ kind: ErrorKind.Unavailable, reason: SubscriberErrorReason.UserServiceUnavailable });
    // Nothing answered at all: the cause is the channel's own UNAVAILABLE.
    expect((error as Error).cause).toMatchObject({ code: status.UNAVAILABLE });
  } finally {
    pool.close();
  }
});
