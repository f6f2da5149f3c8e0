// Graceful shutdown through server.ts: in-flight requests finish, new
// connections are refused, and the grace period bounds the wait.
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway as listenGateway } from '../src/server.ts';
import { prepareGateway } from './fixture.ts';

describe('graceful shutdown', () => {
  it('finishes in-flight requests, refuses new connections, then resolves', async () => {
    const prepared = await prepareGateway();
    const gw = await listenGateway(prepared.options, { port: 0, shutdownGraceMs: 5000 });
    try {
      expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
      const started = Date.now();
      const inFlight = fetch(`${gw.url}/v1/sleep/400`);
      await sleep(100);
      const closing = gw.close();
      await sleep(20);
      await expect(fetch(`${gw.url}/healthz`)).rejects.toThrow();
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ done: true });
      await closing;
      expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    } finally {
      await gw.close();
      await prepared.cleanup();
    }
  });

  it('drops what is still running when the grace period is over', async () => {
    const prepared = await prepareGateway();
    const gw = await listenGateway(prepared.options, { port: 0, shutdownGraceMs: 200 });
    try {
      const inFlight = fetch(`${gw.url}/v1/sleep/5000`).then(
        (r) => r.status,
        () => 'dropped',
      );
      await sleep(100);
      const started = Date.now();
      await gw.close();
      expect(Date.now() - started).toBeLessThan(2000);
      expect(await inFlight).toBe('dropped');
    } finally {
      await prepared.cleanup();
    }
  });
});
