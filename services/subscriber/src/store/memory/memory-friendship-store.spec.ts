import { randomUUID } from 'node:crypto';
import { friendshipStoreContract } from '../friendship-store.contract.ts';
import { PROCESSED_EVENT_RETENTION_MS } from '../friendship-store.ts';
import { MemoryFriendshipStore } from './memory-friendship-store.ts';

friendshipStoreContract('MemoryFriendshipStore', async () => ({
  store: new MemoryFriendshipStore(),
  close: async () => {},
}));

describe('MemoryFriendshipStore processed events', () => {
  it('forgets a processed event id after the retention, as the TTL index does in MongoDB', async () => {
    const store = new MemoryFriendshipStore();
    const eventId = randomUUID();
    const t0 = Date.parse('2025-01-01T00:00:00Z');
    const at = (ms: number) => new Date(t0 + ms);
    await expect(store.removeAllOf(randomUUID(), eventId, at(0), () => [])).resolves.toMatchObject({ applied: true });
    await expect(
      store.removeAllOf(randomUUID(), eventId, at(PROCESSED_EVENT_RETENTION_MS), () => []),
    ).resolves.toMatchObject({
      applied: false,
    });
    await expect(
      store.removeAllOf(randomUUID(), eventId, at(PROCESSED_EVENT_RETENTION_MS + 1), () => []),
    ).resolves.toMatchObject({ applied: true });
  });

  it('remembers at most 100 000 event ids, forgetting the oldest first', async () => {
    const store = new MemoryFriendshipStore();
    const now = new Date();
    const first = randomUUID();
    await store.removeAllOf(randomUUID(), first, now, () => []);
    for (let i = 1; i < 100_000 - 1; i++) await store.removeAllOf('u', `e${i}`, now, () => []);
    await expect(store.removeAllOf('u', first, now, () => [])).resolves.toMatchObject({ applied: false });
    await store.removeAllOf('u', 'one-more', now, () => []);
    await expect(store.removeAllOf('u', first, now, () => [])).resolves.toMatchObject({ applied: true });
    await expect(store.removeAllOf('u', 'e99998', now, () => [])).resolves.toMatchObject({ applied: false });
  });
});
