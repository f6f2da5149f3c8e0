// `make run`'s process: starts every service and the gateway, prints where
// they listen, where its data lives and a ready line, serves a user over
// HTTP, exits 0 on SIGTERM, and finds its accounts, sessions, profiles,
// friendships, chats and messages again when started anew on the same data
// directory; with OTEL_TRACES_EXPORTER=otlp it sends its spans to an OTLP/HTTP
// receiver. Every run gets a data directory of its own under the system's
// temporary directory.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, makeGenericClientConstructor } from '@grpc/grpc-js';
import { call, spawnNode } from '@messenger/platform/testing';
import { service as healthService } from 'grpc-health-check';
import { ANY_FREE_PORTS } from './ports.ts';

const here = dirname(fileURLToPath(import.meta.url));
const Health = makeGenericClientConstructor(healthService, 'Health');

let root: string;
/** Not created beforehand: the process creates it. */
let dataDir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'embedded-data-'));
  dataDir = join(root, 'data');
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** `make run` on free ports, with its data in `dataDir`. */
const startEmbedded = (env: Record<string, string> = {}) =>
  spawnNode(join(here, 'main.ts'), {
    PATH: process.env.PATH,
    LOG_LEVEL: 'warn',
    ...ANY_FREE_PORTS,
    AUTH_SCRYPT_LOG_N: '12',
    DATA_DIR: dataDir,
    ...env,
  });

