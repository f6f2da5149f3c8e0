// The embedded system (`node embedded/src/main.ts`) in its own process for a
// bench, with persistent SQLite storage in a fresh temporary directory and
// the rate limits lifted (every request of a bench is one of few users: the
// per-user budgets would measure the rate limiter); and the calls benches
// make through a gateway, this one's or any other.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ANY_FREE_PORTS } from '@messenger/embedded/ports';
import { freePort } from '@messenger/platform/testing';

export interface EmbeddedSystem {
  /** The gateway's base URL. */
  readonly base: string;
  readonly pid: number | undefined;
  readonly dataDir: string;
  /** A few figures of the system's own /metrics. */
  metrics(): Promise<SystemMetrics>;
  /** SIGTERM, waits for the exit, removes the data directory. */
  stop(): Promise<void>;
}

export interface SystemMetrics {
  readonly rssMb: number;
  /** What of RSS is the JavaScript heap in use, and what Buffers and native modules hold. */
  readonly heapMb: number;
  readonly externalMb: number;
  readonly lagP99Ms: number;
  readonly handles: number;
}

export interface User {
  readonly id: string;
  readonly token: string;
}

/** Starts the system; `nodeArgs` are extra node flags, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
export async function startEmbeddedSystem(
  opts: { readonly nodeArgs?: readonly string[]; readonly env?: Record<string, string> } = {},
): Promise<EmbeddedSystem> {
  const dataDir = mkdtempSync(join(tmpdir(), 'messenger-bench-'));
  const metricsPort = await freePort();
  const system = spawn(process.execPath, [...(opts.nodeArgs ?? []), 'embedded/src/main.ts'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      PATH: process.env.PATH,
      EMBEDDED_STORAGE: 'sqlite',
      DATA_DIR: dataDir,
      ...ANY_FREE_PORTS,
      METRICS_PORT: String(metricsPort),
      LOG_LEVEL: 'warn',
      GATEWAY_RATE_LIMIT_DEFAULT_PER_MINUTE: '1000000',
      GATEWAY_RATE_LIMIT_STRICT_PER_MINUTE: '100000',
      GATEWAY_RATE_LIMIT_STREAM_PER_MINUTE: '100000',
      ...opts.env,
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
  return {
    base,
    pid: system.pid,
    dataDir,
    async metrics() {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]);
      return {
        rssMb: value('process_resident_memory_bytes') / 2 ** 20,
        heapMb: value('nodejs_heap_size_used_bytes') / 2 ** 20,
        externalMb: value('nodejs_external_memory_bytes') / 2 ** 20,
        lagP99Ms: value('nodejs_eventloop_lag_p99_seconds') * 1000,
        handles: value('nodejs_active_handles_total'),
      };
    },
    async stop() {
      if (system.exitCode === null) {
        system.kill('SIGTERM');
        await once(system, 'exit');
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** One JSON call through the gateway; rejects on any answer but 200. */
export async function call(
  base: string,
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
): Promise<Record<string, unknown>> {
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

/**
 * `count` new accounts, every one a friend of the first, and one group chat
 * of them all (the first its owner): what a bench's traffic runs in.
 */
export async function groupOfFriends(
  base: string,
  count: number,
  tag: string,
): Promise<{ users: User[]; chatId: string }> {
  const users: User[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${tag}${i}${randomUUID().slice(0, 6)}`;
    const body = await call(base, 'POST', '/v1/auth/register', undefined, {
      email: `${name}@example.com`,
      password: 'correct horse battery staple',
      nickname: name,
    });
    const { tokens, user } = body as { tokens: { accessToken: string }; user: { userId: string } };
    users.push({ id: user.userId, token: tokens.accessToken });
  }
  const [owner, ...members] = users;
  if (!owner) throw new Error('a group needs at least 2 users');
  for (const m of members) {
    await call(base, 'POST', `/v1/friends/${m.id}`, owner.token, {});
    await call(base, 'POST', `/v1/friends/${owner.id}/confirm`, m.token, {});
  }
  const created = await call(base, 'POST', '/v1/chats', owner.token, {
    type: 'CHAT_TYPE_GROUP',
    title: tag,
    memberIds: members.map((m) => m.id),
  });
  return { users, chatId: (created.chat as { chatId: string }).chatId };
}
