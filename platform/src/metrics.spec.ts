import { createMetrics, serveMetrics } from './metrics.ts';

it('serves the registry at GET /metrics and nothing else', async () => {
  const metrics = createMetrics({ defaultMetrics: false });
  metrics.grpcServerHandled.inc({ service: 'user', method: 'GetUser', code: 'OK' });
  const served = await serveMetrics(metrics, { host: '127.0.0.1', port: 0 });
  try {
    const ok = await fetch(`http://127.0.0.1:${served.port}/metrics`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('grpc_server_handled_total{service="user",method="GetUser",code="OK"} 1');
    expect((await fetch(`http://127.0.0.1:${served.port}/`)).status).toBe(404);
  } finally {
    await served.close();
  }
});
