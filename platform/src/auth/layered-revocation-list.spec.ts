import { RevocationReason, SessionsRevoked } from '@messenger/gen/messenger/auth/v1/events';
import { createEnvelope, packPayload } from '../events/envelope.ts';
import { InProcessEventBus } from '../events/in-process-event-bus.ts';
import { followRevocations, LayeredRevocationList } from './layered-revocation-list.ts';
import { InMemoryRevocationList, type RevocationList } from './revocation.ts';
import { revocationListContract } from './revocation-list.contract.ts';

const quiet = { warn: () => {}, debug: () => {} };
const inAMinute = () => Date.now() / 1000 + 60;

/** A shared list that is down: every call fails, as the Redis list does while Redis is unreachable. */
const down: RevocationList = {
  revokeSession: async () => {
    throw new Error('Stream isn\u2019t writeable');
  },
  isRevoked: async () => {
    throw new Error('Stream isn\u2019t writeable');
  },
};

revocationListContract('layered over in-memory', async () => {
  const shared = new InMemoryRevocationList();
  const list = new LayeredRevocationList({ shared, logger: quiet });
  return {
    list,
    close: () => {
      list.close();
      shared.close();
    },
  };
});

describe('LayeredRevocationList', () => {
  it('answers from the shared list what this process never heard of', async () => {
    const shared = new InMemoryRevocationList();
    await shared.revokeSession('s-elsewhere', inAMinute());
    const list = new LayeredRevocationList({ shared, logger: quiet });
    await expect(list.isRevoked('s-elsewhere')).resolves.toBe(true);
    list.close();
    shared.close();
  });

  it('keeps working while the shared list is down: revokes locally, refuses what it knows, accepts the rest', async () => {
    const list = new LayeredRevocationList({ shared: down, logger: quiet });
    await expect(list.revokeSession('s-out', inAMinute())).resolves.toBeUndefined();
    await expect(list.isRevoked('s-out')).resolves.toBe(true);
    await expect(list.isRevoked('s-valid')).resolves.toBe(false);
    list.close();
  });

  it('copies its local entries into a shared list that came back empty', async () => {
    const local = new InMemoryRevocationList();
    await local.revokeSession('s-kept', inAMinute());
    await local.revokeSession('s-past', Date.now() / 1000 - 1);
    const shared = new InMemoryRevocationList();
    const list = new LayeredRevocationList({ shared, local, logger: quiet });
    await expect(list.resync()).resolves.toBe(1);
    await expect(shared.isRevoked('s-kept')).resolves.toBe(true);
    list.close();
    shared.close();
  });

  it('learns revocations from auth.session.revoked, so it refuses them without the shared list', async () => {
    const bus = new InProcessEventBus();
    const list = new LayeredRevocationList({ shared: down, logger: quiet });
    const following = await followRevocations(bus, list, 'test.revocations', quiet);
    const payload = SessionsRevoked.encode({
      userId: 'u-1',
      sessionIds: ['s-a', 's-b'],
      all: true,
      reason: RevocationReason.REVOCATION_REASON_LOGOUT,
    }).finish();
    await bus.publish('auth.events', [
      createEnvelope({
        type: 'auth.session.revoked',
        source: 'auth',
        key: 'u-1',
        payload: packPayload('messenger.auth.v1.SessionsRevoked', payload),
      }),
    ]);
    // Delivery is asynchronous: wait for the event to be handled.
    const deadline = Date.now() + 10_000;
    while (!(await list.isRevoked('s-a')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await expect(Promise.all([list.isRevoked('s-a'), list.isRevoked('s-b')])).resolves.toEqual([true, true]);
    await expect(list.isRevoked('s-c')).resolves.toBe(false);
    await following.unsubscribe();
    await bus.close();
    list.close();
  });
});
