// Instructions per request, counted by callgrind: the one cost figure on a
// shared machine that other work does not move (CPU time and req/s move by
// ±20 % between runs and even between two processes of the same code).
//
// Each server runs alone under `valgrind --tool=callgrind`: BENCH_INSTR_WARMUP
// requests (JIT, caches), counters zeroed, BENCH_INSTR_REQUESTS requests
// (16 at a time over kept-alive connections, each with the same bearer
// token), counters dumped. 20,000 by default: part of what is counted does
// not grow with the number of requests, and over 3,000 a cache hit counted
// 119k where over 20,000 it counts 87k, three processes within 1 %
// (docs/PERFORMANCE.md, Counting over 20,000 requests). The load
// generator and the gRPC upstream run natively and are not counted.
//   bare      a bare Fastify route answering the gateway's JSON (the reference)
//   hit       GET /v1/users/{id} through the gateway, answered from its cache
//   uncached  the same GET with the cache off: the gateway's side of an upstream call
// Each thread is counted apart (`--separate-threads`): the main thread, the
// event loop where every request is handled, is the figure to compare; the
// others are V8's compiler and GC helpers, whose share moves from run to run
// with when compilation happens (the all-thread sum of one gateway moved by
// 15 % between runs while its main thread stayed within 1 %). Still, compare
// figures of one run, or runs side by side. BENCH_INSTR_PROFILE=N also
// prints the N native functions (C++ and V8 builtins; JIT-compiled
// JavaScript is one "JIT code" line) with the largest share of each server's
// main thread. Needs valgrind (`apt-get install valgrind`); ≈ 6 min.

import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTokenSigner, generateSigningKeyRing } from '@messenger/platform/auth';
import { type RoleLaunch, type RunningRole, startGatewayRole, startRole } from './child-role.ts';

const REQUESTS = Number(process.env.BENCH_INSTR_REQUESTS ?? 20_000);
const WARMUP = Number(process.env.BENCH_INSTR_WARMUP ?? 4000);
const IN_FLIGHT = 16;
const PROFILE = Number(process.env.BENCH_INSTR_PROFILE ?? 0);
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
async function measure(
  role: string,
  env: Record<string, string>,
): Promise<{ main: number; all: number; body: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'instr-'));
  let server: RunningRole | undefined;
  // The same connections warm up and are measured: opening one is not a request's cost.
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  try {
    const launch: RoleLaunch = {
      under: [
        'valgrind',
        '-q',
        '--tool=callgrind',
        '--smc-check=all-non-file',
        '--separate-threads=yes',
        `--callgrind-out-file=${dir}/cg.%p`,
      ],
      startTimeoutMs: 180_000,
    };
    server =
      role === 'gateway'
        ? await startGatewayRole(env, launch)
        : await startRole('gateway-processes.ts', role, env, launch);
    const pid = String(server.pid);
    const body = await load(server.port, agent, WARMUP);
    execFileSync('callgrind_control', ['--zero', pid], { stdio: 'ignore' });
    await load(server.port, agent, REQUESTS);
    execFileSync('callgrind_control', ['--dump', pid], { stdio: 'ignore' });
    // The dump is part 1, one file per thread (`cg.<pid>.1-<thread>`); thread 01 is the main thread.
    let main = 0;
    let all = 0;
    for (const file of readdirSync(dir)) {
      const thread = /\.1-(\d+)$/.exec(file)?.[1];
      if (thread === undefined) continue;
      const text = readFileSync(join(dir, file), 'utf8');
      const total = Number(/^totals: (\d+)/m.exec(text)?.[1] ?? 0);
      all += total;
      if (thread !== '01') continue;
      main = total;
      if (PROFILE > 0) printProfile(role, env, text);
    }
    if (main === 0) throw new Error(`${role}: callgrind wrote no totals for the main thread`);
    return { main: main / REQUESTS, all: all / REQUESTS, body };
  } finally {
    agent.destroy();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The functions with the largest self cost in a callgrind file, per request. */
function printProfile(role: string, env: Record<string, string>, text: string): void {
  const names = new Map<string, string>();
  const self = new Map<string, number>();
  let fn = '';
  let callCost = false;
  for (const line of text.split('\n')) {
    // Names are compressed: `fn=(12) name` the first time, `fn=(12)` after; `cfn=` names callees.
    const named = /^c?fn=\((\d+)\)(?: (.*))?$/.exec(line);
    if (named) {
      const [, id, name] = named as unknown as [string, string, string | undefined];
      if (name !== undefined) names.set(id, name.startsWith('0x') ? 'JIT code' : name);
      if (line.startsWith('fn=')) fn = id;
      continue;
    }
    if (line.startsWith('calls=')) {
      callCost = true; // the next cost line is the call's inclusive cost, not this function's own
      continue;
    }
    const cost = /^[\d+*-]\S* (\d+)$/.exec(line);
    if (!cost) continue;
    if (callCost) callCost = false;
    else {
      const name = names.get(fn) ?? fn;
      self.set(name, (self.get(name) ?? 0) + Number(cost[1]));
    }
  }
  console.log(`  ${role} ${env.BENCH_CACHE ?? ''}: main thread, own instructions per request`);
  for (const [name, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, PROFILE)) {
    console.log(`    ${(n / REQUESTS / 1000).toFixed(1).padStart(6)} k  ${name.slice(0, 100)}`);
  }
}

try {
  const hit = await measure('gateway', { ...gatewayEnv, BENCH_CACHE: 'on' });
  const uncached = await measure('gateway', { ...gatewayEnv, BENCH_CACHE: 'off' });
  const bare = await measure('bare', { BENCH_BODY: hit.body });
  const rows: [string, { main: number; all: number }][] = [
    ['bare Fastify (reference)', bare],
    ['gateway, cache hit', hit],
    ['gateway, uncached GET', uncached],
  ];
  const k = (n: number) => `${(n / 1000).toFixed(1).padStart(7)} k`;
  console.log(`instructions per request (callgrind, ${REQUESTS} requests after ${WARMUP} to warm up)`);
  console.log(`  ${''.padEnd(26)} ${'main thread'.padStart(9)}  ${'× bare'.padStart(6)}   all threads  × bare`);
  for (const [name, n] of rows) {
    console.log(
      `  ${name.padEnd(26)} ${k(n.main)}  ${(n.main / bare.main).toFixed(2).padStart(5)}×   ${k(n.all)}  ${(n.all / bare.all).toFixed(2)}×`,
    );
  }
} finally {
  await upstream.stop();
}
