// Upstream transport micro benchmark: the gateway's two Upstream
// implementations — grpc-js (createGrpcUpstream) and the own HTTP/2 client
// (createHttp2Upstream) — calling UserService.GetUser on the same gRPC server
// (bench/gateway-processes.ts upstream, its own process), with the metadata
// and metrics the gateway sends and records. For each transport:
//   - CPU µs per call in this (the client) process: process.cpuUsage() over
//     the calls made, user + system;
//   - calls/s with BENCH_CONCURRENCY calls in flight, and with one at a time.
// BENCH_DURATION_S seconds per measurement, BENCH_ROUNDS interleaved rounds
// (the median is reported), after a warm-up of each. BENCH_GRPC_TLS=1 adds
// both transports over mutual TLS (GRPC_TLS_REQUIRE_CLIENT_CERT, to a second
// upstream process; certificates from a CA made for the run with openssl) to
// the same interleaved rounds, and their cost over plaintext.

import { randomUUID } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { createGrpcUpstream, createHttp2Upstream, type Upstream } from '@messenger/api-gateway';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import { loadConfig } from '@messenger/platform/config';
import { createMetrics } from '@messenger/platform/metrics';
import { loadGrpcTls, runtimeSettings } from '@messenger/platform/runtime';
import { createTestPki } from '@messenger/platform/testing';
import { benchCaller } from './bench-caller.ts';
import { startRole } from './child-role.ts';
import { median } from './percentile.ts';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const WARMUP_S = 1;
const TLS = process.env.BENCH_GRPC_TLS === '1';
const PATH = '/messenger.user.v1.UserService/GetUser';
const SERVICE = 'messenger.user.v1.UserService';

interface Measure {
  callsPerSecond: number;
  cpuMicrosPerCall: number;
  failures: number;
}

/** `concurrency` loops each making one call after another for `seconds`. */
async function measure(call: () => Promise<boolean>, concurrency: number, seconds: number): Promise<Measure> {
  let calls = 0;
  let failures = 0;
  const until = Date.now() + seconds * 1000;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until) {
        if (await call()) calls++;
        else failures++;
      }
    }),
  );
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  return {
    callsPerSecond: calls / elapsedS,
    cpuMicrosPerCall: (used.user + used.system) / Math.max(1, calls + failures),
    failures,
  };
}

const { userId, token, jwks } = await benchCaller();
const catalog = await loadMessengerCatalog();
const method = catalog.method(PATH);
if (!method) throw new Error('GetUser is not in the catalog');
const request = toBinary(method.descriptor.input, create(method.descriptor.input, { userId }));

console.log(
  `loopback; GetUser on one gRPC server process${TLS ? ' (plaintext) and another (mutual TLS)' : ''}; ` +
    `${DURATION_S}s per measurement, ${ROUNDS} interleaved rounds (median), after ${WARMUP_S}s warm-up; ` +
    `concurrency ${CONCURRENCY} and 1`,
);
const pki = TLS ? await createTestPki() : undefined;
const tlsEnv = (ca: string, identity: { cert: string; key: string }): Record<string, string> => ({
  GRPC_TLS_CA_FILE: ca,
  GRPC_TLS_CERT_FILE: identity.cert,
  GRPC_TLS_KEY_FILE: identity.key,
  GRPC_TLS_REQUIRE_CLIENT_CERT: 'true',
});
const server = await startRole('gateway-processes.ts', 'upstream', { BENCH_JWKS: jwks });
const tlsServer = pki
  ? await startRole('gateway-processes.ts', 'upstream', { BENCH_JWKS: jwks, ...tlsEnv(pki.ca, pki.server) })
  : undefined;
