// Soak: the embedded system (`node embedded/src/main.ts`, its own process)
// with persistent SQLite storage in a fresh temporary directory, under steady
// mixed traffic through the gateway for SOAK_SECONDS (default 300):
//   (1) SOAK_USERS (default 20) accounts, each a friend of the first and all
//       members of one group chat, each with a live `GET /v1/updates` SSE
//       stream open for the whole run (one the server ends is reopened with
//       Last-Event-ID, as EventSource does, and counted by its end reason);
//   (2) capacity: SOAK_WORKERS (default 16) closed-loop workers run the mix
//       for CAPACITY_SECONDS; the completed requests per second are 100 %;
//   (3) the soak: the same mix paced at 80 % of that rate — a third each an
//       authenticated profile read (GET /v1/users/{id}), a message sent
//       (POST /v1/chats/{id}/messages) and a page of messages
//       (GET /v1/chats/{id}/messages), each by a random member.
// Per interval (a tenth of the run): requests, errors, p99 latency, and from
// the system's own /metrics its resident memory, event-loop delay (p99) and
// active handles. At the end: errors in all (must be 0, else exit 1), RSS and
// event-loop delay of the last interval against the first after warm-up,
// open handles, and the load average (other processes on the machine skew
// every figure). `npm run bench -- soak`; `SOAK_SECONDS=60` for a short run.

import { randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  call as callOn,
  groupOfFriends,
  type SystemMetrics,
  startEmbeddedSystem,
  type User,
} from './embedded-system.ts';
import { percentile } from './percentile.ts';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 300);
const USERS = Number(process.env.SOAK_USERS ?? 20);
const WORKERS = Number(process.env.SOAK_WORKERS ?? 16);
const CAPACITY_SECONDS = Math.min(20, Math.max(5, Math.round(SECONDS / 15)));
const INTERVALS = 10;
const LOAD = 0.8;

const system = await startEmbeddedSystem({
  // SOAK_NODE_ARGS: extra node flags for the system, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
  nodeArgs: (process.env.SOAK_NODE_ARGS ?? '').split(' ').filter(Boolean),
  // The resume window is what fills memory first; set it to see what else grows.
  env: process.env.CHAT_UPDATES_WINDOW_EVENTS
    ? { CHAT_UPDATES_WINDOW_EVENTS: process.env.CHAT_UPDATES_WINDOW_EVENTS }
    : {},
});
const { base, dataDir } = system;
const metrics = () => system.metrics();
const call = (method: string, path: string, token: string | undefined, body?: unknown) =>
  callOn(base, method, path, token, body);

