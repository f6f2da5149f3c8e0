// A Redis outage degrades the system instead of stopping it. Auth and user
// (real gRPC), a gateway (real HTTP) and a second verifying process wired as
// in a cluster: revocations in Redis (REVOCATION_STORE=redis), rate limits
// and cache in Redis, events on a bus shared by every process. The Redis is
// this test's own redis-server, killed and restarted empty mid-test; nothing
// else is restarted. Runs under scripts/with-test-infra.sh (redis-server on PATH).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { loadGatewayConfig, type RunningGateway, rateLimitBudgetsOf, startGateway } from '@messenger/api-gateway';
import { type AuthFixture, startAuthFixture } from '@messenger/auth/testing';
import { TokenPair } from '@messenger/gen/messenger/auth/v1/auth';
import { createLocalJwksSource } from '@messenger/platform/auth';
import { loadConfig } from '@messenger/platform/config';
import { InProcessEventBus } from '@messenger/platform/events';
import { createLogger } from '@messenger/platform/logger';
import { createMetrics } from '@messenger/platform/metrics';
import { closeRedisClient, createRedisClient } from '@messenger/platform/redis';
import { runtimeSettings, type ServiceRuntime, startServiceRuntime } from '@messenger/platform/runtime';
import { TEST_AUDIENCE, TEST_ISSUER, TEST_SERVICE_AUDIENCE } from '@messenger/platform/testing';
import type { Redis } from 'ioredis';
import { type Account, Gateway } from './support/http.ts';
import { waitFor } from './support/wait.ts';

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/** A redis-server of this test's own, without persistence: a restart comes back empty. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  await waitFor(`redis-server on port ${port}`, async () => {
    const probe = createServer();
    return new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(true));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(false)));
    });
  });
  return child;
}

async function killRedis(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** The session id (`sid`) of an access token. */
function sessionOf(token: string): string {
  const payload = token.split('.')[1] ?? '';
  return (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sid: string }).sid;
}

