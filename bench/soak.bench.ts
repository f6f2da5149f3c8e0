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

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 300);
const USERS = Number(process.env.SOAK_USERS ?? 20);
const WORKERS = Number(process.env.SOAK_WORKERS ?? 16);
const CAPACITY_SECONDS = Math.min(20, Math.max(5, Math.round(SECONDS / 15)));
const INTERVALS = 10;
const LOAD = 0.8;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  return typeof address === 'object' && address ? address.port : 0;
}

const dataDir = mkdtempSync(join(tmpdir(), 'messenger-soak-'));
const metricsPort = await freePort();
// SOAK_NODE_ARGS: extra node flags for the system, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
const nodeArgs = (process.env.SOAK_NODE_ARGS ?? '').split(' ').filter(Boolean);
const system = spawn(process.execPath, [...nodeArgs, 'embedded/src/main.ts'], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: {
    PATH: process.env.PATH,
    EMBEDDED_STORAGE: 'sqlite',
    DATA_DIR: dataDir,
    AUTH_GRPC_PORT: '0',
    USER_GRPC_PORT: '0',
    SUBSCRIBER_GRPC_PORT: '0',
    CHAT_GRPC_PORT: '0',
    NOTIFICATION_GRPC_PORT: '0',
    GATEWAY_HTTP_PORT: '0',
    METRICS_PORT: String(metricsPort),
    LOG_LEVEL: 'warn',
    // Every request here is one user's: the per-user budgets would measure the rate limiter.
    GATEWAY_RATE_LIMIT_DEFAULT_PER_MINUTE: '1000000',
    GATEWAY_RATE_LIMIT_STRICT_PER_MINUTE: '100000',
    GATEWAY_RATE_LIMIT_STREAM_PER_MINUTE: '100000',
    // The resume window is what fills memory first; set it to see what else grows.
    ...(process.env.CHAT_UPDATES_WINDOW_EVENTS && {
      CHAT_UPDATES_WINDOW_EVENTS: process.env.CHAT_UPDATES_WINDOW_EVENTS,
    }),
  },
});
const base = await new Promise<string>((resolve, reject) => {
  let out = '';
  system.stdout.setEncoding('utf8');
  system.stdout.on('data', (chunk: string) => {
    out += chunk;
    const url = /^gateway\s+(http:\/\/\S+)$/m.exec(out)?.[1];
    if (url && out.includes('messenger ready')) resolve(url);
  });
  system.on('exit', (code) => reject(new Error(`the embedded system exited (${code}) before it was ready`)));
});

async function metrics(): Promise<{
  rssMb: number;
  heapMb: number;
  externalMb: number;
  lagP99Ms: number;
  handles: number;
}> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]);
  return {
    rssMb: value('process_resident_memory_bytes') / 2 ** 20,
    // What of RSS is the JavaScript heap in use and what Buffers and native modules hold.
    heapMb: value('nodejs_heap_size_used_bytes') / 2 ** 20,
    externalMb: value('nodejs_external_memory_bytes') / 2 ** 20,
    lagP99Ms: value('nodejs_eventloop_lag_p99_seconds') * 1000,
    handles: value('nodejs_active_handles_total'),
  };
}

async function call(method: string, path: string, token: string | undefined, body?: unknown) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

interface User {
  readonly id: string;
  readonly token: string;
}

const streams = new Set<IncomingMessage>();
/** Why the server ended streams during the run (each then reconnected), by reason. */
const streamEnds = new Map<string, number>();
/** Reconnects that failed. */
let streamFailures = 0;
let stopping = false;
let failed = false;
try {
  // (1) Accounts, friendships, one group, a live stream each.
  const users: User[] = [];
  for (let i = 0; i < USERS; i++) {
    const tag = `soak${i}${randomUUID().slice(0, 6)}`;
    const body = await call('POST', '/v1/auth/register', undefined, {
      email: `${tag}@example.com`,
      password: 'correct horse battery staple',
      nickname: tag,
    });
    const { tokens, user } = body as { tokens: { accessToken: string }; user: { userId: string } };
    users.push({ id: user.userId, token: tokens.accessToken });
  }
  const [owner, ...members] = users;
  if (!owner) throw new Error('SOAK_USERS must be at least 2');
  for (const m of members) {
    await call('POST', `/v1/friends/${m.id}`, owner.token, {});
    await call('POST', `/v1/friends/${owner.id}/confirm`, m.token, {});
  }
  const created = await call('POST', '/v1/chats', owner.token, {
    type: 'CHAT_TYPE_GROUP',
    title: 'soak',
    memberIds: members.map((m) => m.id),
  });
  const chatId = (created.chat as { chatId: string }).chatId;
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
  const rows: ({ p99: number } & Awaited<ReturnType<typeof metrics>>)[] = [];
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
  system.kill('SIGTERM');
  await once(system, 'exit');
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
