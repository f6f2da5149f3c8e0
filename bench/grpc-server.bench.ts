// The services' gRPC server transports side by side: the bench upstream
// (bench/gateway-processes.ts upstream: the platform's createGrpcServer with
// its authentication, metrics and handlers, as a service runs it) started
// twice, GRPC_SERVER_TRANSPORT=http2 and =grpc-js, each its own process,
// called by the gateway's http2 client from this process with
// BENCH_CONCURRENCY calls in flight. For each server, per measurement:
//   - calls/s, and the server process's CPU µs per call (/proc, user + system);
//   - call latency p50/p99 as the client sees it (the server's pauses show here);
//   - the server's resident memory at the end.
// GetUser and SendMessage alternate. BENCH_DURATION_S seconds per
// measurement, BENCH_ROUNDS interleaved rounds (the median is reported),
// after a warm-up of each.

import { randomUUID } from 'node:crypto';
import { create, type DescMessage, toBinary } from '@bufbuild/protobuf';
import { createHttp2Upstream, type Upstream } from '@messenger/api-gateway';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import { createMetrics } from '@messenger/platform/metrics';
import { benchCaller } from './bench-caller.ts';
import { startRole } from './child-role.ts';
import { median, percentile } from './percentile.ts';
import { cpuMsOf, rssKbOf } from './proc-stats.ts';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const WARMUP_S = 2;
const SERVERS = ['http2', 'grpc-js'] as const;

interface Measure {
  callsPerSecond: number;
  serverCpuMicrosPerCall: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
}

const { userId, token, jwks } = await benchCaller();
const catalog = await loadMessengerCatalog();

function encoded(path: string, init: Record<string, unknown>): { service: string; path: string; request: Uint8Array } {
  const method = catalog.method(path);
  if (!method) throw new Error(`${path} is not in the catalog`);
  const input: DescMessage = method.descriptor.input;
  return { service: path.split('/')[1] ?? '', path, request: toBinary(input, create(input, init)) };
}
const calls = [
  encoded('/messenger.user.v1.UserService/GetUser', { userId }),
  encoded('/messenger.chat.v1.ChatService/SendMessage', {
    chatId: randomUUID(),
    clientMessageId: randomUUID(),
    text: 'a message of a typical length, sent to measure the server',
  }),
];

/** `CONCURRENCY` loops each making one call after another for `seconds`. */
async function measure(upstream: Upstream, serverPid: number | undefined, seconds: number): Promise<Measure> {
  const latencies: number[] = [];
  let failures = 0;
  let n = 0;
  const until = Date.now() + seconds * 1000;
  const cpuBefore = cpuMsOf(serverPid);
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < until) {
        const call = calls[n++ % calls.length] as (typeof calls)[number];
        const t0 = process.hrtime.bigint();
        const { status } = await upstream.unary({
          ...call,
          metadata: { authorization: `Bearer ${token}`, 'x-request-id': randomUUID() },
          deadline: Date.now() + 10_000,
        }).result;
        if (status.code === 0) latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        else failures++;
      }
    }),
  );
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuMs = cpuMsOf(serverPid) - cpuBefore;
  latencies.sort((a, b) => a - b);
  return {
    callsPerSecond: latencies.length / elapsedS,
    serverCpuMicrosPerCall: (cpuMs * 1000) / Math.max(1, latencies.length + failures),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    failures,
  };
}

console.log(
  `loopback; GetUser and SendMessage alternating, ${CONCURRENCY} in flight from the gateway's http2 client; ` +
    `${DURATION_S}s per measurement, ${ROUNDS} interleaved rounds (median), after ${WARMUP_S}s warm-up`,
);
const servers = [];
for (const transport of SERVERS) {
  const role = await startRole('gateway-processes.ts', 'upstream', {
    BENCH_JWKS: jwks,
    GRPC_SERVER_TRANSPORT: transport,
  });
  const upstream = createHttp2Upstream({
    addresses: Object.fromEntries(catalog.services.map((s) => [s.typeName, `127.0.0.1:${role.port}`])),
    catalog,
    metrics: createMetrics({ defaultMetrics: false }),
  });
  servers.push({ transport, role, upstream, runs: [] as Measure[] });
}
try {
  for (const s of servers) await measure(s.upstream, s.role.pid, WARMUP_S);
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of servers) s.runs.push(await measure(s.upstream, s.role.pid, DURATION_S));
  }
  console.log('');
  console.log('server transport | calls/s | server CPU µs/call | p50 ms | p99 ms | server RSS MB | failed');
  const rows = servers.map((s) => ({
    transport: s.transport,
    rate: median(s.runs.map((m) => m.callsPerSecond)),
    cpu: median(s.runs.map((m) => m.serverCpuMicrosPerCall)),
    p50: median(s.runs.map((m) => m.p50Ms)),
    p99: median(s.runs.map((m) => m.p99Ms)),
    rssMb: rssKbOf(s.role.pid) / 1024,
    failures: s.runs.reduce((sum, m) => sum + m.failures, 0),
  }));
  for (const r of rows) {
    console.log(
      `${r.transport.padEnd(16)} | ${r.rate.toFixed(0).padStart(7)} | ${r.cpu.toFixed(1).padStart(18)} | ${r.p50.toFixed(2).padStart(6)} | ${r.p99.toFixed(2).padStart(6)} | ${r.rssMb.toFixed(0).padStart(13)} | ${r.failures}`,
    );
  }
  const [own, reference] = rows;
  if (own && reference) {
    console.log(
      `\nhttp2 / grpc-js: server CPU per call ×${(own.cpu / reference.cpu).toFixed(2)}, calls/s ×${(own.rate / reference.rate).toFixed(2)}, p99 ×${(own.p99 / reference.p99).toFixed(2)}`,
    );
  }
  if (rows.some((r) => r.failures > 0)) {
    console.error('some calls failed; the figures above are not valid');
    process.exitCode = 1;
  }
} finally {
  for (const s of servers) {
    s.upstream.close();
    await s.role.stop();
  }
}
