// Live update streams at scale, loopback only:
//   (1) opens BENCH_STREAMS (default 10,000) `GET /v1/updates` SSE streams
//       through one gateway process to the chat service, BENCH_OPENERS (default
//       100) at a time, each on its own connection and for its own user, at
//       most BENCH_RATE (default 1,000) per second in all (0: as fast as they
//       can); reports the open rate reached and the latency from sending the
//       request to receiving the response headers (p50/p99). Unpaced, 100
//       openers measure throughput and the latency is mostly queueing (100 /
//       rate); paced below capacity, the latency is the cost of one opening.
//       Also the CPU time the gateway and chat spent per opening, which
//       other load on the machine does not inflate as much as latency;
//   (2) the resident memory (RSS) of the gateway and of chat before the streams
//       and with all of them open and idle, and the growth per stream;
//   (3) with every stream still open, BENCH_MESSAGES messages sent one after
//       the other through the gateway to a user whose stream is open; reports
//       the latency from the send to the event on that stream (p50/p99).
// The gateway (one worker, rate limits raised) and chat (memory store) run in
// their own processes (bench/gateway-processes.ts, bench/chat-processes.ts).
// Each open stream holds a socket in this process and in the gateway: the
// file descriptor limit (`ulimit -n`) must exceed BENCH_STREAMS plus a margin.
// `npm run bench -- realtime`.

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createTokenSigner, generateSigningKeyRing } from '@messenger/platform/auth';
import { startRole } from './child-role.ts';

const STREAMS = Number(process.env.BENCH_STREAMS ?? 10_000);
const OPENERS = Number(process.env.BENCH_OPENERS ?? 100);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 50);
const SETTLE_MS = 3000;
const TRUST = { issuer: 'messenger-auth', audience: 'messenger', serviceAudience: 'messenger-internal' };

/** Resident set size of a process in KB; Linux /proc. */
function rssKbOf(pid: number | undefined): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? Number.NaN);
}

/** CPU time (user + system) a process has used so far, in ms; Linux /proc. */
function cpuMsOf(pid: number | undefined): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks at USER_HZ = 100
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ring = await generateSigningKeyRing();
const signer = createTokenSigner({ ...TRUST, keys: ring });
const tokenOf = async (userId: string) =>
  (await signer.signAccessToken({ userId, sessionId: randomUUID(), roles: [], ttlSeconds: 900 })).token;

console.log(
  `loopback; ${STREAMS} SSE streams, ${OPENERS} concurrent openers, ${RATE > 0 ? `at most ${RATE}/s` : 'unpaced'}; ` +
    `${MESSAGES} messages for delivery`,
);
const users = await Promise.all(
  Array.from({ length: STREAMS }, async () => {
    const id = randomUUID();
    return { id, token: await tokenOf(id) };
  }),
);
const jwks = await ring.exportPrivateJwks();
const chat = await startRole('chat-processes.ts', 'server', { BENCH_JWKS: jwks });
const gateway = await startRole('gateway-processes.ts', 'gateway', {
  BENCH_JWKS: jwks,
  BENCH_UPSTREAM: `127.0.0.1:${chat.port}`,
  GATEWAY_WORKERS: '1',
});
const base = `http://127.0.0.1:${gateway.port}`;

/** Opens one SSE stream on its own connection; resolves with the response once its headers arrived. */
const openStream = (token: string) =>
  new Promise<{ res: IncomingMessage; headerMs: number }>((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = httpRequest(
      `${base}/v1/updates`,
      { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, agent: false },
      (res) => {
        const headerMs = Number(process.hrtime.bigint() - started) / 1e6;
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`HTTP ${res.statusCode}`));
          return;
        }
        res.setEncoding('utf8');
        resolve({ res, headerMs });
      },
    );
    req.on('error', reject);
    req.end();
  });

const json = async (method: string, path: string, token: string, body: unknown) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
};

