// The port the store adapters implement: the domain's storage port with each
// change's events already encoded as outbox entries, and the outbox itself.
import type { OutboxEntry, OutboxSource } from '@messenger/platform/events';
import type { FriendshipEvent } from '../domain/friendship.ts';
import type { FriendshipStorage } from '../domain/friendship-storage.ts';

/** What an adapter (MemoryFriendshipStore, MongoFriendshipStore, SqliteFriendshipStore) implements, and what startSubscriberService takes. */
export interface FriendshipStore extends FriendshipStorage<OutboxEntry> {
  /** The events written with the changes, for the relay to publish. */
  readonly outbox: OutboxSource;
}

/** How long a processed event id is remembered: well beyond any redelivery (Kafka retention is 7 days). */
export const PROCESSED_EVENT_RETENTION_MS = 14 * 24 * 3600 * 1000;

/**
 * The store as the use cases see it: they hand over domain events, which
 * `encode` (the service's event encoding) turns into the entries the store
 * writes with each change.
 */
export function withEventEncoding(
  store: FriendshipStore,
  encode: (event: FriendshipEvent) => OutboxEntry,
): FriendshipStorage {
  return {
    insert: (friendship, events) => store.insert(friendship, events.map(encode)),
    update: (friendship, events) => store.update(friendship, events.map(encode)),
    delete: (friendship, version, events) => store.delete(friendship, version, events.map(encode)),
    removeAllOf: (userId, eventId, now, events) =>
      store.removeAllOf(userId, eventId, now, (removed) => events(removed).map(encode)),
    block: (block, ending, events, maxBlocks) => store.block(block, ending, events.map(encode), maxBlocks),
    unblock: (blockerId, blockedId) => store.unblock(blockerId, blockedId),
    blocksBetween: (userA, userB) => store.blocksBetween(userA, userB),
    listBlocks: (blockerId, after, limit) => store.listBlocks(blockerId, after, limit),
    get: (userA, userB) => store.get(userA, userB),
    listFor: (userId, status, after, limit) => store.listFor(userId, status, after, limit),
  };
}
