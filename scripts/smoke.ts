// End-to-end smoke test over HTTP only, against a running system (embedded
// `make run` or `make up`): two users register, become friends, open a direct
// chat; one listens to its live updates while the other sends a message, which
// must arrive. Exits non-zero with the failed step at the first failure.
//
//   node scripts/smoke.ts [gateway URL]     (default $GATEWAY_URL or http://127.0.0.1:8080)
//
// SMOKE_EXPECT_RELEASE=<release>: every response must also name that release
// in `x-messenger-release` (the gateway's GATEWAY_RELEASE), so a rollout check
// knows it tested the release it meant to (scripts/k8s-promote.ts).

import { randomUUID } from 'node:crypto';

const base = (process.argv[2] ?? process.env.GATEWAY_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
const run = Date.now().toString(36);
const STEP_TIMEOUT_MS = 10_000;
const expectedRelease = process.env.SMOKE_EXPECT_RELEASE || undefined;

/** Fails unless the response came from the expected release (when one is expected). */
function checkRelease(response: Response, what: string): void {
  if (expectedRelease === undefined) return;
  const release = response.headers.get('x-messenger-release');
  if (release !== expectedRelease) {
    throw new Error(
      `${what} was answered by release ${JSON.stringify(release)}, not ${JSON.stringify(expectedRelease)}`,
    );
  }
}

class StepFailed extends Error {}

async function step<T>(name: string, action: () => Promise<T>): Promise<T> {
  process.stdout.write(`smoke: ${name} … `);
  try {
    const result = await action();
    process.stdout.write('ok\n');
    return result;
  } catch (error) {
    process.stdout.write('FAILED\n');
    throw new StepFailed(`${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function api<T>(method: string, path: string, token: string | undefined, body?: unknown): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  });
  checkRelease(response, `${method} ${path}`);
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

interface Registered {
  tokens: { accessToken: string };
  user: { userId: string };
}

const register = (name: string) =>
  api<Registered>('POST', '/v1/auth/register', undefined, {
    email: `${name}-${run}@smoke.example`,
    password: 'smoke-test-password',
    nickname: `${name}_${run}`,
  });

/** Reads the SSE stream until an event's data satisfies `match`. */
async function awaitUpdate(stream: Response, match: (data: unknown) => boolean): Promise<unknown> {
  if (!stream.body) throw new Error('the updates stream has no body');
  const reader = stream.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  try {
    while (Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the updates stream ended');
      buffered += value;
      let end = buffered.indexOf('\n\n');
      while (end >= 0) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = event
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trim())
          .join('\n');
        if (data) {
          const parsed: unknown = JSON.parse(data);
          if (match(parsed)) return parsed;
        }
        end = buffered.indexOf('\n\n');
      }
    }
    throw new Error('no matching update in time');
  } finally {
    await reader.cancel().catch(() => {});
  }
}

async function main(): Promise<void> {
  await step(`gateway at ${base} is healthy`, () => api('GET', '/healthz', undefined));
  const alice = await step('register alice', () => register('alice'));
  const bob = await step('register bob', () => register('bob'));
  await step('alice asks bob to be friends', () =>
    api('POST', `/v1/friends/${bob.user.userId}`, alice.tokens.accessToken, {}),
  );
  await step('bob confirms', () => api('POST', `/v1/friends/${alice.user.userId}/confirm`, bob.tokens.accessToken, {}));
  const chat = await step('alice opens a direct chat with bob', () =>
    api<{ chat: { chatId: string } }>('POST', '/v1/chats', alice.tokens.accessToken, {
      type: 'CHAT_TYPE_DIRECT',
      memberIds: [bob.user.userId],
    }),
  );
  const stream = await step('bob opens his updates stream', async () => {
    const response = await fetch(`${base}/v1/updates`, {
      headers: { authorization: `Bearer ${bob.tokens.accessToken}`, accept: 'text/event-stream' },
      signal: AbortSignal.timeout(STEP_TIMEOUT_MS * 2),
    });
    checkRelease(response, 'GET /v1/updates');
    if (!response.ok) throw new Error(`GET /v1/updates answered ${response.status}: ${await response.text()}`);
    return response;
  });
  const text = `hello bob (${run})`;
  const arrived = awaitUpdate(stream, (data) => JSON.stringify(data).includes(text));
  await step('alice sends a message', () =>
    api('POST', `/v1/chats/${chat.chat.chatId}/messages`, alice.tokens.accessToken, {
      clientMessageId: randomUUID(),
      text,
    }),
  );
  await step("the message arrives on bob's stream", () => arrived);
  process.stdout.write('smoke: all steps passed\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`smoke: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
