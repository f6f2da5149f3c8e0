// Chat service benchmark, loopback only and bounded:
//   (1) sustained SendMessage rate over gRPC: BENCH_CONNECTIONS concurrent
//       senders for BENCH_DURATION_S seconds, (a) each to its own chat and
//       (b) all to one chat (one sequence counter), BENCH_ROUNDS rounds, median;
//   (2) send → StreamUpdates delivery latency with 2, 10 and 100 online
//       members: one member posts BENCH_MESSAGES messages one after the other,
//       BENCH_GAP_MS apart, and every member's open stream (one gRPC stream each)
//       records when each message arrives; p50/p99 over all (message,
//       member) pairs, measured from the start of the SendMessage call.
// The service runs in its own process (bench/chat-processes.ts), with its
// in-process event bus and memory store (BENCH_MONGODB_URL for MongoDB).
// `npm run bench -- chat`.

import { randomUUID } from 'node:crypto';
import { credentials, Metadata } from '@grpc/grpc-js';
import {
  type Chat,
  ChatServiceClient,
  ChatType,
  type StreamUpdatesResponse,
} from '@messenger/gen/messenger/chat/v1/chat';
import { createTokenSigner, generateSigningKeyRing } from '@messenger/platform/auth';
import { call } from '@messenger/platform/testing';
import { startRole } from './child-role.ts';
import { percentile } from './percentile.ts';
import { cpuMsOf } from './proc-stats.ts';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 300);
const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 5);
const MEMBER_COUNTS = [2, 10, 100];
const WARMUP_S = 1;
const TRUST = { issuer: 'messenger-auth', audience: 'messenger', serviceAudience: 'messenger-internal' };

/** CPU time (user + system) a process has used so far, in ms; undefined where there is no /proc. */
function cpuMsOrUndefined(pid: number | undefined): number | undefined {
  try {
    return cpuMsOf(pid);
  } catch {
    return undefined;
  }
}

const ring = await generateSigningKeyRing();
const signer = createTokenSigner({ ...TRUST, keys: ring });
const bearer = async (userId: string) => {
  const md = new Metadata();
  md.set(
    'authorization',
    `Bearer ${(await signer.signAccessToken({ userId, sessionId: randomUUID(), roles: [], ttlSeconds: 900 })).token}`,
  );
  return md;
};
const newUsers = async (n: number) =>
  Promise.all(
    Array.from({ length: n }, async () => {
      const id = randomUUID();
      return { id, md: await bearer(id) };
    }),
  );

