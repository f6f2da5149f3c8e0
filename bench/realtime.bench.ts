// Live update streams at scale, loopback only:
//   (0) the reference: the same streams opened the same way against bare
//       Fastify answering with the same SSE head and nothing behind it; its
//       header latency and RSS per idle stream, to compare (1) and (2) with;
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
//       the latency from the send to the event on that stream (p50/p99);
//   (4) the users are put in groups of up to 1,000: how long until every
//       member's stream had its group's creation (the whole chat, members
//       and all), and the CPU the gateway and chat spent on it;
//   (5) a reconnect storm: the gateway process is restarted (every stream is cut at once), each group
//       gets BENCH_STORM_MESSAGES messages while nobody is connected, and every
//       client reconnects with its last update id (Last-Event-ID), paced over
//       BENCH_STORM_SECONDS (default 10). Reports how long until every client
//       had every missed message, and the clients that lost one, got one twice
//       or were told to resync instead of resuming;
//   (6) on a fresh chat and gateway, the same users over WebSocket
//       (`GET /v1/ws`), opened as in (1): the rate, the time to each
//       session's first frame (chat's start of the stream, relayed), the CPU
//       per opening, RSS per idle session, and send → frame delivery.
// The gateway (one worker, rate limits raised) and chat (memory store) run in
// their own processes (bench/gateway-processes.ts, bench/chat-processes.ts).
// Each open stream holds a socket in this process and in the gateway: the
// file descriptor limit (`ulimit -n`) must exceed BENCH_STREAMS plus a margin.
// `npm run bench -- realtime`.

import { randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { type Histogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTokenSigner, generateSigningKeyRing } from '@messenger/platform/auth';
import WebSocket from 'ws';
import { startGatewayRole, startRole } from './child-role.ts';
import { call } from './embedded-system.ts';
import { percentile } from './percentile.ts';
import { cpuMsOf, rssKbOf } from './proc-stats.ts';

const STREAMS = Number(process.env.BENCH_STREAMS ?? 10_000);
const OPENERS = Number(process.env.BENCH_OPENERS ?? 100);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 50);
const SETTLE_MS = 3000;
const STORM_MESSAGES = Number(process.env.BENCH_STORM_MESSAGES ?? 5);
const STORM_SECONDS = Number(process.env.BENCH_STORM_SECONDS ?? 10);
/** A group's members, creator included: the default member cap. */
const GROUP_SIZE = 1000;
const TRUST = { issuer: 'messenger-auth', audience: 'messenger', serviceAudience: 'messenger-internal' };

/** User plus system time of a `process.cpuUsage()` reading, in µs. */
const ownCpuUs = (usage: NodeJS.CpuUsage) => usage.user + usage.system;

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
let chat = await startRole('chat-processes.ts', 'server', { BENCH_JWKS: jwks });
const startGateway = () =>
  startGatewayRole({
    BENCH_JWKS: jwks,
    BENCH_UPSTREAM: `127.0.0.1:${chat.port}`,
    GATEWAY_WORKERS: '1',
  });
let gateway = await startGateway();
let base = `http://127.0.0.1:${gateway.port}`;
/** The gateway's and chat's CPU (ms) and RSS (KB) now, to measure a phase from. */
const mark = () => ({
  cpu: { gateway: cpuMsOf(gateway.pid), chat: cpuMsOf(chat.pid) },
  rss: { gateway: rssKbOf(gateway.pid), chat: rssKbOf(chat.pid) },
});
type Mark = ReturnType<typeof mark>;
/** Their CPU since `from`, per one of `count`, as text. */
const cpuPer = (from: Mark, count: number) => {
  const now = mark().cpu;
  const us = (p: 'gateway' | 'chat') => (((now[p] - from.cpu[p]) * 1000) / Math.max(1, count)).toFixed(0);
  return `gateway ${us('gateway')} µs, chat ${us('chat')} µs`;
};
/** Their RSS growth since `from`, together, in KB per one of `count`. */
const rssPer = (from: Mark, count: number) => {
  const now = mark().rss;
  return (now.gateway + now.chat - from.rss.gateway - from.rss.chat) / Math.max(1, count);
};

