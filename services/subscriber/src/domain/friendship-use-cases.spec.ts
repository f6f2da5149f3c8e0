import { randomUUID } from 'node:crypto';
import { friendshipEventEntry } from '../events/friendship-events.ts';
import { withEventEncoding } from '../store/friendship-store.ts';
import { MemoryFriendshipStore } from '../store/memory/memory-friendship-store.ts';
import { createFriendshipUseCases } from './friendship-use-cases.ts';

describe('friendship use cases', () => {
  const setup = () => {
    const store = new MemoryFriendshipStore();
    const friendships = createFriendshipUseCases({
      store: withEventEncoding(store, friendshipEventEntry),
      users: { exists: async () => true },
    });
    const as = (userId: string) => ({ actor: { kind: 'user' as const, userId }, requestId: 'r' });
    return { store, friendships, as };
  };

  it('settles crossing requests that both saw no record as one confirmed friendship', async () => {
    const { store, friendships, as } = setup();
    const [a, b] = [randomUUID(), randomUUID()];
    // Both calls read "no record" before either inserts; the loser retries and confirms.
    const [ab, ba] = await Promise.all([friendships.makeFriend(as(a), b), friendships.makeFriend(as(b), a)]);
    expect([ab.status, ba.status]).toEqual(['outgoing', 'confirmed']);
    await expect(store.get(a, b)).resolves.toMatchObject({ requesterId: a, state: 'confirmed', version: 2 });
    const types = (await store.outbox.pendingEvents(10)).map((e) => e.envelope.type);
    expect(types).toEqual(['subscriber.friendship.requested', 'subscriber.friendship.confirmed']);
  });

  it('refuses a block past the limit with RESOURCE_EXHAUSTED, changing nothing, and pages the blocks', async () => {
    const store = new MemoryFriendshipStore();
    const friendships = createFriendshipUseCases({
      store: withEventEncoding(store, friendshipEventEntry),
      users: { exists: async () => true },
      maxBlocks: 3,
    });
    const me = { actor: { kind: 'user' as const, userId: randomUUID() }, requestId: 'r' };
    const others = Array.from({ length: 4 }, () => randomUUID());
    for (const other of others.slice(0, 3)) await friendships.blockUser(me, other);
    await expect(friendships.blockUser(me, others[0] ?? '')).resolves.toMatchObject({ blockedId: others[0] });
    await expect(friendships.blockUser(me, others[3] ?? '')).rejects.toMatchObject({
      kind: 'resource_exhausted',
      reason: 'BLOCK_LIMIT',
    });
    const first = await friendships.listBlockedUsers(me, { pageSize: 2, pageToken: '' });
    const second = await friendships.listBlockedUsers(me, { pageSize: 2, pageToken: first.nextPageToken });
    expect([...first.items, ...second.items].map((b) => b.blockedId).sort()).toEqual(others.slice(0, 3).sort());
    expect(second.nextPageToken).toBe('');
    // A ListFriends token is no ListBlockedUsers token.
    await expect(
      friendships.listBlockedUsers(me, { pageSize: 2, pageToken: Buffer.from('["","k"]').toString('base64url') }),
    ).rejects.toMatchObject({ kind: 'invalid_argument' });
  });

  it('removes every record of a deleted user once per event, publishing removed for each', async () => {
    const { store, friendships, as } = setup();
    const gone = randomUUID();
    const others = Array.from({ length: 120 }, () => randomUUID());
    for (const other of others) await friendships.makeFriend(as(gone), other);
    const keep = randomUUID();
    await friendships.makeFriend(as(others[0] ?? ''), keep);
    const eventId = randomUUID();
    await expect(friendships.removeAllOf(gone.toUpperCase(), 'r', eventId)).resolves.toBe(120);
    await expect(friendships.removeAllOf(gone, 'r', eventId)).resolves.toBe(0);
    await expect(friendships.removeAllOf(gone, 'r', randomUUID())).resolves.toBe(0);
    const removed = (await store.outbox.pendingEvents(1000)).filter(
      (e) => e.envelope.type === 'subscriber.friendship.removed',
    );
    expect(removed).toHaveLength(120);
    await expect(store.listFor(gone, undefined, undefined, 10)).resolves.toEqual([]);
    await expect(store.get(others[0] ?? '', keep)).resolves.toBeDefined();
  });
});
