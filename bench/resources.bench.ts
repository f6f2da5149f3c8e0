// CPU and resident memory of each cluster-mode process, idle and under load,
// for sizing Kubernetes requests and limits (docs/PERFORMANCE.md#requests-and-limits).
// Starts user, auth, subscriber, chat and the gateway as separate processes,
// as the cluster runs them: each service one process (`*_WORKERS=1`), the
// gateway GATEWAY_WORKERS (2, as k8s/base sets it), events on Kafka,
// revocations and the gateway's shared state in Redis; the stores are in
// memory (no MongoDB here), so the services' figures leave out the MongoDB
// driver's pool and the data they would otherwise not hold.
//   (1) idle: RES_IDLE_SECONDS (20) after start-up has settled;
//   (2) load: RES_USERS (20) users, friends, one group chat, a live SSE
//       stream each; RES_WORKERS (16) closed-loop clients run the soak's mix
//       (profile read, message sent, page of messages) for RES_LOAD_SECONDS (30).
// CPU is utime+stime from /proc over the window (the gateway: its process
// tree), in millicores, and under load also per request of the mix (above
// idle); RSS is sampled every 500 ms (idle: last sample; load: the highest).
// Needs Redis and Kafka:
//   scripts/with-test-infra.sh npm run bench -- resources
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from '@messenger/platform/testing';
import { processByEntry } from '../scripts/deploy/processes.ts';
import { call as callOn, groupOfFriends } from './embedded-system.ts';
import { treeCpuMsOf, treeRssKbOf } from './proc-stats.ts';

const IDLE_SECONDS = Number(process.env.RES_IDLE_SECONDS ?? 20);
const LOAD_SECONDS = Number(process.env.RES_LOAD_SECONDS ?? 30);
const USERS = Number(process.env.RES_USERS ?? 20);
const WORKERS = Number(process.env.RES_WORKERS ?? 16);
const GATEWAY_WORKERS = process.env.GATEWAY_WORKERS ?? '2';
if (!process.env.REDIS_URL || !process.env.KAFKA_BROKERS) {
  // Not a failure of `make bench`, which runs every bench without infrastructure.
  console.log('skipped: needs REDIS_URL and KAFKA_BROKERS (scripts/with-test-infra.sh npm run bench -- resources)');
  process.exit(0);
}

/** CPU seconds (utime + stime) of a process tree. */
const cpuSeconds = (pid: number) => treeCpuMsOf(pid) / 1000;

/** Resident MiB of a process tree. */
const rssMb = (pid: number) => treeRssKbOf(pid) / 1024;

const [auth, user, chat, subscriber, gateway] = await freePorts(5);
const ports = { auth, user, chat, subscriber, gateway };
const secrets = {
  subscriber: `bench-${randomUUID()}`,
  chat: `bench-${randomUUID()}`,
  gateway: `bench-${randomUUID()}`,
};
const common = {
  PATH: process.env.PATH,
  LOG_LEVEL: 'warn',
  EVENT_BUS: 'kafka',
  KAFKA_BROKERS: process.env.KAFKA_BROKERS,
  // The test infrastructure's mock cluster refuses both (it creates topics on first use).
  KAFKA_IDEMPOTENT_PRODUCER: 'false',
  KAFKA_CREATE_TOPICS: 'false',
  REVOCATION_STORE: 'redis',
  REDIS_URL: process.env.REDIS_URL,
  AUTH_SERVICE_ADDRESS: `127.0.0.1:${ports.auth}`,
  USER_SERVICE_ADDRESS: `127.0.0.1:${ports.user}`,
  SUBSCRIBER_SERVICE_ADDRESS: `127.0.0.1:${ports.subscriber}`,
  CHAT_SERVICE_ADDRESS: `127.0.0.1:${ports.chat}`,
};
const processes: { name: string; entry: string; env: Record<string, string | undefined> }[] = [
  { name: 'user', entry: 'services/user/src/main.ts', env: { USER_GRPC_PORT: String(ports.user) } },
  {
    name: 'auth',
    entry: 'services/auth/src/main.ts',
    env: {
      AUTH_GRPC_PORT: String(ports.auth),
      AUTH_SIGNING_KEYS: 'generate',
      AUTH_SERVICE_SECRETS: `subscriber:${secrets.subscriber},chat:${secrets.chat},gateway:${secrets.gateway}`,
    },
  },
  {
    name: 'subscriber',
    entry: 'services/subscriber/src/main.ts',
    env: { SUBSCRIBER_GRPC_PORT: String(ports.subscriber), SUBSCRIBER_SERVICE_SECRET: secrets.subscriber },
  },
  {
    name: 'chat',
    entry: 'services/chat/src/main.ts',
    env: { CHAT_GRPC_PORT: String(ports.chat), CHAT_SERVICE_SECRET: secrets.chat },
  },
  {
    name: 'api-gateway',
    entry: 'api-gateway/src/main.ts',
    env: {
      GATEWAY_HTTP_PORT: String(ports.gateway),
      GATEWAY_SERVICE_SECRET: secrets.gateway,
      GATEWAY_WORKERS,
      GATEWAY_SHARED_STATE: 'redis',
      GATEWAY_RATE_LIMIT_DEFAULT_PER_MINUTE: '1000000',
      GATEWAY_RATE_LIMIT_STRICT_PER_MINUTE: '100000',
      GATEWAY_RATE_LIMIT_STREAM_PER_MINUTE: '100000',
    },
  },
];