/** Opens one SSE stream on its own connection; resolves with the response once its headers arrived. */
const openStream = (token: string, lastEventId?: string, at = base) =>
  new Promise<{ res: IncomingMessage; headerMs: number }>((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = httpRequest(
      `${at}/v1/updates`,
      {
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'text/event-stream',
          ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }),
        },
        agent: false,
      },
      (res) => {
        const headerMs = Number(process.hrtime.bigint() - started) / 1e6;
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`HTTP ${res.statusCode}`));
          return;
        }
        resolve({ res, headerMs });
      },
    );
    req.on('error', reject);
    req.end();
  });

/**
 * Opens one WebSocket session (`GET /v1/ws`, the token as a subprotocol);
 * resolves once its first frame came: chat's start of the stream, relayed.
 */
const openSocket = (token: string) =>
  new Promise<{ ws: WebSocket; firstFrameMs: number }>((resolve, reject) => {
    const started = process.hrtime.bigint();
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/ws`, ['messenger.v1', `bearer.${token}`]);
    ws.on('error', reject);
    ws.once('close', (code) => reject(new Error(`WebSocket closed with ${code} before its first frame`)));
    ws.once('message', () => resolve({ ws, firstFrameMs: Number(process.hrtime.bigint() - started) / 1e6 }));
  });
/** Every WebSocket session open. */
const sockets: WebSocket[] = [];

/**
 * MESSAGES messages sent one after another by user 1 to user 0 in a new chat
 * of theirs, each timed from its send until `listen`'s chunks (user 0's
 * stream or socket) include it; sorted.
 */
async function timeDeliveries(
  title: string,
  listen: (onChunk: (chunk: Buffer) => void) => () => void,
): Promise<number[]> {
  const [reader, sender] = users;
  if (!reader || !sender) throw new Error('no users to deliver between');
  const created = await call(base, 'POST', '/v1/chats', sender.token, {
    type: 'CHAT_TYPE_GROUP',
    memberIds: [reader.id],
    title,
  });
  const chatId = (created.chat as { chatId: string }).chatId;
  const ms: number[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const marker = randomUUID();
    let unlisten = () => {};
    const arrived = new Promise<void>((resolve, reject) => {
      const late = setTimeout(() => {
        unlisten();
        reject(new Error(`message ${i} did not arrive within 10 s`));
      }, 10_000);
      unlisten = listen((chunk) => {
        if (!chunk.includes(marker)) return;
        clearTimeout(late);
        unlisten();
        resolve();
      });
    });
    const t = process.hrtime.bigint();
    await call(base, 'POST', `/v1/chats/${chatId}/messages`, sender.token, { clientMessageId: marker, text: marker });
    await arrived;
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return ms.sort((a, b) => a - b);
}

/** What each user's stream has had: its last update id, and how often each storm message came. */
const seen = users.map(() => ({
  lastId: undefined as string | undefined,
  /** The start of a block not ended yet. */
  pending: undefined as Buffer | undefined,
  markers: new Map<string, number>(),
  resyncs: 0,
  /** Creations of a storm group seen. */
  groupsCreated: 0,
}));
const STORM_MARKER = /storm-\d+-\d+/g;
const BLOCK_END = Buffer.from('\n\n');

/** Reads a user's SSE stream as a client does: the last `id:`, storm messages, resyncs. */
function track(i: number, res: IncomingMessage): void {
  const state = seen[i];
  if (!state) return;
  // Kept as bytes: only a block's head is decoded, so reading a large update
  // (a group's whole member list) costs little more than receiving it.
  res.on('data', (chunk: Buffer) => {
    const pending = state.pending;
    const bytes = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
    let start = 0;
    // A block's blank line may straddle two chunks: look from the pending's last byte.
    let end = bytes.indexOf(BLOCK_END, Math.max(0, (pending?.length ?? 0) - 1));
    while (end >= 0) {
      const block = bytes.subarray(start, end);
      start = end + BLOCK_END.length;
      end = bytes.indexOf(BLOCK_END, start);
      // The id, the update's kind and a group's title come first.
      const head = block.toString('utf8', 0, Math.min(block.length, 1024));
      const id = /^id: (.+)$/m.exec(head)?.[1];
      if (id !== undefined) state.lastId = id;
      if (head.includes('"resyncRequired"')) state.resyncs++;
      if (head.includes('"chatCreated"') && head.includes('"title":"storm ')) state.groupsCreated++;
      if (!head.includes('"messageCreated"')) continue;
      for (const marker of block.toString('utf8').match(STORM_MARKER) ?? [])
        state.markers.set(marker, (state.markers.get(marker) ?? 0) + 1);
    }
    state.pending = start < bytes.length ? bytes.subarray(start) : undefined;
  });
}

/**
 * Opens a stream for every user through `at`, OPENERS at a time and at most
 * RATE per second in all; `opened` gets each one as it opens.
 */
async function openAll(at: string, opened: (user: number, res: IncomingMessage) => void) {
  return openEach(async (i) => {
    const s = await openStream(users[i]?.token ?? '', undefined, at);
    s.res.on('error', () => {});
    opened(i, s.res);
    return s.headerMs;
  });
}

/**
 * Runs `openOne` for every user, OPENERS at a time and at most RATE per
 * second in all; `openOne` resolves with how long its opening took (ms).
 */
async function openEach(openOne: (user: number) => Promise<number>) {
  const headerMs: number[] = [];
  let failures = 0;
  let next = 0;
  // This process's own event-loop delay while opening: a header that arrived
  // while the loop was busy is timed late by as much.
  const ownDelay = monitorEventLoopDelay({ resolution: 5 });
  ownDelay.enable();
  const started = Date.now();
  await Promise.all(
    Array.from({ length: OPENERS }, async () => {
      for (let i = next++; i < STREAMS; i = next++) {
        if (RATE > 0) {
          const slot = started + (i * 1000) / RATE - Date.now();
          if (slot > 0) await sleep(slot);
        }
        try {
          headerMs.push(await openOne(i));
        } catch {
          failures++;
        }
      }
    }),
  );
  ownDelay.disable();
  headerMs.sort((a, b) => a - b);
  return { headerMs, failures, seconds: (Date.now() - started) / 1000, ownDelay };
}

/** p50 and p99 of sorted milliseconds, or of an event-loop delay histogram (nanoseconds). */
function latencies(of: number[] | Histogram): string {
  const [p50, p99] = Array.isArray(of)
    ? [percentile(of, 50), percentile(of, 99)]
    : [of.percentile(50) / 1e6, of.percentile(99) / 1e6];
  return `p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`;
}

const open: IncomingMessage[] = [];
/** Each user's stream, by user index (`open` is in the order they opened). */
const streamOf: (IncomingMessage | undefined)[] = [];
let failed = false;
try {
  // (0) The reference: bare Fastify answering every stream with the same SSE
  // head and nothing behind it (no token check, no upstream call), opened the
  // same way by the same client. Its header latency is this client's and the
  // machine's share of ours; its memory, what Node's HTTP server holds per
  // idle response.
  const bare = await startRole('gateway-processes.ts', 'bare', {});
  const bareBase = `http://127.0.0.1:${bare.port}`;
  for (let i = 0; i < 50; i++) (await openStream('', undefined, bareBase)).res.destroy();
  await sleep(SETTLE_MS);
  const bareBefore = rssKbOf(bare.pid);
  const bareStreams: IncomingMessage[] = [];
  const bareOpening = await openAll(bareBase, (_i, res) => bareStreams.push(res));
  await sleep(SETTLE_MS);
  const reference = { kbPerStream: (rssKbOf(bare.pid) - bareBefore) / Math.max(1, bareStreams.length) };
  console.log(
    `reference, bare Fastify: opened ${bareStreams.length} streams (${bareOpening.failures} failed) in ` +
      `${bareOpening.seconds.toFixed(1)} s; headers ${latencies(bareOpening.headerMs)}; ` +
      `this process's event-loop delay ${latencies(bareOpening.ownDelay)}; ` +
      `${reference.kbPerStream.toFixed(1)} KB RSS per idle stream`,
  );
  for (const r of bareStreams) r.destroy();
  await bare.stop();

  // Warm-up: the code paths of both processes, before the baseline memory.
  for (let i = 0; i < 50; i++) (await openStream(users[i]?.token ?? '')).res.destroy();
  await sleep(SETTLE_MS);
  const before = mark();

  // (1) Open every stream.
  const { headerMs, failures, seconds, ownDelay } = await openAll(base, (i, res) => {
    track(i, res);
    open.push(res);
    streamOf[i] = res;
  });
  console.log(
    `opened ${open.length} streams (${failures} failed) in ${seconds.toFixed(1)} s: ${(open.length / seconds).toFixed(0)}/s; ` +
      `headers ${latencies(headerMs)}; ` +
      `CPU per opening: ${cpuPer(before, open.length)}; ` +
      `this process's event-loop delay ${latencies(ownDelay)}`,
  );

  // (2) Memory with every stream open and idle.
  await sleep(SETTLE_MS);
  const after = mark().rss;
  for (const p of ['gateway', 'chat'] as const)
    console.log(
      `${p} RSS: ${(before.rss[p] / 1024).toFixed(0)} MB before, ${(after[p] / 1024).toFixed(0)} MB with the streams open: ` +
        `${((after[p] - before.rss[p]) / Math.max(1, open.length)).toFixed(1)} KB per stream`,
    );
  const both = rssPer(before, open.length);
  console.log(
    `gateway + chat: ${both.toFixed(1)} KB per idle stream, ${(both / reference.kbPerStream).toFixed(2)}× ` +
      `bare Fastify's ${reference.kbPerStream.toFixed(1)} KB`,
  );

  // (3) Delivery to an open stream while all the others stay open.
  const stream = streamOf[0];
  if (!stream) throw new Error('no stream to deliver to');
  const delivery = await timeDeliveries('bench', (onChunk) => {
    stream.on('data', onChunk);
    return () => stream.off('data', onChunk);
  });
  console.log(`delivery send → stream event with ${open.length} streams open: ${latencies(delivery)}`);
  if (failures > 0) failed = true;

  // (4) Groups of up to 1,000, each creation fanned out to every member's stream.
  const groups: { chatId: string; members: number[] }[] = [];
  const setUp = { at: Date.now(), mark: mark(), own: process.cpuUsage() };
  for (let first = 0; first < open.length; first += GROUP_SIZE) {
    const members = Array.from({ length: Math.min(GROUP_SIZE, open.length - first) }, (_, k) => first + k);
    if (members.length < 2) break;
    const owner = users[first] as { id: string; token: string };
    const group = await call(base, 'POST', '/v1/chats', owner.token, {
      type: 'CHAT_TYPE_GROUP',
      memberIds: members.slice(1).map((m) => users[m]?.id),
      title: `storm ${groups.length}`,
    });
    groups.push({ chatId: (group.chat as { chatId: string }).chatId, members });
  }
  const members = groups.reduce((n, g) => n + g.members.length, 0);
  const setUpDeadline = Date.now() + 60_000;
  const informed = () => groups.every((g) => g.members.every((m) => (seen[m]?.groupsCreated ?? 0) > 0));
  while (!informed() && Date.now() < setUpDeadline) await sleep(20);
  console.log(
    `${groups.length} groups of up to ${GROUP_SIZE} created: ` +
      (informed()
        ? `every member's stream had its group after ${((Date.now() - setUp.at) / 1000).toFixed(2)} s`
        : `not every member's stream had its group within 60 s`) +
      `; CPU per member informed: ${cpuPer(setUp.mark, members)}, this process (reading the streams) ` +
      `${(ownCpuUs(process.cpuUsage(setUp.own)) / members).toFixed(0)} µs`,
  );
  if (!informed()) failed = true;

  // (5) Reconnect storm after a gateway restart.
  await sleep(SETTLE_MS);
  await gateway.stop();
  for (const r of open) r.destroy();
  open.length = 0;
  gateway = await startGateway();
  base = `http://127.0.0.1:${gateway.port}`;
  for (const [g, group] of groups.entries()) {
    const owner = users[group.members[0] ?? 0] as { token: string };
    for (let k = 0; k < STORM_MESSAGES; k++) {
      await call(base, 'POST', `/v1/chats/${group.chatId}/messages`, owner.token, {
        clientMessageId: randomUUID(),
        text: `storm-${g}-${k}`,
      });
    }
  }
  const expected = new Map<number, string[]>();
  for (const [g, group] of groups.entries())
    for (const m of group.members)
      expected.set(
        m,
        Array.from({ length: STORM_MESSAGES }, (_, k) => `storm-${g}-${k}`),
      );
  const caughtUpAt = new Map<number, number>();
  const stormStarted = Date.now();
  let stormFailures = 0;
  let cursor = 0;
  const rate = expected.size / STORM_SECONDS;
  const order = [...expected.keys()];
  const reconnecting = Promise.all(
    Array.from({ length: OPENERS }, async () => {
      for (let n = cursor++; n < expected.size; n = cursor++) {
        const slot = stormStarted + (n * 1000) / rate - Date.now();
        if (slot > 0) await sleep(slot);
        const i = order[n] as number;
        const state = seen[i];
        if (!state) continue;
        state.pending = undefined;
        try {
          const s = await openStream(users[i]?.token ?? '', state.lastId);
          track(i, s.res);
          s.res.on('error', () => {});
          open.push(s.res);
        } catch {
          stormFailures++;
        }
      }
    }),
  );
  let reconnectedMs = Number.NaN;
  void reconnecting.then(() => {
    reconnectedMs = Date.now() - stormStarted;
  });
  const complete = (i: number) => (expected.get(i) ?? []).every((m) => (seen[i]?.markers.get(m) ?? 0) > 0);
  const deadline = Date.now() + STORM_SECONDS * 1000 + 30_000;
  while (caughtUpAt.size < expected.size && Date.now() < deadline) {
    for (const i of expected.keys())
      if (!caughtUpAt.has(i) && complete(i)) caughtUpAt.set(i, Date.now() - stormStarted);
    await sleep(50);
  }
  await reconnecting;
  await sleep(500);
  let lost = 0;
  let duplicated = 0;
  let resynced = 0;
  for (const [i, markers] of expected) {
    const state = seen[i];
    if (markers.some((m) => (state?.markers.get(m) ?? 0) === 0)) lost++;
    if (markers.some((m) => (state?.markers.get(m) ?? 0) > 1)) duplicated++;
    if ((state?.resyncs ?? 0) > 0) resynced++;
  }
  const doneMs = [...caughtUpAt.values()].sort((a, b) => a - b);
  console.log(
    `reconnect storm after a gateway restart: ${expected.size} clients in ${groups.length} groups, ` +
      `${STORM_MESSAGES} missed messages each, reconnecting over ${STORM_SECONDS} s (${stormFailures} failed): ` +
      `the last reconnection answered after ${(reconnectedMs / 1000).toFixed(1)} s, ` +
      `all caught up after ${((doneMs.at(-1) ?? Number.NaN) / 1000).toFixed(1)} s; ` +
      `lost ${lost}, duplicated ${duplicated}, resynced ${resynced}`,
  );
  if (stormFailures > 0 || lost > 0 || duplicated > 0) failed = true;

  // (6) The same users over WebSocket, on a fresh chat and gateway: what the
  // closed SSE streams left in their heaps would hide the sessions' growth.
  for (const r of open) r.destroy();
  open.length = 0;
  await gateway.stop();
  await chat.stop();
  chat = await startRole('chat-processes.ts', 'server', { BENCH_JWKS: jwks });
  gateway = await startGateway();
  base = `http://127.0.0.1:${gateway.port}`;
  for (let i = 0; i < 50; i++) (await openSocket(users[i]?.token ?? '')).ws.terminate();
  await sleep(SETTLE_MS);
  const wsBefore = mark();
  const socketOf: (WebSocket | undefined)[] = [];
  const wsOpening = await openEach(async (i) => {
    const s = await openSocket(users[i]?.token ?? '');
    socketOf[i] = s.ws;
    sockets.push(s.ws);
    return s.firstFrameMs;
  });
  const wsCpu = cpuPer(wsBefore, sockets.length);
  await sleep(SETTLE_MS);
  const wsGrowth = rssPer(wsBefore, sockets.length);
  console.log(
    `WebSocket: opened ${sockets.length} sessions (${wsOpening.failures} failed) in ${wsOpening.seconds.toFixed(1)} s: ` +
      `${(sockets.length / wsOpening.seconds).toFixed(0)}/s; first frame ${latencies(wsOpening.headerMs)}; ` +
      `CPU per opening: ${wsCpu}; ` +
      `gateway + chat: ${wsGrowth.toFixed(1)} KB per idle session, ` +
      `${(wsGrowth / reference.kbPerStream).toFixed(2)}× bare Fastify's SSE ${reference.kbPerStream.toFixed(1)} KB`,
  );
  const wsReader = socketOf[0];
  if (!wsReader) throw new Error('no WebSocket session to deliver to');
  const wsDelivery = await timeDeliveries('bench ws', (onChunk) => {
    wsReader.on('message', onChunk);
    return () => wsReader.off('message', onChunk);
  });
  console.log(`delivery send → WebSocket frame with ${sockets.length} sessions open: ${latencies(wsDelivery)}`);
  if (wsOpening.failures > 0) failed = true;
} catch (error) {
  console.error(error);
  failed = true;
} finally {
  for (const r of open) r.destroy();
  for (const ws of sockets) ws.terminate();
  await gateway.stop();
  await chat.stop();
}
process.exit(failed ? 1 : 0);
