// `make run`'s process: starts every service and the gateway, prints where
// they listen and a ready line, serves a user over HTTP, and exits 0 on SIGTERM.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, makeGenericClientConstructor } from '@grpc/grpc-js';
import { call, spawnNode } from '@messenger/platform/testing';
import { service as healthService } from 'grpc-health-check';

const here = dirname(fileURLToPath(import.meta.url));
const Health = makeGenericClientConstructor(healthService, 'Health');

it('starts the system, reports ready, registers and reads a user over HTTP, logs mail links, and stops cleanly', async () => {
  const system = spawnNode(join(here, 'main.ts'), {
    PATH: process.env.PATH,
    LOG_LEVEL: 'warn',
    GATEWAY_HTTP_PORT: '0',
    AUTH_GRPC_PORT: '0',
    USER_GRPC_PORT: '0',
    SUBSCRIBER_GRPC_PORT: '0',
    CHAT_GRPC_PORT: '0',
  });
  try {
    await system.waitFor(/messenger ready/);
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
    const [, token] = await system.waitFor(/"link":"[^"]*\/verify-email#token=([A-Za-z0-9_-]{43})"/);
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
