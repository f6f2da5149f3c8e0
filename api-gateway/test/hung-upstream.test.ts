// An upstream that accepts calls and does not answer: every call ends at its
// deadline with 504 DEADLINE_EXCEEDED, the upstream sees each one cancelled
// (nothing stays pending), and other routes keep answering meanwhile.
import { setTimeout as sleep } from 'node:timers/promises';
import { UPSTREAM_TRANSPORTS } from '../src/upstream/upstream.ts';
import { type GatewayFixture, startGateway } from './fixture.ts';

// The hung calls' deadlines are long enough that a healthy call made while
// they are pending answers before any of them ends, even on a loaded machine;
// the healthy call asks a longer deadline of its own so that load alone
// cannot turn it into a 504.
const HUNG_DEFAULT_MS = 1500;
const HUNG_ASKED = '1200m';
const HEALTHY_ASKED = '10S';

describe.each(UPSTREAM_TRANSPORTS)('a hung upstream (%s upstream)', (upstreamTransport) => {
  let fx: GatewayFixture;
  beforeAll(async () => {
    fx = await startGateway({ upstreamTransport, deadlines: { defaultMs: HUNG_DEFAULT_MS } });
    // The connection to the upstream is open before the hung calls start.
    const warm = await fx.app.inject({ method: 'GET', url: '/v1/inspect', headers: { 'grpc-timeout': HEALTHY_ASKED } });
    expect(warm.statusCode).toBe(200);
  });
  afterAll(() => fx.close());

  it('answers 504 at the deadline, cancels every hung call upstream, and keeps serving other routes', async () => {
    const hung = 8;
    let settled = 0;
    const calls = Array.from({ length: hung }, (_, i) =>
      fx.app
        .inject({
          method: 'GET',
          url: '/v1/sleep/60000',
          headers: i % 2 === 0 ? { 'grpc-timeout': HUNG_ASKED } : {},
        })
        .finally(() => settled++),
    );
    const healthy = await fx.app.inject({
      method: 'GET',
      url: '/v1/inspect',
      headers: { 'grpc-timeout': HEALTHY_ASKED },
    });
    expect(healthy.statusCode).toBe(200);
    expect(settled).toBe(0);
    for (const res of await Promise.all(calls)) {
      expect(res.statusCode).toBe(504);
      expect(res.json()).toMatchObject({ code: 4, message: expect.any(String), details: expect.any(Array) });
    }
    while (fx.upstream.state.cancelled < hung) await sleep(10);
    expect(fx.upstream.state.cancelled).toBe(hung);
  });
});