console.log(
  `loopback; store: ${process.env.BENCH_MONGODB_URL ? 'mongo' : 'memory'}; send rate: ${CONNECTIONS} concurrent calls × ` +
    `${DURATION_S}s, ${ROUNDS} rounds (median) after ${WARMUP_S}s warm-up; delivery: ${MESSAGES} messages, ${GAP_MS} ms apart`,
);
const server = await startRole('chat-processes.ts', 'server', { BENCH_JWKS: await ring.exportPrivateJwks() });
const client = new ChatServiceClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
let failed = false;
try {
  const createGroup = async (owner: { md: Metadata }, memberIds: string[]) =>
    (await call(client, client.createChat, { type: ChatType.CHAT_TYPE_GROUP, memberIds, title: 'bench' }, owner.md))
      .chat as Chat;

  // (1) SendMessage rate.
  const senders = await newUsers(CONNECTIONS);
  const peer = (await newUsers(1))[0] as { id: string; md: Metadata };
  const ownChats = await Promise.all(senders.map((s) => createGroup(s, [peer.id])));
  const shared = await createGroup(
    peer,
    senders.map((s) => s.id),
  );
  const sendLoad = async (seconds: number, chatOf: (i: number) => string) => {
    const latencies: number[] = [];
    let failures = 0;
    const until = Date.now() + seconds * 1000;
    const started = Date.now();
    const cpuBefore = cpuMsOrUndefined(server.pid);
    await Promise.all(
      senders.map(async (s, i) => {
        while (Date.now() < until) {
          const t = process.hrtime.bigint();
          try {
            await call(
              client,
              client.sendMessage,
              {
                chatId: chatOf(i),
                clientMessageId: randomUUID(),
                text: 'hello from the benchmark',
                replyToMessageId: '',
                attachmentIds: [],
              },
              s.md,
            );
            latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
          } catch {
            failures++;
          }
        }
      }),
    );
    latencies.sort((a, b) => a - b);
    const cpuAfter = cpuMsOrUndefined(server.pid);
    return {
      cpuUsPerMessage:
        cpuBefore === undefined || cpuAfter === undefined
          ? Number.NaN
          : ((cpuAfter - cpuBefore) * 1000) / latencies.length,
      rps: latencies.length / ((Date.now() - started) / 1000),
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      failures,
    };
  };
  const rateScenarios = [
    { name: `SendMessage, ${CONNECTIONS} chats (one per sender)`, chatOf: (i: number) => ownChats[i]?.chatId ?? '' },
    { name: `SendMessage, 1 chat (${CONNECTIONS} senders)`, chatOf: () => shared.chatId },
  ];
  for (const sc of rateScenarios) await sendLoad(WARMUP_S, sc.chatOf);
  const runs = rateScenarios.map(() => [] as Awaited<ReturnType<typeof sendLoad>>[]);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, sc] of rateScenarios.entries()) runs[i]?.push(await sendLoad(DURATION_S, sc.chatOf));
  }
  console.log('');
  console.log('scenario                                      msg/s   p50 ms  p99 ms  server CPU µs/msg | failed');
  for (const [i, sc] of rateScenarios.entries()) {
    const mine = runs[i] ?? [];
    const median = [...mine].sort((x, y) => x.rps - y.rps)[Math.floor(mine.length / 2)];
    const failures = mine.reduce((n, r) => n + r.failures, 0);
    if (failures > 0) failed = true;
    console.log(
      `${sc.name.padEnd(44)} ${(median?.rps ?? 0).toFixed(0).padStart(6)} ${(median?.p50 ?? 0).toFixed(2).padStart(8)} ${(median?.p99 ?? 0).toFixed(2).padStart(7)} ${(median?.cpuUsPerMessage ?? 0).toFixed(0).padStart(18)} | ${failures}`,
    );
  }

  // (2) Delivery latency.
  console.log('');
  console.log('online members   deliveries   p50 ms   p99 ms   max ms | lost');
  for (const members of MEMBER_COUNTS) {
    const group = await newUsers(members);
    const [sender, ...rest] = group as [{ id: string; md: Metadata }, ...{ id: string; md: Metadata }[]];
    const chat = await createGroup(
      sender,
      rest.map((u) => u.id),
    );
    const sentAt = new Map<string, bigint>();
    const samples: number[] = [];
    let received = 0;
    const open = new Set<number>();
    const streams = group.map((u, index) => {
      const stream = client.streamUpdates({ resumeAfter: '' }, u.md);
      stream.on('data', (res: StreamUpdatesResponse) => {
        const m = res.update?.messageCreated;
        if (!m || m.chatId !== chat.chatId) return;
        open.add(index);
        const t0 = sentAt.get(m.clientMessageId);
        if (t0 === undefined) return;
        samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
        received++;
      });
      stream.on('error', () => {});
      return stream;
    });
    // Every stream is open once a warm-up message has reached it.
    const deadline = Date.now() + 10_000;
    while (open.size < members) {
      if (Date.now() > deadline) throw new Error(`streams of ${members} members did not all open`);
      await call(
        client,
        client.sendMessage,
        {
          chatId: chat.chatId,
          clientMessageId: randomUUID(),
          text: 'warm-up',
          replyToMessageId: '',
          attachmentIds: [],
        },
        sender.md,
      );
      await new Promise((r) => setTimeout(r, 100));
    }
    for (let i = 0; i < MESSAGES; i++) {
      const id = randomUUID();
      sentAt.set(id, process.hrtime.bigint());
      await call(
        client,
        client.sendMessage,
        { chatId: chat.chatId, clientMessageId: id, text: `m${i}`, replyToMessageId: '', attachmentIds: [] },
        sender.md,
      );
      await new Promise((r) => setTimeout(r, GAP_MS));
    }
    const expected = MESSAGES * members;
    const settle = Date.now() + 10_000;
    while (received < expected && Date.now() < settle) await new Promise((r) => setTimeout(r, 20));
    for (const s of streams) s.cancel();
    samples.sort((a, b) => a - b);
    const lost = expected - received;
    if (lost !== 0) failed = true;
    console.log(
      `${String(members).padStart(14)} ${String(received).padStart(12)} ${percentile(samples, 50).toFixed(2).padStart(8)} ${percentile(samples, 99).toFixed(2).padStart(8)} ${(samples.at(-1) ?? 0).toFixed(2).padStart(8)} | ${lost}`,
    );
  }
  if (failed) {
    console.error('some calls failed or deliveries were lost; the figures above are not valid');
    process.exitCode = 1;
  }
} finally {
  client.close();
  await server.stop();
}
