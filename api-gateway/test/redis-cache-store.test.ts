import { Redis } from 'ioredis';
import { runCacheStoreContract } from '../src/plugins/cache/cache-store.contract.ts';
import { RedisCacheStore } from '../src/plugins/cache/redis-cache-store.ts';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
  throw new Error('REDIS_URL is not set. Run the tests under scripts/with-test-infra.sh.');
}

const clients: Redis[] = [];
afterAll(() => {
  for (const c of clients) c.disconnect();
});

runCacheStoreContract('RedisCacheStore', async () => {
  const redis = new Redis(redisUrl);
  clients.push(redis);
  // Connected first: the store bounds every command by 100 ms, and setting up
  // a connection on a busy machine can take longer than that.
  await redis.ping();
  return new RedisCacheStore(redis, { prefix: 'gw-test:cache:' });
});
