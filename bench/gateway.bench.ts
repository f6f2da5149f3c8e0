// Gateway benchmark, loopback only and bounded in time:
//   (a) a bare Fastify route answering the same JSON as (c)
//   (b) a direct gRPC GetUser (grpc-js, as the gateway calls it)
//   (c) GET /v1/users/{id} through the gateway with auth, uncached
//   (d) the same, cached
//   (e) POST /v1/chats/{id}/messages through the gateway
// Throughput with BENCH_CONNECTIONS concurrent connections (autocannon; for
// (b) as many concurrent calls) for BENCH_DURATION_S seconds per scenario,
// BENCH_ROUNDS interleaved rounds (the median is reported), then the
// latency of single sequential requests (BENCH_PROBE_S seconds each), whose
// p50 difference (c) − (b) is the gateway's added latency. The upstream and
// the server under test run in their own processes (bench/gateway-processes.ts).

import { randomUUID } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { create, toBinary } from '@bufbuild/protobuf';
import { Client, credentials, Metadata } from '@grpc/grpc-js';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import { createTokenSigner, generateSigningKeyRing } from '@messenger/platform/auth';
import { startGatewayRole, startRole } from './child-role.ts';
import { percentile } from './percentile.ts';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const PROBE_S = Number(process.env.BENCH_PROBE_S ?? 2);
const WARMUP_S = 1;
const TRUST = { issuer: 'messenger-auth', audience: 'messenger', serviceAudience: 'messenger-internal' };

interface CannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Cannon = (opts: Record<string, unknown>) => Promise<CannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Cannon;

interface Row {
  name: string;
  rps: number;
  p50ms: number;
  p99ms: number;
  probeP50us: number;
  probeP99us: number;
  failures: number;
}

/** Sequential requests, one at a time, over one kept-alive connection: latency without queueing. */
async function probeHttp(
  url: string,
  init: { method?: string; headers: Record<string, string>; body?: string },
): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const samples: number[] = [];
  const until = Date.now() + PROBE_S * 1000;
  const once = () =>
    new Promise<number>((resolve, reject) => {
      const started = process.hrtime.bigint();
      const req = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers, agent }, (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(Number(process.hrtime.bigint() - started) / 1000)
            : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      });
      req.on('error', reject);
      req.end(init.body);
    });
  for (let i = 0; i < 200; i++) await once(); // warm-up
  while (Date.now() < until) samples.push(await once());
  agent.destroy();
  return samples.sort((a, b) => a - b);
}

async function grpcGetUser(address: string, token: string, userId: string) {
  const catalog = await loadMessengerCatalog();
  const method = catalog.method('/messenger.user.v1.UserService/GetUser');
  if (!method) throw new Error('GetUser is not in the catalog');
  const request = Buffer.from(toBinary(method.descriptor.input, create(method.descriptor.input, { userId })));
  const client = new Client(address, credentials.createInsecure());
  const identity = (b: Buffer) => b;
  const call = () =>
    new Promise<void>((resolve, reject) => {
      const md = new Metadata();
      md.set('authorization', `Bearer ${token}`);
      md.set('x-request-id', randomUUID());
      client.makeUnaryRequest(method.path, identity, identity, request, md, { deadline: Date.now() + 10_000 }, (err) =>
        err ? reject(err) : resolve(),
      );
    });
  return { call, close: () => client.close() };
}

/** (b): CONNECTIONS concurrent calls in flight for the duration. */
async function grpcLoad(
  call: () => Promise<void>,
  seconds: number,
): Promise<{ rps: number; latencies: number[]; failures: number }> {
  const latencies: number[] = [];
  let failures = 0;
  const until = Date.now() + seconds * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < until) {
        const t = process.hrtime.bigint();
        try {
          await call();
          latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
        } catch {
          failures++;
        }
      }
    }),
  );
  return {
    rps: latencies.length / ((Date.now() - started) / 1000),
    latencies: latencies.sort((a, b) => a - b),
    failures,
  };
}

async function grpcProbe(call: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < 200; i++) await call();
  const samples: number[] = [];
  const until = Date.now() + PROBE_S * 1000;
  while (Date.now() < until) {
    const t = process.hrtime.bigint();
    await call();
    samples.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  return samples.sort((a, b) => a - b);
}

const ring = await generateSigningKeyRing();
const jwks = await ring.exportPrivateJwks();
const signer = createTokenSigner({ ...TRUST, keys: ring });
const userId = randomUUID();
const token = (await signer.signAccessToken({ userId, sessionId: randomUUID(), roles: [], ttlSeconds: 900 })).token;
const auth = { authorization: `Bearer ${token}` };
const chatId = randomUUID();
const messageBody = JSON.stringify({ clientMessageId: randomUUID(), text: 'hello from the benchmark' });