try {
  const optionsFor = (port: number) => ({
    addresses: Object.fromEntries(catalog.services.map((s) => [s.typeName, `127.0.0.1:${port}`])),
    catalog,
    metrics: createMetrics({ defaultMetrics: false }),
  });
  const options = optionsFor(server.port);
  const transports: { name: string; upstream: Upstream }[] = [
    { name: 'grpc-js (createGrpcUpstream)', upstream: createGrpcUpstream(options) },
    { name: 'http2 (createHttp2Upstream)', upstream: createHttp2Upstream(options) },
  ];
  if (pki && tlsServer) {
    const tls = loadGrpcTls(loadConfig(runtimeSettings, tlsEnv(pki.ca, pki.client)), false);
    const tlsOptions = { ...optionsFor(tlsServer.port), tls };
    transports.push(
      { name: 'grpc-js, mutual TLS', upstream: createGrpcUpstream(tlsOptions) },
      { name: 'http2, mutual TLS', upstream: createHttp2Upstream(tlsOptions) },
    );
  }
  const callOf = (upstream: Upstream) => async () => {
    const { status } = await upstream.unary({
      service: SERVICE,
      path: PATH,
      request,
      metadata: { authorization: `Bearer ${token}`, 'x-request-id': randomUUID(), 'x-forwarded-for': '127.0.0.1' },
      deadline: Date.now() + 10_000,
    }).result;
    return status.code === 0;
  };
  const runs = transports.map(() => ({ loaded: [] as Measure[], single: [] as Measure[] }));
  for (const t of transports) {
    await measure(callOf(t.upstream), CONCURRENCY, WARMUP_S);
    await measure(callOf(t.upstream), 1, WARMUP_S);
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, t] of transports.entries()) {
      runs[i]?.loaded.push(await measure(callOf(t.upstream), CONCURRENCY, DURATION_S));
      runs[i]?.single.push(await measure(callOf(t.upstream), 1, DURATION_S));
    }
  }
  console.log('');
  console.log(
    `transport                          | ${`concurrency ${CONCURRENCY}`.padEnd(22)} | concurrency 1          | failed`,
  );
  console.log('                                   |  calls/s  CPU µs/call  |  calls/s  CPU µs/call  |');
  const rows = transports.map((t, i) => {
    const r = runs[i] ?? { loaded: [], single: [] };
    return {
      name: t.name,
      loadedRate: median(r.loaded.map((m) => m.callsPerSecond)),
      loadedCpu: median(r.loaded.map((m) => m.cpuMicrosPerCall)),
      singleRate: median(r.single.map((m) => m.callsPerSecond)),
      singleCpu: median(r.single.map((m) => m.cpuMicrosPerCall)),
      failures: [...r.loaded, ...r.single].reduce((n, m) => n + m.failures, 0),
    };
  });
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(34)} | ${r.loadedRate.toFixed(0).padStart(8)} ${r.loadedCpu.toFixed(1).padStart(12)}  | ${r.singleRate.toFixed(0).padStart(8)} ${r.singleCpu.toFixed(1).padStart(12)}  | ${r.failures}`,
    );
  }
  const [grpcJs, h2, grpcJsTls, h2Tls] = rows;
  const ratio = (label: string, a: (typeof rows)[number], b: (typeof rows)[number]) =>
    console.log(
      `${label}: CPU per call ×${(a.loadedCpu / b.loadedCpu).toFixed(2)} (concurrency ${CONCURRENCY}), ` +
        `×${(a.singleCpu / b.singleCpu).toFixed(2)} (1); calls/s ×${(a.loadedRate / b.loadedRate).toFixed(2)}, ` +
        `×${(a.singleRate / b.singleRate).toFixed(2)}`,
    );
  console.log('');
  if (grpcJs && h2) ratio('http2 / grpc-js', h2, grpcJs);
  if (grpcJs && grpcJsTls) ratio('grpc-js, mutual TLS / plaintext', grpcJsTls, grpcJs);
  if (h2 && h2Tls) ratio('http2, mutual TLS / plaintext', h2Tls, h2);
  for (const t of transports) t.upstream.close();
  if (rows.some((r) => r.failures > 0)) {
    console.error('some calls failed; the figures above are not valid');
    process.exitCode = 1;
  }
} finally {
  await server.stop();
  await tlsServer?.stop();
  await pki?.close();
}