const running: { name: string; child: ChildProcess; pid: number }[] = [];
const base = `http://127.0.0.1:${ports.gateway}`;
const streams = new Set<IncomingMessage>();
let stopping = false;
/** The first process that exited on its own: the run is void. */
let exited: string | undefined;

const call = (method: string, path: string, token: string | undefined, body?: unknown) =>
  callOn(base, method, path, token, body);

/** CPU (millicores) and RSS (MiB: last sample, highest sample) of each process over `seconds`. */
async function measure(seconds: number, during?: Promise<unknown>) {
  const start = running.map((p) => cpuSeconds(p.pid));
  const peak = running.map(() => 0);
  let last = running.map(() => 0);
  const started = performance.now();
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    last = running.map((p) => rssMb(p.pid));
    last.forEach((mb, i) => {
      peak[i] = Math.max(peak[i] ?? 0, mb);
    });
    await sleep(500);
  }
  await during;
  const elapsed = (performance.now() - started) / 1000;
  return running.map((p, i) => ({
    name: p.name,
    cpuM: ((cpuSeconds(p.pid) - (start[i] ?? 0)) / elapsed) * 1000,
    rssMb: last[i] ?? 0,
    peakMb: peak[i] ?? 0,
  }));
}

try {
  for (const p of processes) {
    const child = spawn(process.execPath, [...(processByEntry(p.entry)?.nodeFlags ?? []), p.entry], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...common, ...p.env },
    });
    if (!child.pid) throw new Error(`${p.name} did not start`);
    running.push({ name: p.name, child, pid: child.pid });
    child.on('exit', (code) => {
      if (!stopping) {
        console.error(`${p.name} exited (${code})`);
        exited ??= p.name;
      }
    });
  }
  // Ready: the gateway answers /readyz and a registration goes through every hop.
  const readyBy = Date.now() + 120_000;
  for (;;) {
    try {
      await call('POST', '/v1/auth/register', undefined, {
        email: `probe${randomUUID().slice(0, 8)}@example.com`,
        password: 'correct horse battery staple',
        nickname: 'probe',
      });
      break;
    } catch (error) {
      if (exited) throw new Error(`${exited} exited before the system was ready`);
      if (Date.now() > readyBy) throw error;
      await sleep(1000);
    }
  }
  // Start-up (type stripping, module loading, first Kafka joins) settles first.
  await sleep(15_000);
  console.log(
    `load average at start ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const idle = await measure(IDLE_SECONDS);

  const { users, chatId } = await groupOfFriends(base, USERS, 'res');
  const [owner] = users;
  if (!owner) throw new Error('RES_USERS must be at least 2');
  for (const u of users) {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(
        `${base}/v1/updates`,
        { headers: { authorization: `Bearer ${u.token}`, accept: 'text/event-stream' } },
        resolve,
      );
      req.on('error', reject);
      req.end();
    });
    if (res.statusCode !== 200) throw new Error(`GET /v1/updates: HTTP ${res.statusCode}`);
    res.resume();
    streams.add(res);
  }

  let done = 0;
  let errors = 0;
  let op = 0;
  const loadEnd = Date.now() + LOAD_SECONDS * 1000;
  const load = Promise.all(
    Array.from({ length: WORKERS }, async () => {
      while (Date.now() < loadEnd) {
        const u = users[Math.floor(Math.random() * users.length)] ?? owner;
        const other = users[Math.floor(Math.random() * users.length)] ?? owner;
        const kind = op++ % 3;
        try {
          if (kind === 0) await call('GET', `/v1/users/${other.id}`, u.token);
          else if (kind === 1)
            await call('POST', `/v1/chats/${chatId}/messages`, u.token, { clientMessageId: randomUUID(), text: 'x' });
          else await call('GET', `/v1/chats/${chatId}/messages?pageSize=20`, u.token);
          done++;
        } catch (error) {
          if (errors++ < 5) console.error(String(error));
        }
      }
    }),
  );
  const loaded = await measure(LOAD_SECONDS, load);
  console.log(
    `load: ${(done / LOAD_SECONDS).toFixed(0)} req/s, ${errors} errors, ${WORKERS} closed-loop clients, ` +
      `${USERS} live streams; load average at end ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  console.log('| process | idle CPU (m) | idle RSS (MiB) | load CPU (m) | CPU µs per request | load RSS peak (MiB) |');
  console.log('|---|---|---|---|---|---|');
  idle.forEach((i, n) => {
    const l = loaded[n];
    const perRequest = (((l?.cpuM ?? 0) - i.cpuM) * LOAD_SECONDS * 1000) / Math.max(1, done);
    console.log(
      `| ${i.name} | ${i.cpuM.toFixed(0)} | ${i.rssMb.toFixed(0)} | ${l?.cpuM.toFixed(0)} | ${perRequest.toFixed(0)} | ${l?.peakMb.toFixed(0)} |`,
    );
  });
  if (errors > 0 || exited) process.exitCode = 1;
} finally {
  stopping = true;
  for (const s of streams) s.destroy();
  for (const p of running) p.child.kill('SIGTERM');
  await Promise.all(running.map((p) => (p.child.exitCode === null ? once(p.child, 'exit') : undefined)));
}
