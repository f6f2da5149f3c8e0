// RedisRevocationList against a real redis-server, started by scripts/with-test-infra.sh.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { RedisRevocationList } from './redis-revocation-list.ts';
import { revocationListContract } from './revocation-list.contract.ts';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
  throw new Error(
    'REDIS_URL is not set. Run the tests under scripts/with-test-infra.sh, e.g. ' +
      '`scripts/with-test-infra.sh npm test -- platform/src/auth/redis` (after scripts/install-test-deps.sh).',
  );
}

const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
// Unique per run, and per fixture below, so runs and tests never see each other's keys.
const runPrefix = `test:revoked:${randomUUID()}:`;

beforeAll(async () => {
  await redis.connect();
});
afterAll(async () => {
  await redis.quit();
});

revocationListContract('RedisRevocationList', async () => ({
  list: new RedisRevocationList({ redis, keyPrefix: `${runPrefix}${randomUUID()}:` }),
  close: () => {},
}));

describe('RedisRevocationList', () => {
  const nowSeconds = () => Date.now() / 1000;
  let prefix: string;
  let list: RedisRevocationList;

  beforeEach(() => {
    prefix = `${runPrefix}${randomUUID()}:`;
    list = new RedisRevocationList({ redis, keyPrefix: prefix });
  });

  it('stores one key per session under the prefix, expiring at the revocation time', async () => {
    const until = Math.floor(nowSeconds()) + 60;
    await list.revokeSession('s1', until);
    expect(await redis.keys(`${prefix}*`)).toEqual([`${prefix}s1`]);
    expect(await redis.pexpiretime(`${prefix}s1`)).toBe(until * 1000);
  });

  it('extends a revocation but never shortens it', async () => {
    const until = Math.floor(nowSeconds()) + 120;
    await list.revokeSession('s1', until);
    await list.revokeSession('s1', until - 60);
    expect(await redis.pexpiretime(`${prefix}s1`)).toBe(until * 1000);
    await list.revokeSession('s1', until + 60);
    expect(await redis.pexpiretime(`${prefix}s1`)).toBe((until + 60) * 1000);
  });

  it('forgets a session once its revocation time has passed', async () => {
    // A fractional time, as `now + horizon` on a millisecond clock gives.
    await list.revokeSession('short', nowSeconds() + 0.5);
    await expect(list.isRevoked('short')).resolves.toBe(true);
    await sleep(600);
    await expect(list.isRevoked('short')).resolves.toBe(false);
    expect(await redis.exists(`${prefix}short`)).toBe(0);
  });

  it('uses `revoked:` as the default prefix', async () => {
    const sid = `default-prefix-${randomUUID()}`;
    try {
      await new RedisRevocationList({ redis }).revokeSession(sid, nowSeconds() + 60);
      expect(await redis.exists(`revoked:${sid}`)).toBe(1);
    } finally {
      await redis.del(`revoked:${sid}`);
    }
  });

  it('reloads its script on a server that lost it', async () => {
    await redis.script('FLUSH');
    await list.revokeSession('after-flush', nowSeconds() + 60);
    await expect(list.isRevoked('after-flush')).resolves.toBe(true);
  });

  it('rejects a missing session id or a time that is not a number', async () => {
    await expect(list.revokeSession('', nowSeconds() + 60)).rejects.toThrow(/sessionId/);
    await expect(list.revokeSession('s', Number.NaN)).rejects.toThrow(/untilEpochSeconds/);
  });
});
