// An upstream that accepts calls and does not answer: every call ends at its
// deadline with 504 DEADLINE_EXCEEDED, the upstream sees each one cancelled
// (nothing stays pending), and other routes keep answering meanwhile.
import { setTimeout as sleep } from 'node:timers/promises';
import { UPSTREAM_TRANSPORTS } from '../src/upstream/upstream.ts';
import { type GatewayFixture, startGateway } from './fixture.ts';

describe.each(UPSTREAM_TRANSPORTS)('a hung upstream (%s upstream)', (upstreamTransport) => {
  let fx: GatewayFixture;
  beforeAll(async () => {
    fx = await startGateway({ upstreamTransport, deadlines: { defaultMs: 300 } });
  });
  afterAll(() => fx.close());

  it('answers 504 at the deadline, cancels every hung call upstream, and keeps serving other routes', async () => {
    const hung = 8;
    const calls = Array.from({ length: hung }, (_, i) =>
      fx.app.inject({
        method: 'GET',
        url: '/v1/sleep/60000',
        headers: i % 2 === 0 ? { 'grpc-timeout': '200m' } : {},
      }),
    );
    const healthy = await fx.app.inject({ method: 'GET', url: '/v1/inspect' });
    expect(healthy.statusCode).toBe(200);
    for (const res of await Promise.all(calls)) {
      expect(res.statusCode).toBe(504);
      expect(res.json()).toMatchObject({ code: 4, message: expect.any(String), details: expect.any(Array) });
    }
    while (fx.upstream.state.cancelled < hung) await sleep(10);
    expect(fx.upstream.state.cancelled).toBe(hung);
  });
});
