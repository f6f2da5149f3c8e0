// The gateway's own endpoints and its behaviour over a real socket: health,
// readiness (upstream health reported, not required), metrics by contract
// template, and cancellation of the upstream call when a client goes away.
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type GatewayFixture, MIRROR_SERVICE, PROFILE_SERVICE, startGateway } from './fixture.ts';

describe('over a real socket', () => {
  let fx: GatewayFixture;
  let base: string;
  beforeAll(async () => {
    fx = await startGateway();
    await fx.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(fx.app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => fx.close());

  it('cancels the gRPC call when the client disconnects', async () => {
    const { state } = fx.upstream;
    const [before, started] = [state.cancelled, state.calls.get('Sleep') ?? 0];
    const req = httpRequest(`${base}/v1/sleep/5000`);
    req.on('error', () => {});
    req.end();
    // Gone once the call is in the service's hands, however long the way there took.
    for (let i = 0; i < 250 && (state.calls.get('Sleep') ?? 0) === started; i++) await sleep(20);
    req.destroy();
    for (let i = 0; i < 250 && state.cancelled === before; i++) await sleep(20);
    expect(state.cancelled).toBe(before + 1);
  });

  it('answers /healthz and /readyz, and records each call in the metrics', async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'SERVING' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'SERVING',
      draining: false,
      upstreams: { [PROFILE_SERVICE]: 'SERVING', [MIRROR_SERVICE]: 'SERVING' },
    });
    await fetch(`${base}/v1/mirror/m1`);
    await fetch(`${base}/v1/fail/not_found`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    const metrics = await fx.metrics.registry.metrics();
    expect(metrics).toMatch(
      /http_request_duration_seconds_count\{method="GET",route="\/v1\/mirror\/\{id\}",status="200"\} 1/,
    );
    expect(metrics).toMatch(
      /http_request_duration_seconds_count\{method="POST",route="\/v1\/fail\/\{mode\}",status="404"\} 1/,
    );
    expect(metrics).toMatch(
      /grpc_client_handling_seconds_count\{target="messenger.gatewaytest.v1.MirrorService",method="Mirror",code="OK"\}/,
    );
  });

  it('keeps /metrics off the public port: it answers 404 like any unknown path', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain('http_request_duration_seconds');
  });
});

describe('readiness', () => {
  it('stays ready when an upstream is not serving, reporting it in the body and a metric', async () => {
    const fx = await startGateway({ readinessTimeoutMs: 300 });
    try {
      await fx.upstream.close();
      const res = await fx.app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        status: 'SERVING',
        draining: false,
        upstreams: { [PROFILE_SERVICE]: 'NOT_SERVING', [MIRROR_SERVICE]: 'NOT_SERVING' },
      });
      const metrics = await fx.metrics.registry.metrics();
      expect(metrics).toContain(`gateway_upstream_serving{service="${PROFILE_SERVICE}"} 0`);
      const call = await fx.app.inject({ method: 'GET', url: '/v1/mirror/x' });
      expect(call.statusCode).toBe(503);
      expect(call.body).not.toContain('127.0.0.1');
    } finally {
      await fx.app.close();
    }
  });
});
