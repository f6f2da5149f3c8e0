import { createServer } from 'node:net';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import { DomainError, ErrorKind } from '@messenger/platform/domain';
import { createClientPool } from '@messenger/platform/grpc';
import { createMetrics } from '@messenger/platform/metrics';
import { grpcFriendshipChecker } from './friendship-checker.client.ts';
import { grpcUserProfiles } from './user-profiles.client.ts';

it('reports an unreachable user or subscriber service as unavailable, not as an unknown user or a stranger', async () => {
  // A port that was free a moment ago: nothing listens on it.
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
  const pool = createClientPool({
    catalog: await loadMessengerCatalog(),
    metrics: createMetrics({ defaultMetrics: false }),
    defaultDeadlineMs: 1000,
    maxAttempts: 1,
  });
  try {
    const options = { pool, address: `127.0.0.1:${port}`, tokens: { token: async () => 't' } };
    const id = '0b7a3b59-4b0e-4c1e-9b55-0a7c3e3f8a11';
    const errors = [
      await grpcUserProfiles(options)
        .getProfiles([id], 'req-1')
        .catch((e: unknown) => e),
      await grpcFriendshipChecker(options)
        .relation(id, id, 'req-1')
        .catch((e: unknown) => e),
    ];
    for (const error of errors) {
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).kind).toBe(ErrorKind.Unavailable);
    }
    expect(errors.map((e) => (e as DomainError).reason)).toEqual([
      'USER_SERVICE_UNAVAILABLE',
      'SUBSCRIBER_SERVICE_UNAVAILABLE',
    ]);
  } finally {
    pool.close();
  }
});
