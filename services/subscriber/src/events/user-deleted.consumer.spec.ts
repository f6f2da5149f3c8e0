import { randomUUID } from 'node:crypto';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { UserDeleted } from '@messenger/gen/messenger/user/v1/events';
import { createEnvelope, InProcessEventBus, packPayload } from '@messenger/platform/events';
import { createFriendshipUseCases } from '../domain/friendship-use-cases.ts';
import { withEventEncoding } from '../store/friendship-store.ts';
import { MemoryFriendshipStore } from '../store/memory/memory-friendship-store.ts';
import { friendshipEventEntry } from './friendship-events.ts';
import { USER_EVENTS_TOPIC, userDeletedConsumer } from './user-deleted.consumer.ts';

const deletedEvent = (userId: string): EventEnvelope =>
  createEnvelope({
    type: 'user.user.deleted',
    source: 'user',
    key: userId,
    payload: packPayload(
      'messenger.user.v1.UserDeleted',
      UserDeleted.encode(UserDeleted.fromPartial({ before: { userId, nickname: 'gone' } })).finish(),
    ),
  });

async function waitFor(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  const until = Date.now() + 5000;
  while (!(await done())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('user.user.deleted consumer', () => {
  it('has no second effect when the bus redelivers an event, after a crash before the commit or as a duplicate', async () => {
    const store = new MemoryFriendshipStore();
    const friendships = createFriendshipUseCases({
      store: withEventEncoding(store, friendshipEventEntry),
      users: { exists: async () => true },
    });
    const as = (userId: string) => ({ actor: { kind: 'user' as const, userId }, requestId: 'r' });
    const [gone, a, b, late] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await friendships.makeFriend(as(gone), a);
    await friendships.makeFriend(as(b), gone);
    await friendships.confirmFriend(as(gone), b);

    // The first delivery stores its effect and then "crashes" before the
    // commit: the bus hands the same event over again.
    const consumer = userDeletedConsumer(friendships);
    const deliveries: { id: string; attempt: number }[] = [];
    let crashOnce = true;
    const bus = new InProcessEventBus({ initialBackoffMs: 1 });
    try {
      await bus.subscribe({
        ...consumer,
        handle: async (event, meta) => {
          deliveries.push({ id: event.id, attempt: meta.attempt });
          await consumer.handle(event, meta);
          if (event.type === 'user.user.deleted' && crashOnce) {
            crashOnce = false;
            // Something to remove appears before the redelivery: only dedupe by id keeps it.
            await friendships.makeFriend(as(late), gone);
            throw new Error('crash after the effect, before the commit');
          }
        },
      });
      const event = deletedEvent(gone);
      await bus.publish(USER_EVENTS_TOPIC, [event]);
      await waitFor('the redelivery', () => deliveries.length === 2);
      // And once more, as a duplicate published by an outbox relay retry.
      await bus.publish(USER_EVENTS_TOPIC, [event]);
      await waitFor('the duplicate', () => deliveries.length === 3);
      expect(deliveries).toEqual([
        { id: event.id, attempt: 1 },
        { id: event.id, attempt: 2 },
        { id: event.id, attempt: 1 },
      ]);
    } finally {
      await bus.close();
    }

    const removed = (await store.outbox.pendingEvents(100)).filter(
      (e) => e.envelope.type === 'subscriber.friendship.removed',
    );
    expect(removed.map((e) => e.envelope.key).sort()).toEqual(
      [a, b].map((other) => [gone, other].sort().join(':')).sort(),
    );
    await expect(store.get(gone, late)).resolves.toMatchObject({ requesterId: late, state: 'pending' });
  });
});
