// Fan-out: a message reaching every online member of a group, in the
// embedded system (its own process, SQLite in a temporary directory):
//   (1) BENCH_FANOUT_MEMBERS (default 100) accounts, friends of the first,
//       all members of one group, each with a live `GET /v1/updates` SSE
//       stream;
//   (2) for each rate of BENCH_FANOUT_RATES (messages/s, default
//       100,300,1000), BENCH_FANOUT_SECONDS (default 5) of messages sent
//       open-loop by random members (at most 256 sends in flight; a send due
//       while 256 are is counted as not sent), then until every stream has
//       every message or 10 s pass. Reports the rate reached, the latency
//       from the send (the request's start) to the event on each member's
//       stream (p50/p99 over every message × member), deliveries missing,
//       and the system's CPU per message and per delivery (the rate's CPU
//       above idle, from /proc, over the messages and the deliveries; the
//       send itself is in both), and this process's CPU (it reads every
//       stream, so it competes with the system for the cores).
// `npm run bench -- fanout`.
import { randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { call, groupOfFriends, startEmbeddedSystem } from './embedded-system.ts';
import { percentile } from './percentile.ts';
import { cpuMsOf } from './proc-stats.ts';

const MEMBERS = Number(process.env.BENCH_FANOUT_MEMBERS ?? 100);
const RATES = (process.env.BENCH_FANOUT_RATES ?? '100,300,1000').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_FANOUT_SECONDS ?? 5);
const MAX_IN_FLIGHT = 256;
const IDLE_MS = 2000;

const system = await startEmbeddedSystem({
  nodeArgs: (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
});
const streams: IncomingMessage[] = [];
let failed = false;
try {
  const { users, chatId } = await groupOfFriends(system.base, MEMBERS, 'fanout');

  /** Per message: when it was sent (ms, performance.now()); per delivery: its latency. */
  let sentAt: Float64Array = new Float64Array(0);
  let latencies: number[] = [];
  let delivered = 0;
  /** Marks a message in its text; a stream's chunk is searched for these. */
  const MARKER = /fanout-(\d+)-(\d+)/g;
  let round = 0;
  for (const u of users) {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(
        `${system.base}/v1/updates`,
        { headers: { authorization: `Bearer ${u.token}`, accept: 'text/event-stream' } },
        resolve,
      );
      req.on('error', reject);
      req.end();
    });
    if (res.statusCode !== 200) throw new Error(`GET /v1/updates: HTTP ${res.statusCode}`);
    res.setEncoding('utf8');
    let pending = '';
    res.on('data', (chunk: string) => {
      const now = performance.now();
      // Only whole events: a marker may be cut between two chunks.
      const text = pending + chunk;
      const end = text.lastIndexOf('\n\n');
      pending = end < 0 ? text : text.slice(end + 2);
      if (end < 0) return;
      for (const m of text.slice(0, end).matchAll(MARKER)) {
        if (Number(m[1]) !== round) continue;
        const at = sentAt[Number(m[2])];
        if (at === undefined) continue;
        latencies.push(now - at);
        delivered++;
      }
    });
    res.on('error', () => {});
    streams.push(res);
  }
  await sleep(IDLE_MS);
  const idleCpuStart = cpuMsOf(system.pid);
  await sleep(IDLE_MS);
  const idleCpuPerMs = (cpuMsOf(system.pid) - idleCpuStart) / IDLE_MS;
  console.log(
    `embedded system, SQLite; one group of ${MEMBERS} members, each with a live SSE stream; ` +
      `${SECONDS} s per rate; idle CPU ${(idleCpuPerMs * 1000).toFixed(0)} ms/s; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );

  for (const rate of RATES) {
    round++;
    const total = Math.round(rate * SECONDS);
    sentAt = new Float64Array(total).fill(Number.NaN);
    latencies = [];
    delivered = 0;
    let sent = 0;
    let skipped = 0;
    let errors = 0;
    let inFlight = 0;
    const sends: Promise<void>[] = [];
    const cpuStart = cpuMsOf(system.pid);
    const ownStart = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      if (inFlight >= MAX_IN_FLIGHT) {
        skipped++;
        continue;
      }
      const sender = users[Math.floor(Math.random() * users.length)];
      if (!sender) continue;
      inFlight++;
      sent++;
      sentAt[i] = performance.now();
      sends.push(
        call(system.base, 'POST', `/v1/chats/${chatId}/messages`, sender.token, {
          clientMessageId: randomUUID(),
          text: `fanout-${round}-${i}`,
        }).then(
          () => {
            inFlight--;
          },
          (error: unknown) => {
            inFlight--;
            if (errors++ < 3) console.error(String(error));
          },
        ),
      );
    }
    const sendSeconds = (performance.now() - started) / 1000;
    await Promise.all(sends);
    const expected = (sent - errors) * MEMBERS;
    const deadline = performance.now() + 10_000;
    while (delivered < expected && performance.now() < deadline) await sleep(20);
    const seconds = (performance.now() - started) / 1000;
    const cpuMs = cpuMsOf(system.pid) - cpuStart - idleCpuPerMs * seconds * 1000;
    const own = process.cpuUsage(ownStart);
    const sorted = Float64Array.from(latencies).sort();
    console.log(
      `${rate} msg/s asked: ${(sent / sendSeconds).toFixed(0)} msg/s sent (${skipped} not sent: ${MAX_IN_FLIGHT} in flight; ${errors} errors); ` +
        `${delivered} of ${expected} deliveries (${expected - delivered} missing); ` +
        `send → member's stream p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms; ` +
        `system CPU ${((cpuMs * 1000) / Math.max(1, sent)).toFixed(0)} µs per message, ` +
        `${((cpuMs * 1000) / Math.max(1, delivered)).toFixed(1)} µs per delivery; ` +
        `this process ${((own.user + own.system) / 1000 / seconds).toFixed(0)} ms CPU/s; load ${loadavg()[0]?.toFixed(2)}`,
    );
    if (errors > 0 || delivered < expected) failed = true;
    await sleep(IDLE_MS);
  }
} catch (error) {
  console.error(error);
  failed = true;
} finally {
  for (const s of streams) s.destroy();
  await system.stop();
}
process.exit(failed ? 1 : 0);
