// The standalone gateway starts with defaults, answers /healthz, is ready
// (reporting its unreachable upstreams) and exits 0 on SIGTERM; with
// GATEWAY_RELEASE every response names the release.
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnNode } from '@messenger/platform/testing';

const here = dirname(fileURLToPath(import.meta.url));

it('gateway main.ts serves health with defaults and exits 0 on SIGTERM', async () => {
  const gateway = spawnNode(join(here, 'main.ts'), {
    PATH: process.env.PATH,
    GATEWAY_HTTP_PORT: '0',
    GATEWAY_SERVICE_SECRET: 'gateway-secret-for-tests',
    // Nothing listens on port 1: every upstream is unreachable.
    AUTH_SERVICE_ADDRESS: '127.0.0.1:1',
    USER_SERVICE_ADDRESS: '127.0.0.1:1',
    SUBSCRIBER_SERVICE_ADDRESS: '127.0.0.1:1',
    CHAT_SERVICE_ADDRESS: '127.0.0.1:1',
  });
  try {
    const [, url] = await gateway.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*gateway listening/);
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.has('x-messenger-release')).toBe(false);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ upstreams: { 'messenger.chat.v1.ChatService': 'NOT_SERVING' } });
    await expect(gateway.stop()).resolves.toBe(0);
  } finally {
    await gateway.stop('SIGKILL');
  }
});

it('refuses to start without GATEWAY_SERVICE_SECRET, naming it', async () => {
  const gateway = spawnNode(join(here, 'main.ts'), { PATH: process.env.PATH, GATEWAY_HTTP_PORT: '0' });
  let output = '';
  gateway.child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const [code] = (await once(gateway.child, 'close')) as [number | null];
  expect(code).not.toBe(0);
  expect(output).toContain('GATEWAY_SERVICE_SECRET: is required in cluster mode');
});

it('refuses to start on a bad setting, naming the variable', async () => {
  const gateway = spawnNode(join(here, 'main.ts'), { PATH: process.env.PATH, GATEWAY_HTTP_PORT: 'http' });
  try {
    await gateway.waitFor(/GATEWAY_HTTP_PORT: must be an integer/);
    await expect(gateway.stop()).resolves.not.toBe(0);
  } finally {
    await gateway.stop('SIGKILL');
  }
});

it('names its release on every response, answered or refused, when GATEWAY_RELEASE is set', async () => {
  const gateway = spawnNode(join(here, 'main.ts'), {
    PATH: process.env.PATH,
    GATEWAY_HTTP_PORT: '0',
    GATEWAY_RELEASE: '1.4.2-green',
    GATEWAY_SERVICE_SECRET: 'gateway-secret-for-tests',
    AUTH_SERVICE_ADDRESS: '127.0.0.1:1',
    USER_SERVICE_ADDRESS: '127.0.0.1:1',
    SUBSCRIBER_SERVICE_ADDRESS: '127.0.0.1:1',
    CHAT_SERVICE_ADDRESS: '127.0.0.1:1',
  });
  try {
    const [, url] = await gateway.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*gateway listening/);
    const answers = await Promise.all([
      fetch(`${url}/healthz`),
      fetch(`${url}/v1/users/me`), // no token: 401
      fetch(`${url}/no/such/route`), // 404
    ]);
    expect(answers.map((r) => [r.status, r.headers.get('x-messenger-release')])).toEqual([
      [200, '1.4.2-green'],
      [401, '1.4.2-green'],
      [404, '1.4.2-green'],
    ]);
  } finally {
    await gateway.stop('SIGKILL');
  }
});
