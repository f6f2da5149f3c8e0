// Instructions per request, counted by callgrind: the one cost figure on a
// shared machine that other work does not move (CPU time and req/s move by
// ±20 % between runs and even between two processes of the same code).
//
// Each server runs alone under `valgrind --tool=callgrind`: BENCH_INSTR_WARMUP
// requests (JIT, caches), counters zeroed, BENCH_INSTR_REQUESTS requests
// (16 at a time over kept-alive connections, each with the same bearer
// token), counters dumped. The load generator and the gRPC upstream run
// natively and are not counted.
//   bare      a bare Fastify route answering the gateway's JSON (the reference)
//   hit       GET /v1/users/{id} through the gateway, answered from its cache
//   uncached  the same GET with the cache off: the gateway's side of an upstream call
// V8's compiler and GC threads are counted too, so compare figures of one
// run (or runs side by side): three gateways measured side by side agreed
// within 1 %, while bare Fastify measured 102k to 124k in runs hours apart.
// Needs valgrind
// (`apt-get install valgrind`); ≈ 5 min.

import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTokenSigner, generateSigningKeyRing } from '@messenger/platform/auth';
import { type RunningRole, startRole } from './child-role.ts';

const REQUESTS = Number(process.env.BENCH_INSTR_REQUESTS ?? 3000);
const WARMUP = Number(process.env.BENCH_INSTR_WARMUP ?? 4000);
const IN_FLIGHT = 16;
const TRUST = { issuer: 'messenger-auth', audience: 'messenger', serviceAudience: 'messenger-internal' };

if (spawnSync('sh', ['-c', 'command -v valgrind && command -v callgrind_control'], { stdio: 'ignore' }).status !== 0) {
  console.log('instructions: valgrind missing; skipped. Install with: apt-get install -y valgrind');
  process.exit(0);
}

const ring = await generateSigningKeyRing();
const jwks = await ring.exportPrivateJwks();
const signer = createTokenSigner({ ...TRUST, keys: ring });
const userId = randomUUID();
const { token } = await signer.signAccessToken({ userId, sessionId: randomUUID(), roles: [], ttlSeconds: 900 });
const path = `/v1/users/${userId}`;
const upstream = await startRole('gateway-processes.ts', 'upstream', { BENCH_JWKS: jwks });
const gatewayEnv = { BENCH_JWKS: jwks, BENCH_UPSTREAM: `127.0.0.1:${upstream.port}`, GATEWAY_WORKERS: '1' };

/** GETs `path` `count` times, IN_FLIGHT at a time over `agent`'s connections; returns the last body. */
async function load(port: number, agent: Agent, count: number): Promise<string> {
  let next = 0;
  let body = '';
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = get(
        { host: '127.0.0.1', port, path, agent, headers: { authorization: `Bearer ${token}` } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode !== 200) reject(new Error(`GET ${path}: ${res.statusCode}`));
            body = Buffer.concat(chunks).toString();
            resolve();
          });
        },
      );
      req.on('error', reject);
    });
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next++ < count) await one();
    }),
  );
  return body;
}

/** Instructions per request of one role under callgrind, after the warm-up. */
async function measure(role: string, env: Record<string, string>): Promise<{ perRequest: number; body: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'instr-'));
  let server: RunningRole | undefined;
  // The same connections warm up and are measured: opening one is not a request's cost.
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  try {
    server = await startRole('gateway-processes.ts', role, env, {
      under: ['valgrind', '-q', '--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${dir}/cg.%p`],
      startTimeoutMs: 180_000,
    });
    const pid = String(server.pid);
    const body = await load(server.port, agent, WARMUP);
    execFileSync('callgrind_control', ['--zero', pid], { stdio: 'ignore' });
    await load(server.port, agent, REQUESTS);
    execFileSync('callgrind_control', ['--dump', pid], { stdio: 'ignore' });
    let total = 0;
    for (const file of readdirSync(dir)) {
      const m = /^totals: (\d+)/m.exec(readFileSync(join(dir, file), 'utf8'));
      if (m) total = Math.max(total, Number(m[1]));
    }
    if (total === 0) throw new Error(`${role}: callgrind wrote no totals`);
    return { perRequest: total / REQUESTS, body };
  } finally {
    agent.destroy();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  const hit = await measure('gateway', { ...gatewayEnv, BENCH_CACHE: 'on' });
  const uncached = await measure('gateway', { ...gatewayEnv, BENCH_CACHE: 'off' });
  const bare = await measure('bare', { BENCH_BODY: hit.body });
  const rows: [string, number][] = [
    ['bare Fastify (reference)', bare.perRequest],
    ['gateway, cache hit', hit.perRequest],
    ['gateway, uncached GET', uncached.perRequest],
  ];
  console.log(`instructions per request (callgrind, ${REQUESTS} requests after ${WARMUP} to warm up)`);
  for (const [name, n] of rows) {
    console.log(
      `  ${name.padEnd(26)} ${(n / 1000).toFixed(1).padStart(7)} k   ${(n / bare.perRequest).toFixed(2)}× bare`,
    );
  }
} finally {
  await upstream.stop();
}
