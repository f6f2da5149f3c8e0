// Graceful shutdown through server.ts: readiness turns false first, the
// gateway keeps serving for the drain delay, keep-alive clients are told to
// close (never reset), in-flight requests finish, new connections are
// refused, and the grace period bounds the wait.
import { Agent, request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway as listenGateway, type RunningGateway } from '../src/server.ts';
import { prepareGateway } from './fixture.ts';

interface Answer {
  readonly status: number;
  readonly connection: string | undefined;
}

/** One GET on `agent` (a keep-alive connection of its own). */
function get(agent: Agent, url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A GET on a new connection. */
function getFresh(url: string): Promise<Answer> {
  return get(new Agent({ keepAlive: false }), url);
}

/**
 * `clients` keep-alive clients, each looping GETs on its own connection
 * until an answer tells it to close; `shutdown` runs once every client has
 * had three answers.
 */
async function loopThroughShutdown(gw: RunningGateway, clients: number, shutdown: () => Promise<void>) {
  const answers: Answer[][] = Array.from({ length: clients }, () => []);
  const errors: string[] = [];
  let warm = 0;
  let startShutdown: () => void = () => {};
  const warmedUp = new Promise<void>((resolve) => {
    startShutdown = resolve;
  });
  const loops = answers.map(async (mine) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (;;) {
        const answer = await get(agent, `${gw.url}/v1/mirror/m1`);
        mine.push(answer);
        if (mine.length === 3 && ++warm === clients) startShutdown();
        if (answer.connection === 'close') return;
      }
    } catch (error) {
      errors.push(String((error as NodeJS.ErrnoException).code ?? error));
    } finally {
      agent.destroy();
    }
  });
  await warmedUp;
  const closing = shutdown();
  await Promise.all(loops);
  await closing;
  return { answers, errors };
}

describe('graceful shutdown', () => {
  it.each([
    ['without a drain delay', 0],
    ['with a drain delay', 300],
  ])('answers every request of looping keep-alive clients, %s, and tells them to close', async (_, drainDelayMs) => {
    const prepared = await prepareGateway();
    const gw = await listenGateway(prepared.options, { port: 0, drainDelayMs, shutdownGraceMs: 5000 });
    try {
      const { answers, errors } = await loopThroughShutdown(gw, 32, () => gw.close());
      expect(errors).toEqual([]);
      for (const mine of answers) {
        expect(mine.map((a) => a.status).every((s) => s === 200)).toBe(true);
        expect(mine.at(-1)?.connection).toBe('close');
      }
      await expect(getFresh(`${gw.url}/healthz`)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await gw.close();
      await prepared.cleanup();
    }
  });

  it('is not ready but still serves during the drain delay', async () => {
    const prepared = await prepareGateway();
    const gw = await listenGateway(prepared.options, { port: 0, drainDelayMs: 60_000, shutdownGraceMs: 5000 });
    try {
      expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
      const closing = gw.close();
      const ready = await fetch(`${gw.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'NOT_SERVING', draining: true });
      const call = await fetch(`${gw.url}/v1/mirror/m1`);
      expect(call.status).toBe(200);
      expect(call.headers.get('connection')).toBe('close');
      void closing;
    } finally {
      gw.app.server.closeAllConnections();
      await gw.app.close();
      await prepared.cleanup();
    }
  });

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
      await expect(getFresh(`${gw.url}/healthz`)).rejects.toThrow(/ECONNREFUSED/);
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