console.log(
  `loopback; ${CONNECTIONS} connections × ${DURATION_S}s per scenario, ${ROUNDS} interleaved rounds (median), ` +
    `after ${WARMUP_S}s warm-up; probes: 1 connection × ${PROBE_S}s`,
);
const upstream = await startRole('gateway-processes.ts', 'upstream', { BENCH_JWKS: jwks });
const upstreamAddress = `127.0.0.1:${upstream.port}`;
const started: { stop: () => Promise<void> }[] = [upstream];
try {
  // Every server runs for the whole benchmark (idle ones cost nothing), and
  // the scenarios are measured in interleaved rounds, so that load from
  // elsewhere on the machine falls on all of them alike.
  const uncached = await startGatewayRole({
    BENCH_JWKS: jwks,
    BENCH_UPSTREAM: upstreamAddress,
    BENCH_CACHE: 'off',
  });
  started.push(uncached);
  const cached = await startGatewayRole({
    BENCH_JWKS: jwks,
    BENCH_UPSTREAM: upstreamAddress,
    BENCH_CACHE: 'on',
  });
  started.push(cached);
  const ubase = `http://127.0.0.1:${uncached.port}`;
  const cbase = `http://127.0.0.1:${cached.port}`;
  const probe = await fetch(`${ubase}/v1/users/${userId}`, { headers: auth });
  const body = await probe.text();
  if (probe.status !== 200) throw new Error(`gateway answered ${probe.status}: ${body}`);
  const bare = await startRole('gateway-processes.ts', 'bare', { BENCH_BODY: body });
  started.push(bare);
  const bbase = `http://127.0.0.1:${bare.port}`;
  const grpc = await grpcGetUser(upstreamAddress, token, userId);
  const postHeaders = { ...auth, 'content-type': 'application/json' };

  interface Load {
    rps: number;
    p50: number;
    p99: number;
    failures: number;
  }
  interface Scenario {
    readonly name: string;
    readonly load: (seconds: number) => Promise<Load>;
    readonly probe: () => Promise<number[]>;
  }
  const http =
    (opts: Record<string, unknown>) =>
    async (seconds: number): Promise<Load> => {
      const r = await autocannon({ ...opts, connections: CONNECTIONS, duration: seconds });
      return {
        rps: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        failures: r.non2xx + r.errors + r.timeouts,
      };
    };
  const scenarios: Scenario[] = [
    {
      name: '(a) bare Fastify, same JSON',
      load: http({ url: `${bbase}/v1/users/${userId}` }),
      probe: () => probeHttp(`${bbase}/v1/users/${userId}`, { headers: {} }),
    },
    {
      name: '(b) direct gRPC GetUser (grpc-js)',
      load: async (seconds) => {
        const r = await grpcLoad(grpc.call, seconds);
        return { rps: r.rps, p50: percentile(r.latencies, 50), p99: percentile(r.latencies, 99), failures: r.failures };
      },
      probe: () => grpcProbe(grpc.call),
    },
    {
      name: '(c) gateway GET /v1/users/{id}, auth, uncached',
      load: http({ url: `${ubase}/v1/users/${userId}`, headers: auth }),
      probe: () => probeHttp(`${ubase}/v1/users/${userId}`, { headers: auth }),
    },
    {
      name: '(d) gateway GET /v1/users/{id}, auth, cached',
      load: http({ url: `${cbase}/v1/users/${userId}`, headers: auth }),
      probe: () => probeHttp(`${cbase}/v1/users/${userId}`, { headers: auth }),
    },
    {
      name: '(e) gateway POST /v1/chats/{id}/messages',
      load: http({
        url: `${ubase}/v1/chats/${chatId}/messages`,
        method: 'POST',
        headers: postHeaders,
        body: messageBody,
      }),
      probe: () =>
        probeHttp(`${ubase}/v1/chats/${chatId}/messages`, { method: 'POST', headers: postHeaders, body: messageBody }),
    },
  ];

  for (const sc of scenarios) await sc.load(WARMUP_S);
  const runs: Load[][] = scenarios.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, sc] of scenarios.entries()) runs[i]?.push(await sc.load(DURATION_S));
  }
  const rows: Row[] = [];
  for (const [i, sc] of scenarios.entries()) {
    const mine = runs[i] ?? [];
    const median = [...mine].sort((x, y) => x.rps - y.rps)[Math.floor(mine.length / 2)];
    const samples = await sc.probe();
    rows.push({
      name: sc.name,
      rps: median?.rps ?? 0,
      p50ms: median?.p50 ?? 0,
      p99ms: median?.p99 ?? 0,
      probeP50us: percentile(samples, 50),
      probeP99us: percentile(samples, 99),
      failures: mine.reduce((n, r) => n + r.failures, 0),
    });
  }
  grpc.close();

  const [rowA, rowB, rowC, rowD] = rows as [Row, Row, Row, Row, Row];
  console.log('');
  console.log(
    'scenario                                          req/s   ×(a)   p50 ms  p99 ms | 1-conn p50 µs  p99 µs | failed',
  );
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(48)} ${r.rps.toFixed(0).padStart(7)} ${(r.rps / rowA.rps).toFixed(2).padStart(6)} ${r.p50ms.toFixed(2).padStart(8)} ${r.p99ms.toFixed(2).padStart(7)} | ${r.probeP50us.toFixed(0).padStart(13)} ${r.probeP99us.toFixed(0).padStart(7)} | ${r.failures}`,
    );
  }
  console.log('');
  console.log(`cached GET / bare Fastify: ${(rowD.rps / rowA.rps).toFixed(2)} (target ≥ 0.50)`);
  console.log(
    `gateway added p50 latency, 1 connection, (c) − (b): ${((rowC.probeP50us - rowB.probeP50us) / 1000).toFixed(3)} ms (target < 1 ms)`,
  );
  if (rows.some((r) => r.failures > 0)) {
    console.error('some requests failed; the figures above are not valid');
    process.exitCode = 1;
  }
} finally {
  for (const s of started.reverse()) await s.stop();
}
