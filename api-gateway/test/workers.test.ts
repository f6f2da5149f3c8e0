// The gateway's real entry point with GATEWAY_WORKERS=2, in front of a real
// loopback gRPC upstream (an auth service stub answering GetJwks): two worker
// processes serve one port, /metrics on METRICS_PORT adds them up (the
// public port has none), a killed worker is
// replaced while the other serves on, and SIGTERM drains both before the
// primary exits 0. Which worker served a request comes from its debug line
// (`request done`, carrying the request id and the worker's pid): nothing
// about the processes reaches a client.
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import { AuthServiceService } from '@messenger/gen/messenger/auth/v1/auth';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import { createGrpcServer, type GrpcServer, type ServiceHandlers, service } from '@messenger/platform/grpc';
import { createLogger } from '@messenger/platform/logger';
import { createMetrics } from '@messenger/platform/metrics';
import { freePort, type NodeProcess, spawnNode } from '@messenger/platform/testing';
import { repoRoot } from './fixture.ts';

type LogLine = Record<string, unknown>;

/** GET on a connection of its own, so that the primary hands each request to the next worker. */
function getOnce(url: string, requestId: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { 'x-request-id': requestId } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitUntil<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('the gateway in two worker processes', () => {
  let upstream: GrpcServer;
  let gateway: NodeProcess;
  let url = '';
  let metricsUrl = '';
  const lines: LogLine[] = [];
  // GetJwks waits on `hold` while it is set, and reports each call it gets.
  let hold: Promise<void> | undefined;
  let onCall: (() => void) | undefined;

  const logged = (msg: string, where: (l: LogLine) => boolean = () => true) =>
    lines.filter((l) => l.msg === msg && where(l));
  const servedBy = (requestId: string) =>
    logged('request done', (l) => l.requestId === requestId)[0]?.pid as number | undefined;
  const workerPids = () => logged('worker listening').map((l) => l.pid as number);

  beforeAll(async () => {
    const unimplemented = async () => {
      throw Object.assign(new Error('not in this stub'), { code: status.UNIMPLEMENTED });
    };
    const handlers = Object.fromEntries(
      Object.keys(AuthServiceService).map((name) => [name, unimplemented]),
    ) as unknown as ServiceHandlers<typeof AuthServiceService>;
    upstream = createGrpcServer({
      name: 'auth-stub',
      services: [
        service(AuthServiceService, {
          ...handlers,
          getJwks: async () => {
            onCall?.();
            await hold;
            return { keys: [] };
          },
        }),
      ],
      catalog: await loadMessengerCatalog(),
      logger: createLogger({ level: 'silent', service: 'auth-stub' }),
      metrics: createMetrics({ defaultMetrics: false }),
    });
    const address = `127.0.0.1:${await upstream.listen('127.0.0.1', 0)}`;
    // The workers share one fixed METRICS_PORT, chosen before they start.
    const metricsPort = await freePort();
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    gateway = spawnNode(join(repoRoot, 'api-gateway/src/main.ts'), {
      PATH: process.env.PATH,
      GATEWAY_WORKERS: '2',
      GATEWAY_HTTP_PORT: '0',
      GATEWAY_SERVICE_SECRET: 'gateway-secret-for-tests',
      METRICS_PORT: String(metricsPort),
      GATEWAY_CACHE_ENABLED: 'false',
      LOG_LEVEL: 'debug',
      SHUTDOWN_GRACE_MS: '5000',
      AUTH_SERVICE_ADDRESS: address,
      USER_SERVICE_ADDRESS: address,
      SUBSCRIBER_SERVICE_ADDRESS: address,
      CHAT_SERVICE_ADDRESS: address,
    });
    let partial = '';
    gateway.child.stdout?.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const complete = text.split('\n');
      partial = complete.pop() ?? '';
      for (const line of complete) if (line.startsWith('{')) lines.push(JSON.parse(line) as LogLine);
    });
    [, url = ''] = await gateway.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+)","workers":2,"msg":"gateway listening"/);
    // Each worker writes its own line to the shared stdout, which may reach
    // the pipe after the primary's.
    await waitUntil('both workers to log', () => (workerPids().length === 2 ? true : undefined));
  });

  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await upstream?.shutdown(0);
  });

  it('serves one port from two processes, and logs the shared URL once', async () => {
    expect(new Set(workerPids()).size).toBe(2);
    expect(workerPids()).not.toContain(gateway.child.pid);
    expect(logged('gateway listening')).toHaveLength(1);

    const ids = Array.from({ length: 8 }, (_, i) => `spread-${i}`);
    for (const id of ids) {
      const res = await getOnce(`${url}/v1/auth/jwks`, id);
      expect(res).toEqual({ status: 200, body: '{"keys":[]}' });
    }
    const pids = await waitUntil('a log line per request', () => {
      const served = ids.map(servedBy);
      return served.every((pid) => pid !== undefined) ? served : undefined;
    });
    expect(new Set(pids)).toEqual(new Set(workerPids()));
  });

  it('/metrics on METRICS_PORT counts the requests of every worker; the public port has none', async () => {
    expect((await getOnce(`${url}/metrics`, 'public-metrics')).status).toBe(404);
    const res = await getOnce(metricsUrl, 'metrics');
    expect(res.status).toBe(200);
    // Both workers served some of the 8 (above); the sum is the group's.
    expect(res.body).toContain(
      'http_request_duration_seconds_count{method="GET",route="/v1/auth/jwks",status="200"} 8',
    );
    expect(res.body).toMatch(/^process_resident_memory_bytes \d+/m);
  });

  it('replaces a worker that dies, while the other serves on', async () => {
    const [victim, survivor] = workerPids();
    process.kill(victim as number, 'SIGKILL');
    await waitUntil('the primary to notice', () => logged('worker exited unexpectedly; starting a new one')[0]);

    for (let i = 0; i < 6; i++) {
      const id = `during-${i}`;
      expect((await getOnce(`${url}/v1/auth/jwks`, id)).status).toBe(200);
      expect(await waitUntil(`${id} served`, () => servedBy(id))).not.toBe(victim);
    }

    const replaced = await waitUntil('a new worker', () => logged('worker replaced')[0]);
    expect([victim, survivor]).not.toContain(replaced.pid);
    let servedByNew = false;
    for (let i = 0; i < 6 && !servedByNew; i++) {
      const id = `after-${i}`;
      expect((await getOnce(`${url}/v1/auth/jwks`, id)).status).toBe(200);
      servedByNew = (await waitUntil(`${id} served`, () => servedBy(id))) === replaced.pid;
    }
    expect(servedByNew).toBe(true);
  });

  it('drains every worker on SIGTERM: a request in flight finishes, then the primary exits 0', async () => {
    let release = () => {};
    hold = new Promise((resolve) => {
      release = resolve;
    });
    const called = new Promise<void>((resolve) => {
      onCall = resolve;
    });
    const inFlight = getOnce(`${url}/v1/auth/jwks`, 'in-flight');
    await called;

    const exited = gateway.stop('SIGTERM');
    await waitUntil('both workers draining', () => (logged('worker draining').length === 2 ? true : undefined));
    release();
    expect(await inFlight).toEqual({ status: 200, body: '{"keys":[]}' });
    await expect(exited).resolves.toBe(0);
    expect(logged('worker stopped')).toHaveLength(2);
    expect(logged('stopped')).toHaveLength(1);
  });
});