const streams = new Set<IncomingMessage>();
/** Why the server ended streams during the run (each then reconnected), by reason. */
const streamEnds = new Map<string, number>();
/** Reconnects that failed. */
let streamFailures = 0;
let stopping = false;
let failed = false;
try {
  // (1) Accounts, friendships, one group, a live stream each.
  const { users, chatId } = await groupOfFriends(base, USERS, 'soak');
  // Each stream is a live client: when the server ends it, it reconnects with Last-Event-ID, as EventSource does.
  const follow = async (u: User, lastEventId?: string): Promise<void> => {
    const headers: Record<string, string> = { authorization: `Bearer ${u.token}`, accept: 'text/event-stream' };
    if (lastEventId) headers['last-event-id'] = lastEventId;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(`${base}/v1/updates`, { headers }, resolve);
      req.on('error', reject);
      req.end();
    });
    if (res.statusCode !== 200) throw new Error(`GET /v1/updates: HTTP ${res.statusCode}`);
    streams.add(res);
    res.setEncoding('utf8');
    let last = lastEventId;
    let ending = '';
    let buffered = '';
    res.on('data', (chunk: string) => {
      buffered += chunk;
      let end = buffered.indexOf('\n\n');
      while (end >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        end = buffered.indexOf('\n\n');
        last = /^id: (.*)$/m.exec(block)?.[1] ?? last;
        if (/^event: (end|error)$/m.test(block)) ending = /^data: (.*)$/m.exec(block)?.[1] ?? '';
      }
    });
    res.on('close', () => {
      streams.delete(res);
      if (stopping) return;
      const message = /"message":"([^"]*)"/.exec(ending)?.[1];
      // Grouped by reason: the error id that makes each message unique is left out.
      const reason = message?.replace(/ \(error id [^)]*\)/, '') ?? 'closed without an end event';
      streamEnds.set(reason, (streamEnds.get(reason) ?? 0) + 1);
      follow(u, last).catch(() => {
        streamFailures++;
      });
    });
  };
  for (const u of users) await follow(u);

  // The mix; resolves with the latency in ms, rejects on any answer but 200.
  let op = 0;
  const one = async (): Promise<number> => {
    const u = users[Math.floor(Math.random() * users.length)] as User;
    const other = users[Math.floor(Math.random() * users.length)] as User;
    const started = performance.now();
    const kind = op++ % 3;
    if (kind === 0) await call('GET', `/v1/users/${other.id}`, u.token);
    else if (kind === 1)
      await call('POST', `/v1/chats/${chatId}/messages`, u.token, { clientMessageId: randomUUID(), text: 'soak' });
    else await call('GET', `/v1/chats/${chatId}/messages?pageSize=20`, u.token);
    return performance.now() - started;
  };

  // (2) Capacity, closed loop.
  let done = 0;
  const capacityEnd = Date.now() + CAPACITY_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      while (Date.now() < capacityEnd) {
        await one();
        done++;
      }
    }),
  );
  const capacity = done / CAPACITY_SECONDS;
  const rate = capacity * LOAD;
  console.log(
    `embedded system, SQLite in ${dataDir}; ${USERS} users with a live SSE stream each; ` +
      `capacity ${capacity.toFixed(0)} req/s (${WORKERS} closed-loop workers, ${CAPACITY_SECONDS} s); ` +
      `soak at ${(LOAD * 100).toFixed(0)} %: ${rate.toFixed(0)} req/s for ${SECONDS} s; load average at start ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );

  // (3) The soak, open loop: requests start on schedule whatever the answers' latency.
  const intervalMs = (SECONDS * 1000) / INTERVALS;
  const rows: ({ p99: number } & SystemMetrics)[] = [];
  let errors = 0;
  const inFlight = new Set<Promise<void>>();
  const soakStart = Date.now();
  let sent = 0;
  for (let interval = 0; interval < INTERVALS; interval++) {
    const latencies: number[] = [];
    let intervalErrors = 0;
    const end = soakStart + (interval + 1) * intervalMs;
    while (Date.now() < end) {
      const due = soakStart + (sent * 1000) / rate;
      if (due > Date.now()) {
        await sleep(Math.max(0, Math.min(due - Date.now(), end - Date.now())));
        continue;
      }
      sent++;
      const p = one().then(
        (ms) => {
          latencies.push(ms);
        },
        (error: unknown) => {
          intervalErrors++;
          if (errors++ < 5) console.error(String(error));
        },
      );
      const tracked = p.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    }
    latencies.sort((a, b) => a - b);
    const m = await metrics();
    rows.push({ p99: percentile(latencies, 99), ...m });
    console.log(
      `${String(interval + 1).padStart(2)}: ${latencies.length} ok, ${intervalErrors} errors, ` +
        `p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms; ` +
        `RSS ${m.rssMb.toFixed(0)} MB (heap in use ${m.heapMb.toFixed(0)}, external ${m.externalMb.toFixed(0)}), event-loop delay p99 ${m.lagP99Ms.toFixed(1)} ms, ${m.handles} active handles; ` +
        `load ${loadavg()[0]?.toFixed(2)}`,
    );
  }
  await Promise.all(inFlight);

  // Flatness: the last interval against the first after warm-up (the second).
  const warm = rows[1];
  const last = rows[rows.length - 1];
  const change = (a: number, b: number) => `${(((b - a) / a) * 100).toFixed(1)} %`;
  const endMetrics = await metrics();
  if (warm && last) {
    console.log(
      `after warm-up: RSS ${warm.rssMb.toFixed(0)} → ${last.rssMb.toFixed(0)} MB (${change(warm.rssMb, last.rssMb)}), ` +
        `event-loop delay p99 ${warm.lagP99Ms.toFixed(1)} → ${last.lagP99Ms.toFixed(1)} ms (${change(warm.lagP99Ms, last.lagP99Ms)}), ` +
        `p99 ${warm.p99.toFixed(1)} → ${last.p99.toFixed(1)} ms`,
    );
  }
  console.log(
    `errors ${errors}, stream reconnects that failed ${streamFailures}; streams the server ended (then resumed): ` +
      `${JSON.stringify(Object.fromEntries(streamEnds))}; open handles at the end ${endMetrics.handles} ` +
      `(${USERS} SSE streams open); load average at the end ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  if (errors > 0 || streamFailures > 0) failed = true;
} catch (error) {
  console.error(error);
  failed = true;
} finally {
  stopping = true;
  for (const s of streams) s.destroy();
  await system.stop();
}
process.exit(failed ? 1 : 0);