describe('Redis outage drill', () => {
  const lines: { msg: string; redis?: string }[] = [];
  const ioredisConsoleLines: unknown[] = [];
  const consoleError = console.error;
  let port: number;
  let redisServer: ChildProcess;
  let bus: InProcessEventBus;
  let authRuntime: ServiceRuntime;
  let gatewayRuntime: ServiceRuntime;
  let sharedState: Redis;
  let f: AuthFixture;
  let running: RunningGateway;
  let gateway: Gateway;
  const metrics = createMetrics({ defaultMetrics: false });

  beforeAll(async () => {
    console.error = (...args: unknown[]) => {
      if (String(args[0]).includes('[ioredis]')) ioredisConsoleLines.push(args);
      else consoleError(...args);
    };
    port = await freePort();
    redisServer = await startRedis(port);
    const redisUrl = `redis://127.0.0.1:${port}`;
    const config = loadConfig(runtimeSettings, {
      LOG_LEVEL: 'silent',
      REVOCATION_STORE: 'redis',
      REDIS_URL: redisUrl,
      AUTH_TOKEN_ISSUER: TEST_ISSUER,
      AUTH_TOKEN_AUDIENCE: TEST_AUDIENCE,
      AUTH_SERVICE_TOKEN_AUDIENCE: TEST_SERVICE_AUDIENCE,
    });
    bus = new InProcessEventBus();
    // The auth process's runtime (auth and user share its list here) and the gateway process's.
    authRuntime = await startServiceRuntime('auth', config, { bus });
    f = await startAuthFixture({ revocations: authRuntime.revocations, bus });
    gatewayRuntime = await startServiceRuntime('api-gateway', config, {
      jwks: createLocalJwksSource(f.auth.ring),
      bus,
    });
    const logger = createLogger({
      level: 'info',
      service: 'api-gateway',
      destination: new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(JSON.parse(chunk.toString('utf8')));
          done();
        },
      }),
    });
    sharedState = createRedisClient({
      url: redisUrl,
      name: 'shared-state',
      commandTimeoutMs: 250,
      logger,
      registry: metrics.registry,
    });
    await sharedState.connect();
    const gatewayConfig = loadGatewayConfig({ GATEWAY_RATE_LIMIT_STRICT_PER_MINUTE: '1000' });
    running = await startGateway(
      {
        catalog: gatewayRuntime.catalog,
        upstreams: {
          'messenger.auth.v1.AuthService': f.authAddress,
          'messenger.user.v1.UserService': f.userAddress,
          // Routed by the gateway, never called by this test.
          'messenger.subscriber.v1.SubscriberService': '127.0.0.1:1',
          'messenger.chat.v1.ChatService': '127.0.0.1:1',
          'messenger.notification.v1.NotificationService': '127.0.0.1:1',
        },
        auth: { verifier: gatewayRuntime.authenticator, revocations: gatewayRuntime.revocations },
        eventBus: bus,
        redis: sharedState,
        logger,
        metrics,
        rateLimits: rateLimitBudgetsOf(gatewayConfig),
        cache: { enabled: true },
      },
      { host: '127.0.0.1', port: 0 },
    );
    gateway = new Gateway(running.url);
  });

  afterAll(async () => {
    await running?.close();
    if (sharedState) await closeRedisClient(sharedState);
    await f?.close();
    await gatewayRuntime?.close();
    await authRuntime?.close();
    if (redisServer?.exitCode === null) await killRedis(redisServer);
    console.error = consoleError;
  });

  const profile = (account: Account, token = account.accessToken) =>
    gateway.request('GET', `/v1/users/${account.userId}`, token);
  const logout = (token: string) => gateway.request('POST', '/v1/auth/logout', token, { allSessions: false });
  const fallbacks = async () => {
    const metric = await metrics.registry.getSingleMetric('gateway_redis_fallback_total')?.get();
    return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
  };

  it('serves, refuses revoked tokens and logs out while Redis is down, and keeps revocations when it returns empty', async () => {
    const alice = await gateway.register('alice');
    const bob = await gateway.register('bob');
    const carol = await gateway.register('carol');
    expect((await profile(alice)).status).toBe(200);
    // Bob logs out before the outage: Redis holds his revocation, and it is lost with Redis.
    expect((await logout(bob.accessToken)).status).toBe(200);
    expect((await profile(bob)).status).toBe(401);

    await killRedis(redisServer);

    // A valid token works: the revocation check, rate limit and cache go on without Redis.
    for (let i = 0; i < 5; i++) {
      const res = await profile(alice);
      expect([res.status, res.body.user]).toEqual([200, expect.objectContaining({ userId: alice.userId })]);
    }
    // Rate limit and cache fail open: served from their local fallbacks, counted.
    expect(await fallbacks()).toBeGreaterThan(0);
    // Bob's revoked token is still refused, at the gateway and by the user service.
    const refused = await profile(bob);
    expect([refused.status, refused.body.code]).toEqual([401, 16]);
    await expect(f.accepted(TokenPair.fromPartial({ accessToken: bob.accessToken }))).resolves.toBe(false);
    // Carol logs out during the outage: it succeeds, and her token ends everywhere.
    expect((await logout(carol.accessToken)).status).toBe(200);
    expect((await profile(carol)).status).toBe(401);
    await expect(gatewayRuntime.authenticator.verifyAccessToken(carol.accessToken)).rejects.toMatchObject({
      reason: 'TOKEN_REVOKED',
    });

    // Redis comes back empty; no process restarts.
    redisServer = await startRedis(port);
    const probe = createRedisClient({
      url: `redis://127.0.0.1:${port}`,
      name: 'probe',
      commandTimeoutMs: 250,
      logger: createLogger({ level: 'silent', service: 'test' }),
    });
    await probe.connect();
    try {
      // The processes copy what they know back into the new Redis.
      await waitFor('revocations copied back into redis', async () => {
        const known = await probe.exists(
          `revoked:${sessionOf(bob.accessToken)}`,
          `revoked:${sessionOf(carol.accessToken)}`,
        );
        return known === 2;
      });
    } finally {
      await closeRedisClient(probe);
    }
    expect((await profile(alice)).status).toBe(200);
    expect((await profile(bob)).status).toBe(401);
    expect((await profile(carol)).status).toBe(401);
    const dave = await gateway.register('dave');
    expect((await profile(dave)).status).toBe(200);
    expect((await logout(dave.accessToken)).status).toBe(200);
    expect((await profile(dave)).status).toBe(401);

    // The outage was logged through the structured logger, once down and once up; never by ioredis itself.
    const stateLines = lines.filter((l) => l.redis === 'shared-state').map((l) => l.msg);
    expect(stateLines).toEqual(['redis connection lost; reconnecting', 'redis reachable again']);
    expect(ioredisConsoleLines).toEqual([]);
  });
});