const open: IncomingMessage[] = [];
let failed = false;
try {
  // Warm-up: the code paths of both processes, before the baseline memory.
  for (let i = 0; i < 50; i++) (await openStream(users[i]?.token ?? '')).res.destroy();
  await sleep(SETTLE_MS);
  const before = { gateway: rssKbOf(gateway.pid), chat: rssKbOf(chat.pid) };

  // (1) Open every stream.
  const headerMs: number[] = [];
  let failures = 0;
  let next = 0;
  const cpuBefore = { gateway: cpuMsOf(gateway.pid), chat: cpuMsOf(chat.pid) };
  const started = Date.now();
  await Promise.all(
    Array.from({ length: OPENERS }, async () => {
      for (let i = next++; i < STREAMS; i = next++) {
        if (RATE > 0) {
          const slot = started + (i * 1000) / RATE - Date.now();
          if (slot > 0) await sleep(slot);
        }
        try {
          const s = await openStream(users[i]?.token ?? '');
          s.res.on('data', () => {});
          s.res.on('error', () => {});
          open.push(s.res);
          headerMs.push(s.headerMs);
        } catch {
          failures++;
        }
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  const cpuUs = (p: 'gateway' | 'chat') =>
    (((p === 'gateway' ? cpuMsOf(gateway.pid) : cpuMsOf(chat.pid)) - cpuBefore[p]) * 1000) / Math.max(1, open.length);
  headerMs.sort((a, b) => a - b);
  console.log(
    `opened ${open.length} streams (${failures} failed) in ${seconds.toFixed(1)} s: ${(open.length / seconds).toFixed(0)}/s; ` +
      `headers p50 ${percentile(headerMs, 50).toFixed(1)} ms, p99 ${percentile(headerMs, 99).toFixed(1)} ms; ` +
      `CPU per opening: gateway ${cpuUs('gateway').toFixed(0)} µs, chat ${cpuUs('chat').toFixed(0)} µs`,
  );

  // (2) Memory with every stream open and idle.
  await sleep(SETTLE_MS);
  const after = { gateway: rssKbOf(gateway.pid), chat: rssKbOf(chat.pid) };
  const perStream = (b: number, a: number) => ((a - b) / Math.max(1, open.length)).toFixed(1);
  for (const p of ['gateway', 'chat'] as const)
    console.log(
      `${p} RSS: ${(before[p] / 1024).toFixed(0)} MB before, ${(after[p] / 1024).toFixed(0)} MB with the streams open: ` +
        `${perStream(before[p], after[p])} KB per stream`,
    );
  console.log(
    `gateway + chat: ${perStream(before.gateway + before.chat, after.gateway + after.chat)} KB per idle stream`,
  );

  // (3) Delivery to an open stream while all the others stay open.
  const reader = users[0];
  const sender = users[1];
  const stream = open[0];
  if (!reader || !sender || !stream) throw new Error('no stream to deliver to');
  const created = await json('POST', '/v1/chats', sender.token, {
    type: 'CHAT_TYPE_GROUP',
    memberIds: [reader.id],
    title: 'bench',
  });
  const chatId = (created.chat as { chatId: string }).chatId;
  const waiting = new Map<string, () => void>();
  stream.on('data', (chunk: string) => {
    for (const [marker, done] of waiting)
      if (chunk.includes(marker)) {
        waiting.delete(marker);
        done();
      }
  });
  const delivery: number[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const marker = randomUUID();
    const arrived = new Promise<void>((resolve) => waiting.set(marker, resolve));
    const t = process.hrtime.bigint();
    await json('POST', `/v1/chats/${chatId}/messages`, sender.token, { clientMessageId: marker, text: marker });
    await arrived;
    delivery.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  delivery.sort((a, b) => a - b);
  console.log(
    `delivery send → stream event with ${open.length} streams open: p50 ${percentile(delivery, 50).toFixed(1)} ms, ` +
      `p99 ${percentile(delivery, 99).toFixed(1)} ms`,
  );
  if (failures > 0) failed = true;
} catch (error) {
  console.error(error);
  failed = true;
} finally {
  for (const r of open) r.destroy();
  await gateway.stop();
  await chat.stop();
}
process.exit(failed ? 1 : 0);
