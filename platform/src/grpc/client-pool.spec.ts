import { type Client, status } from '@grpc/grpc-js';
import { failure, unary } from '../../test/call.ts';
import { type EchoFixture, loadEcho, startEchoServer } from '../../test/echo-fixture.ts';
import { createMetrics, type Metrics } from '../metrics.ts';
import { type ClientPool, createClientPool } from './client-pool.ts';
import type { GrpcServer } from './server.ts';

describe('gRPC client pool', () => {
  let fx: EchoFixture;
  let server: GrpcServer;
  let attempts: Map<string, number>;
  let address: string;
  let pool: ClientPool;
  let metrics: Metrics;
  let client: Client;

  beforeAll(async () => {
    fx = await loadEcho();
    ({ server, attempts } = startEchoServer(fx));
    address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
    metrics = createMetrics({ defaultMetrics: false });
    pool = createClientPool({ catalog: fx.catalog, metrics, defaultDeadlineMs: 300, maxAttempts: 3 });
    client = pool.get(fx.Client, address);
    // Connect first, with time to spare: the tests below run within the
    // pool's 300 ms default deadline, which a busy machine's first connection
    // (name resolution included) can use up on its own.
    await unary(client, 'FlakyRead', { key: 'connect', failures: 0 }, { deadlineMs: 10_000 });
  });

  afterAll(async () => {
    pool.close();
    await server.shutdown(1000);
  });

  it('reuses one client (and channel) per service and address', () => {
    expect(pool.get(fx.Client, address)).toBe(client);
  });

  it('retries a call declared idempotent when the server is unavailable', async () => {
    const res = await unary(client, 'FlakyRead', { key: 'read', failures: 2 });
    expect(res).toEqual({ attempts: 3 });
  });

  it('gives up on an idempotent call after the configured attempts', async () => {
    const err = await failure(unary(client, 'FlakyRead', { key: 'read-always', failures: 10 }));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(attempts.get('read-always')).toBe(3);
  });

  it('never retries a call that is not declared idempotent', async () => {
    const err = await failure(unary(client, 'FlakyWrite', { key: 'write', failures: 1 }));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(attempts.get('write')).toBe(1);
  });

  it('puts the default deadline on a call that sets none', async () => {
    const err = await failure(unary(client, 'Sleep', { ms: 2000 }));
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
  });

  it('lets a call set a longer deadline of its own', async () => {
    await expect(unary(client, 'Sleep', { ms: 400 }, { deadlineMs: 2000 })).resolves.toEqual({ done: true });
  });

  it('records client latency by target, method and code', async () => {
    await unary(client, 'Echo', { text: 'x' });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(
      /grpc_client_handling_seconds_count\{target="messenger.testing.v1.EchoService",method="Echo",code="OK"\} [1-9]/,
    );
  });

  it('makes a single attempt, and works, when retries are turned off', async () => {
    const single = createClientPool({ catalog: fx.catalog, metrics, defaultDeadlineMs: 300, maxAttempts: 1 });
    try {
      const c = single.get(fx.Client, address);
      await expect(unary(c, 'Echo', { text: 'once' })).resolves.toMatchObject({ text: 'once' });
      const err = await failure(unary(c, 'FlakyRead', { key: 'single', failures: 1 }));
      expect(err.code).toBe(status.UNAVAILABLE);
      expect(attempts.get('single')).toBe(1);
    } finally {
      single.close();
    }
  });
});
