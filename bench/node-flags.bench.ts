// The gateway's node flags, measured one fresh process at a time.
//
// Some costs are decided inside V8 once per process and kept for its life
// (allocation-site pretenuring: docs/PERFORMANCE.md, Slow for life),
// so two processes of the same code can differ by twice the CPU per request,
// and a flag's effect shows only across many processes, never in one. This
// starts BENCH_FLAG_PROCESSES (12) pairs of gateway processes one after
// another in front of one gRPC upstream, alternating between the flag sets
// (GATEWAY_NODE_FLAGS, the production ones, and each set of BENCH_FLAG_SETS,
// separated by '|'; by default the production flags without
// --no-allocation-site-pretenuring). A pair is one process with the cache
// off and one with it on; each gets wrk (1 thread × 64 connections) for 3 s
// of warm-up, then 8 s measured on GET /v1/users/{id}. Printed per process:
// req/s, p99, its user and system CPU µs per request from /proc, and from
// --trace-gc-nvp (added to every set) the median bytes a scavenge promoted to
// the old generation and the mark-compacts, both while measured; then per
// flag set the median and the worst process. Needs wrk; ≈ 5 min.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { GATEWAY_NODE_FLAGS } from '../scripts/deploy/processes.ts';
import { benchCaller } from './bench-caller.ts';
import { startRole } from './child-role.ts';
import { median } from './percentile.ts';
import { userSystemMsOf } from './proc-stats.ts';

const PAIRS = Number(process.env.BENCH_FLAG_PROCESSES ?? 12);
const WARMUP_S = 3;
const MEASURE_S = 8;
const withoutPretenuringOff = GATEWAY_NODE_FLAGS.filter((f) => f !== '--no-allocation-site-pretenuring');
const flagSets: readonly (readonly string[])[] = [
  GATEWAY_NODE_FLAGS,
  ...(process.env.BENCH_FLAG_SETS?.split('|').map((set) => set.trim().split(/\s+/).filter(Boolean)) ?? [
    withoutPretenuringOff,
  ]),
];

if (spawnSync('sh', ['-c', 'command -v wrk'], { stdio: 'ignore' }).status !== 0) {
  console.log('node-flags: wrk missing; skipped. Install with: apt-get install -y wrk');
  process.exit(0);
}

// wrk runs asynchronously so that this process keeps reading its children's
// output: a child whose stdout pipe fills up would stall on its next write.
const run = promisify(execFile);
const caller = await benchCaller();
const path = `/v1/users/${caller.userId}`;
const upstream = await startRole('gateway-processes.ts', 'upstream', { BENCH_JWKS: caller.jwks });

/** wrk's latency ("812.00us", "4.50ms", "1.02s") in ms. */
function wrkMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!m) throw new Error(`wrk latency ${JSON.stringify(text)}`);
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2] as 'us' | 'ms' | 's'];
}

interface Measured {
  readonly reqPerS: number;
  readonly p99Ms: number;
  readonly userUs: number;
  readonly systemUs: number;
  /** The median of what each scavenge promoted, in KB. */
  readonly promotedKb: number;
  readonly markCompacts: number;
}

/** What --trace-gc-nvp reported while a process was measured: one line per collection. */
class GcLines {
  measuring = false;
  readonly promoted: number[] = [];
  markCompacts = 0;
  #partial = '';

  read(text: string): void {
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop() ?? '';
    if (!this.measuring) return;
    for (const line of lines) {
      if (line.includes(' gc=s ')) this.promoted.push(Number(/ promoted=(\d+)/.exec(line)?.[1] ?? Number.NaN));
      else if (/ gc=m[cs] /.test(line)) this.markCompacts++;
    }
  }
}

async function measure(cache: 'on' | 'off', flags: readonly string[]): Promise<Measured> {
  const gc = new GcLines();
  const gateway = await startRole(
    'gateway-processes.ts',
    'gateway',
    { BENCH_JWKS: caller.jwks, BENCH_UPSTREAM: `127.0.0.1:${upstream.port}`, GATEWAY_WORKERS: '1', BENCH_CACHE: cache },
    { nodeFlags: [...flags, '--trace-gc-nvp'], onOutput: (text) => gc.read(text) },
  );
  try {
    const wrk = (seconds: number) =>
      run('wrk', [
        '-t1',
        '-c64',
        `-d${seconds}s`,
        '--latency',
        '-H',
        `Authorization: Bearer ${caller.token}`,
        `http://127.0.0.1:${gateway.port}${path}`,
      ]);
    await wrk(WARMUP_S);
    gc.measuring = true;
    const before = userSystemMsOf(gateway.pid);
    const { stdout } = await wrk(MEASURE_S);
    const after = userSystemMsOf(gateway.pid);
    gc.measuring = false;
    const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
    return {
      reqPerS: requests / MEASURE_S,
      p99Ms: wrkMs(/ 99%\s+(\S+)/.exec(stdout)?.[1] ?? ''),
      userUs: ((after.user - before.user) * 1000) / requests,
      systemUs: ((after.system - before.system) * 1000) / requests,
      promotedKb: median(gc.promoted) / 1024,
      markCompacts: gc.markCompacts,
    };
  } finally {
    await gateway.stop();
  }
}

const results = new Map<string, Measured[]>();
console.log('flags\tcache\treq/s\tp99 ms\tuser µs/req\tsystem µs/req\tpromoted KB/scavenge\tmark-compacts');
for (let pair = 0; pair < PAIRS; pair++) {
  const flags = flagSets[pair % flagSets.length] as readonly string[];
  for (const cache of ['off', 'on'] as const) {
    const m = await measure(cache, flags);
    const key = `${flags.join(' ') || '(none)'}\t${cache}`;
    results.set(key, [...(results.get(key) ?? []), m]);
    console.log(
      `${key}\t${m.reqPerS.toFixed(0)}\t${m.p99Ms.toFixed(2)}\t${m.userUs.toFixed(1)}\t${m.systemUs.toFixed(1)}\t` +
        `${m.promotedKb.toFixed(1)}\t${m.markCompacts}`,
    );
  }
}
await upstream.stop();

console.log('\nper flag set: processes, then median (worst) of each column');
console.log('flags\tcache\tprocesses\treq/s\tp99 ms\tuser µs/req\tpromoted KB/scavenge');
for (const [key, ms] of results) {
  const reqs = ms.map((m) => m.reqPerS);
  const p99s = ms.map((m) => m.p99Ms);
  const users = ms.map((m) => m.userUs);
  const promoted = ms.map((m) => m.promotedKb);
  console.log(
    `${key}\t${ms.length}\t${median(reqs).toFixed(0)} (${Math.min(...reqs).toFixed(0)})\t` +
      `${median(p99s).toFixed(2)} (${Math.max(...p99s).toFixed(2)})\t` +
      `${median(users).toFixed(1)} (${Math.max(...users).toFixed(1)})\t` +
      `${median(promoted).toFixed(1)} (${Math.max(...promoted).toFixed(1)})`,
  );
}
