import type { Client, Metadata, ServiceError } from '@grpc/grpc-js';
import { type EchoFixture, loadEcho, startEchoServer } from '../../test/echo-fixture.ts';
import { DomainError, ErrorKind } from '../domain/errors.ts';
import { createMetrics } from '../metrics.ts';
import { type ClientPool, createClientPool } from './client-pool.ts';
import { createOutboundCaller, type OutboundCaller } from './outbound-caller.ts';
import type { GrpcServer } from './server.ts';

type Callback = (error: ServiceError | null, response: Record<string, unknown>) => void;
type EchoClient = Client & {
  Echo(req: object, md: Metadata, cb: Callback): void;
  Whoami(req: object, md: Metadata, cb: Callback): void;
  Fail(req: object, md: Metadata, cb: Callback): void;
};

const unavailable = () => new DomainError(ErrorKind.Unavailable, 'ECHO_UNAVAILABLE', 'echo is unavailable');

describe('outbound caller', () => {
  let fx: EchoFixture;
  let server: GrpcServer;
  let pool: ClientPool;
  let address: string;
  const caller = (token: string, at = address): OutboundCaller<EchoClient> =>
    createOutboundCaller({
      pool,
      client: fx.Client as never,
      address: at,
      tokens: { token: async () => token },
      unavailable,
    });

  beforeAll(async () => {
    fx = await loadEcho();
    ({ server } = startEchoServer(fx));
    address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
    pool = createClientPool({
      catalog: fx.catalog,
      metrics: createMetrics({ defaultMetrics: false }),
      defaultDeadlineMs: 500,
    });
  });

  afterAll(async () => {
    pool.close();
    await server.shutdown(1000);
  });

  it('carries the request id and this service credential, and resolves with the response', async () => {
    const call = caller('user:svc1');
    const echoed = await call('req-42', (client, md, done) => client.Echo({ text: 'hi' }, md, done));
    expect(echoed).toEqual({ text: 'hi', request_id: 'req-42' });
    const me = await call('req-43', (client, md, done) => client.Whoami({}, md, done));
    expect(me).toEqual({ user_id: 'svc1' });
  });

  it("turns any upstream failure into the caller's retryable error, keeping the cause", async () => {
    const error = await caller('user:svc1')('req-44', (client, md, done) =>
      client.Fail({ mode: 'invalid' }, md, done),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ kind: ErrorKind.Unavailable, reason: 'ECHO_UNAVAILABLE' });
    expect((error as Error).cause).toMatchObject({ code: 3 });
  });

  it('fails the same way when the credential cannot be had', async () => {
    const call = createOutboundCaller<EchoClient>({
      pool,
      client: fx.Client as never,
      address,
      tokens: {
        token: async () => {
          throw new Error('auth is down');
        },
      },
      unavailable,
    });
    await expect(call('req-45', (client, md, done) => client.Echo({ text: 'x' }, md, done))).rejects.toMatchObject({
      reason: 'ECHO_UNAVAILABLE',
    });
  });
});
