// RedisPresenceRegistry against a real redis-server, started by scripts/with-test-infra.sh.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { presenceRegistryContract } from './presence-registry.contract.ts';
import { RedisPresenceRegistry } from './redis-presence-registry.ts';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
  throw new Error('REDIS_URL is not set: run the tests under scripts/with-test-infra.sh.');
}

const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
beforeAll(async () => {
  await redis.connect();
});
afterAll(async () => {
  await redis.quit();
});

presenceRegistryContract(
  'RedisPresenceRegistry',
  () => new RedisPresenceRegistry({ redis, keyPrefix: `test:presence:${randomUUID()}:` }),
);

describe('RedisPresenceRegistry', () => {
  it('shares one user’s streams between registries on the same Redis (two replicas)', async () => {
    const keyPrefix = `test:presence:${randomUUID()}:`;
    const [a, b] = [new RedisPresenceRegistry({ redis, keyPrefix }), new RedisPresenceRegistry({ redis, keyPrefix })];
    const user = randomUUID();
    const now = Date.now();
    await a.open(user, 'on-a', now, now + 30_000);
    await expect(b.open(user, 'on-b', now, now + 30_000)).resolves.toEqual({ liveStreams: 1, lastSeenMs: undefined });
    await expect(a.close(user, 'on-a', now + 10)).resolves.toEqual({ liveStreams: 1, lastSeenMs: now + 10 });
  });
});
