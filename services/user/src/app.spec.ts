// The service as startUserService wires it: the store's outbox wakes the
// relay when a write commits, so events go out at once without any use case
// asking for it, although the relay would otherwise look only once a minute.
import { call, startUserFixture, type UserFixture } from './testing/user-fixture.ts';

describe('startUserService', () => {
  let f: UserFixture;

  beforeAll(async () => {
    f = await startUserFixture({ relayPollIntervalMs: 60_000 });
  });
  afterAll(async () => {
    await f.close();
  });

  it('publishes each committed change at once: the outbox wakes the relay', async () => {
    const started = Date.now();
    const user = await f.createUser();
    await f.waitForEvent((e) => e.type === 'user.user.created' && e.key === user.userId);
    const owner = await f.as(user.userId);
    await call(f.client, f.client.deleteUser, { userId: user.userId }, owner);
    await f.waitForEvent((e) => e.type === 'user.user.deleted' && e.key === user.userId);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(f.events.filter((e) => e.key === user.userId).map((e) => e.type)).toEqual([
      'user.user.created',
      'user.user.deleted',
    ]);
  });
});