it('starts the system, reports ready, registers and reads a user over HTTP, logs mail links, and stops cleanly', async () => {
  const system = startEmbedded();
  try {
    await system.waitFor(/messenger ready/);
    await system.waitFor(new RegExp(`^data\\s+${dataDir} \\(`, 'm'));
    for (const name of ['auth', 'user', 'subscriber', 'chat']) {
      const [, port] = await system.waitFor(new RegExp(`^${name}\\s+grpc://127\\.0\\.0\\.1:(\\d+)$`, 'm'));
      const client = new Health(`127.0.0.1:${port}`, credentials.createInsecure());
      try {
        const check = client.check as unknown as Parameters<typeof call>[1];
        await expect(call(client, check, { service: '' })).resolves.toEqual({ status: 'SERVING' });
      } finally {
        client.close();
      }
    }
    const [, gateway] = await system.waitFor(/^gateway\s+(http:\/\/127\.0\.0\.1:\d+)$/m);
    await system.waitFor(/^swagger ui\s+http:\/\/127\.0\.0\.1:\d+\/docs$/m);

    const registered = await fetch(`${gateway}/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ada@example.com', password: 'correct horse battery', nickname: 'ada' }),
    });
    expect(registered.status).toBe(200);
    const body = (await registered.json()) as { tokens: { accessToken: string }; user: { userId: string } };
    const profile = await fetch(`${gateway}/v1/users/${body.user.userId}`, {
      headers: { authorization: `Bearer ${body.tokens.accessToken}` },
    });
    expect(profile.status).toBe(200);
    expect(await profile.json()).toMatchObject({ user: { userId: body.user.userId, nickname: 'ada' } });

    // Without AUTH_SMTP_URL no mail is sent: start-up says so, and each mail's link is logged instead.
    await system.waitFor(/AUTH_SMTP_URL is not set/);
    const asked = await fetch(`${gateway}/v1/auth/email/verification`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${body.tokens.accessToken}` },
      body: '{}',
    });
    expect(asked.status).toBe(200);
    const [line, token] = await system.waitFor(/^.*"link":"[^"]*\/verify-email#token=([A-Za-z0-9_-]{43})".*$/m);
    // Each line names the one service that wrote it, once (not the process's name as well).
    expect(line?.match(/"service":"[^"]*"/g)).toEqual(['"service":"auth"']);
    const verified = await fetch(`${gateway}/v1/auth/email/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    expect(await verified.json()).toMatchObject({ userId: body.user.userId, email: 'ada@example.com' });

    await expect(system.stop()).resolves.toBe(0);
  } finally {
    await system.stop('SIGKILL');
  }
});

interface Signed {
  readonly tokens: { readonly accessToken: string; readonly refreshToken: string };
  readonly user: { readonly userId: string };
}

/** A JSON call to the gateway: its status and body. */
async function http(gateway: string, method: string, path: string, token?: string, body?: unknown) {
  const response = await fetch(`${gateway}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

interface Message {
  readonly sequence: string;
  readonly text: string;
}

/** Creates a chat (or finds the pair's direct chat) over HTTP: its id. */
async function createChat(gateway: string, token: string, body: unknown): Promise<string> {
  const created = await http(gateway, 'POST', '/v1/chats', token, body);
  expect(created.status).toBe(200);
  return (created.body as { chat: { chatId: string } }).chat.chatId;
}

/** Sends a message over HTTP: the message stored. */
async function send(gateway: string, token: string, chatId: string, text: string, clientMessageId: string) {
  const sent = await http(gateway, 'POST', `/v1/chats/${chatId}/messages`, token, { clientMessageId, text });
  expect(sent.status).toBe(200);
  return (sent.body as { message: Message }).message;
}

/** A chat's history over HTTP, newest first. */
async function history(gateway: string, token: string, chatId: string): Promise<Message[]> {
  const listed = await http(gateway, 'GET', `/v1/chats/${chatId}/messages`, token);
  expect(listed.status).toBe(200);
  return (listed.body as { messages: Message[] }).messages;
}

/** A chat list's (chat id, unread count, last message text), in list order. */
function summaries(body: unknown): [string, number, string][] {
  const { chats } = body as {
    chats: { chat: { chatId: string }; unreadCount?: string; lastMessage?: { text: string } }[];
  };
  return chats.map((c) => [c.chat.chatId, Number(c.unreadCount ?? 0), c.lastMessage?.text ?? '']);
}

/** The exit code of a process that exits on its own. */
const exitCodeOf = async (system: ReturnType<typeof startEmbedded>): Promise<number | null> =>
  system.child.exitCode ?? (await once(system.child, 'exit'))[0];

const gatewayOf = async (system: ReturnType<typeof startEmbedded>) => {
  await system.waitFor(/messenger ready/);
  const [, url] = await system.waitFor(/^gateway\s+(http:\/\/127\.0\.0\.1:\d+)$/m);
  return url ?? '';
};

it('keeps accounts, sessions, logouts, profiles, friendships, chats and messages in DATA_DIR across a restart', async () => {
  const credentials = { email: 'grace@example.com', password: 'correct horse battery' };
  let registered: Signed;
  let loggedOut: Signed;
  let friend: Signed;
  let direct: string;
  let group: string;
  /** The friend's chat list and the direct chat's history as they were before the restart. */
  let chatsBefore: unknown;
  let historyBefore: Message[];
  /** Client message ids: a repeat after the restart must find the same message. */
  const clientIds = {
    one: randomUUID(),
    two: randomUUID(),
    three: randomUUID(),
    welcome: randomUUID(),
    four: randomUUID(),
  };

  const first = startEmbedded();
  try {
    const gateway = await gatewayOf(first);
    const created = await http(gateway, 'POST', '/v1/auth/register', undefined, { ...credentials, nickname: 'grace' });
    expect(created.status).toBe(200);
    registered = created.body as unknown as Signed;
    const { userId } = registered.user;
    const updated = await http(gateway, 'PATCH', `/v1/users/${userId}`, registered.tokens.accessToken, {
      user: { about: 'wrote the first compiler' },
      updateMask: 'about',
    });
    expect(updated.status).toBe(200);
    // A second session, ended before the restart.
    loggedOut = (await http(gateway, 'POST', '/v1/auth/login', undefined, credentials)).body as unknown as Signed;
    expect((await http(gateway, 'POST', '/v1/auth/logout', loggedOut.tokens.accessToken, {})).status).toBe(200);

    // Grace and Ada become friends, share a direct chat and a group, and write in both; Ada reads the first message.
    const ada = await http(gateway, 'POST', '/v1/auth/register', undefined, {
      email: 'ada@example.com',
      password: 'correct horse battery',
      nickname: 'ada',
    });
    friend = ada.body as unknown as Signed;
    const [grace, adaToken] = [registered.tokens.accessToken, friend.tokens.accessToken];
    expect((await http(gateway, 'POST', `/v1/friends/${friend.user.userId}`, grace, {})).status).toBe(200);
    expect((await http(gateway, 'POST', `/v1/friends/${userId}/confirm`, adaToken, {})).status).toBe(200);
    direct = await createChat(gateway, grace, { type: 'CHAT_TYPE_DIRECT', memberIds: [friend.user.userId] });
    group = await createChat(gateway, grace, {
      type: 'CHAT_TYPE_GROUP',
      memberIds: [friend.user.userId],
      title: 'compilers',
    });
    await send(gateway, grace, direct, 'one', clientIds.one);
    await send(gateway, adaToken, direct, 'two', clientIds.two);
    await send(gateway, grace, direct, 'three', clientIds.three);
    await send(gateway, grace, group, 'welcome', clientIds.welcome);
    const read = await http(gateway, 'POST', `/v1/chats/${direct}/read`, adaToken, { upToSequence: 1 });
    expect(read.status).toBe(200);
    chatsBefore = (await http(gateway, 'GET', '/v1/chats', adaToken)).body;
    expect(summaries(chatsBefore)).toEqual([
      [group, 1, 'welcome'],
      [direct, 1, 'three'],
    ]);
    historyBefore = await history(gateway, adaToken, direct);
    expect(historyBefore.map((m) => [m.sequence, m.text])).toEqual([
      ['3', 'three'],
      ['2', 'two'],
      ['1', 'one'],
    ]);
    await expect(first.stop()).resolves.toBe(0);
  } finally {
    await first.stop('SIGKILL');
  }
  // The data directory and the generated signing keys are for the owner's eyes only.
  expect(statSync(dataDir).mode & 0o777).toBe(0o700);
  expect(statSync(join(dataDir, 'signing-keys.json')).mode & 0o777).toBe(0o600);

  const second = startEmbedded();
  try {
    const gateway = await gatewayOf(second);
    const { userId } = registered.user;
    const login = await http(gateway, 'POST', '/v1/auth/login', undefined, credentials);
    expect(login.status).toBe(200);
    const signed = login.body as unknown as Signed;
    expect(signed.user.userId).toBe(userId);
    const profile = await http(gateway, 'GET', `/v1/users/${userId}`, signed.tokens.accessToken);
    expect(profile).toMatchObject({
      status: 200,
      body: { user: { userId, nickname: 'grace', about: 'wrote the first compiler' } },
    });
    // Tokens issued before the restart: the session goes on, the ended one stays ended.
    expect((await http(gateway, 'GET', `/v1/users/${userId}`, registered.tokens.accessToken)).status).toBe(200);
    const refreshed = await http(gateway, 'POST', '/v1/auth/refresh', undefined, {
      refreshToken: registered.tokens.refreshToken,
    });
    expect(refreshed.status).toBe(200);
    expect((await http(gateway, 'GET', `/v1/users/${userId}`, loggedOut.tokens.accessToken)).status).toBe(401);
    // The email and the nickname are still taken.
    const again = await http(gateway, 'POST', '/v1/auth/register', undefined, { ...credentials, nickname: 'grace2' });
    expect(again.status).toBe(409);

    // The friendship, both chats with their order, last messages and unread counts, and the history are all there.
    const [grace, adaToken] = [registered.tokens.accessToken, friend.tokens.accessToken];
    const friends = await http(gateway, 'GET', '/v1/friends', grace);
    expect(friends).toMatchObject({
      status: 200,
      body: { friendships: [{ userId: friend.user.userId, status: 'FRIENDSHIP_STATUS_CONFIRMED' }] },
    });
    expect((await http(gateway, 'GET', '/v1/chats', adaToken)).body).toEqual(chatsBefore);
    expect(await history(gateway, adaToken, direct)).toEqual(historyBefore);
    // The pair still has its one direct chat; a repeated client message id is still the same message.
    await expect(createChat(gateway, adaToken, { type: 'CHAT_TYPE_DIRECT', memberIds: [userId] })).resolves.toBe(
      direct,
    );
    await expect(send(gateway, grace, direct, 'one', clientIds.one)).resolves.toEqual(historyBefore[2]);
    // A new message continues the chat's sequence, and Ada's unread count grows by one.
    await expect(send(gateway, grace, direct, 'four', clientIds.four)).resolves.toMatchObject({ sequence: '4' });
    expect((await history(gateway, adaToken, direct)).map((m) => [m.sequence, m.text])).toEqual([
      ['4', 'four'],
      ['3', 'three'],
      ['2', 'two'],
      ['1', 'one'],
    ]);
    expect(summaries((await http(gateway, 'GET', '/v1/chats', adaToken)).body)).toEqual([
      [direct, 2, 'four'],
      [group, 1, 'welcome'],
    ]);
    await expect(second.stop()).resolves.toBe(0);
  } finally {
    await second.stop('SIGKILL');
  }
});

it('make reset deletes every file the embedded mode wrote into DATA_DIR, uploaded media included, and nothing else', async () => {
  const system = startEmbedded();
  try {
    await system.waitFor(/messenger ready/);
    await expect(system.stop()).resolves.toBe(0);
  } finally {
    await system.stop('SIGKILL');
  }
  expect(readdirSync(dataDir)).toEqual(
    expect.arrayContaining([
      'auth.db',
      'user.db',
      'subscriber.db',
      'chat.db',
      'notification.db',
      'revocations.db',
      'signing-keys.json',
    ]),
  );
  writeFileSync(join(dataDir, 'notes.txt'), 'not the messenger’s');
  // What an avatar upload leaves: the rendered sizes under media/avatars/{id}/.
  const avatar = join(dataDir, 'media', 'avatars', '0b8f1c6e-3d0a-4c1b-9a57-2f4e8d9c1a23');
  mkdirSync(avatar, { recursive: true });
  writeFileSync(join(avatar, '512'), 'webp bytes');

  const reset = spawnNode(join(here, 'reset.ts'), { PATH: process.env.PATH, DATA_DIR: dataDir });
  try {
    await reset.waitFor(/^reset: deleted \d+ files from .*; left what it does not own: notes\.txt$/m);
    await expect(exitCodeOf(reset)).resolves.toBe(0);
  } finally {
    await reset.stop('SIGKILL');
  }
  expect(readdirSync(dataDir)).toEqual(['notes.txt']);
});

it('refuses to start on a damaged database file, naming it', async () => {
  const file = join(dataDir, 'user.db');
  mkdirSync(dataDir);
  writeFileSync(file, 'not a database, whatever its name says '.repeat(50));
  const system = startEmbedded();
  try {
    await system.waitFor(
      new RegExp(`^messenger cannot start: database ${file}: file is not a database \\(.*restore a backup`, 'm'),
    );
    await expect(exitCodeOf(system)).resolves.toBe(1);
  } finally {
    await system.stop('SIGKILL');
  }
});

it('refuses to start on a data directory another process is using, naming its lock', async () => {
  const first = startEmbedded();
  try {
    await first.waitFor(/messenger ready/);
    const second = startEmbedded();
    try {
      await second.waitFor(
        new RegExp(
          `^messenger cannot start: database ${join(dataDir, 'lock.db')}: database is locked \\(another process`,
          'm',
        ),
      );
      await expect(exitCodeOf(second)).resolves.toBe(1);
    } finally {
      await second.stop('SIGKILL');
    }
    await expect(first.stop()).resolves.toBe(0);
  } finally {
    await first.stop('SIGKILL');
  }
});

it('sends its spans over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT when OTEL_TRACES_EXPORTER=otlp', async () => {
  // A stand-in for an OpenTelemetry Collector: records every export request.
  const exports: { path: string; contentType: string; body: string }[] = [];
  const collector = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      exports.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  }).listen(0, '127.0.0.1');
  await once(collector, 'listening');
  const { port } = collector.address() as AddressInfo;
  const system = startEmbedded({
    EMBEDDED_STORAGE: 'memory',
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
    OTEL_SERVICE_NAME: 'messenger-under-test',
  });
  const traceId = randomUUID().replaceAll('-', '');
  try {
    await system.waitFor(/messenger ready/, 60_000);
    const [, gateway] = await system.waitFor(/^gateway\s+(http:\/\/127\.0\.0\.1:\d+)$/m);
    const res = await fetch(`${gateway}/v1/auth/jwks`, {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(res.status).toBe(200);
    // Stopping sends what is still queued.
    await expect(system.stop()).resolves.toBe(0);
  } finally {
    await system.stop('SIGKILL');
    collector.close();
  }

  expect(exports.length).toBeGreaterThan(0);
  for (const e of exports) {
    expect(e.path).toBe('/v1/traces');
    expect(e.contentType).toMatch(/^application\/json/);
  }
  type Exported = {
    resourceSpans: {
      resource: { attributes: { key: string; value: { stringValue?: string } }[] };
      scopeSpans: { spans: { traceId: string; name: string; kind: number }[] }[];
    }[];
  };
  const resourceSpans = exports.flatMap((e) => (JSON.parse(e.body) as Exported).resourceSpans);
  const serviceNames = resourceSpans.flatMap((r) =>
    r.resource.attributes.filter((a) => a.key === 'service.name').map((a) => a.value.stringValue),
  );
  expect(new Set(serviceNames)).toEqual(new Set(['messenger-under-test']));
  const names = resourceSpans
    .flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))
    .filter((s) => s.traceId === traceId)
    .map((s) => s.name);
  expect(names).toEqual(expect.arrayContaining(['GET /v1/auth/jwks', 'messenger.auth.v1.AuthService/GetJwks']));
}, 90_000);
