// The client against the real user service on a loopback port: what its
// answers become on auth's side.
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import { ErrorKind } from '@messenger/platform/domain';
import { InProcessEventBus } from '@messenger/platform/events';
import { type ClientPool, createClientPool } from '@messenger/platform/grpc';
import { createLogger } from '@messenger/platform/logger';
import { createMetrics } from '@messenger/platform/metrics';
import { createTestAuth, type TestAuth } from '@messenger/platform/testing';
import { MemoryUserStore, type RunningService, startUserService } from '@messenger/user';
import { AuthErrorReason } from '../domain/auth-errors.ts';
import { grpcUserProfiles } from './user-profiles.client.ts';

describe('user profiles over gRPC', () => {
  let auth: TestAuth;
  let bus: InProcessEventBus;
  let user: RunningService;
  let pool: ClientPool;
  let address: string;

  beforeAll(async () => {
    auth = await createTestAuth();
    bus = new InProcessEventBus();
    const catalog = await loadMessengerCatalog();
    const metrics = createMetrics({ defaultMetrics: false });
    const logger = createLogger({ level: 'silent', service: 'user' });
    const store = new MemoryUserStore();
    user = await startUserService(
      { store, bus, logger, metrics, catalog, authenticator: auth.authenticator },
      { host: '127.0.0.1', port: 0 },
    );
    address = `127.0.0.1:${user.port}`;
    pool = createClientPool({ catalog, metrics, defaultDeadlineMs: 2000 });
  });
  afterAll(async () => {
    pool.close();
    await user.stop(1000);
    await bus.close();
    auth.close();
  });

  const profiles = () => grpcUserProfiles({ pool, address, tokens: auth.serviceTokenSource('auth') });

  it('creates a profile, gives the same one back on a retry, and reads it', async () => {
    const id = randomUUID();
    const created = await profiles().create(id, `client_${id.slice(0, 8)}`, 'req-1');
    expect(created).toMatchObject({ id, nickname: `client_${id.slice(0, 8)}`, about: '', avatarUrl: '' });
    await expect(profiles().create(id, created.nickname, 'req-2')).resolves.toEqual(created);
    await expect(profiles().get(id, 'req-3')).resolves.toEqual(created);
    await expect(profiles().get(randomUUID(), 'req-4')).resolves.toBeUndefined();
  });

  it("passes a taken or refused nickname on as auth's own", async () => {
    const holder = await profiles().create(randomUUID(), `holder_${randomUUID().slice(0, 8)}`, 'req-1');
    await expect(profiles().create(randomUUID(), holder.nickname.toUpperCase(), 'req-2')).rejects.toMatchObject({
      kind: ErrorKind.AlreadyExists,
      reason: AuthErrorReason.NicknameTaken,
    });
    await expect(profiles().create(randomUUID(), 'no way', 'req-3')).rejects.toMatchObject({
      kind: ErrorKind.InvalidArgument,
      violations: [expect.objectContaining({ field: 'nickname' })],
    });
  });

  it('reports any other failure, even a refused credential, as the user service being unavailable', async () => {
    const untrusted = grpcUserProfiles({ pool, address, tokens: { token: async () => 'not.a.token' } });
    const calls = [
      () => untrusted.create(randomUUID(), 'whoever', 'req-1'),
      () => untrusted.get(randomUUID(), 'req-2'),
    ];
    for (const attempt of calls) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toMatchObject({ kind: ErrorKind.Unavailable, reason: AuthErrorReason.UserServiceUnavailable });
      expect((error as Error).cause).toMatchObject({ code: status.UNAUTHENTICATED });
    }
  });
});
