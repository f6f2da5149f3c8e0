// The port the store adapters implement: the domain's storage port with each
// change's events already encoded as outbox entries, and the outbox itself.
import type { OutboxEntry, OutboxSource } from '@messenger/platform/events';
import type { UserEvent } from '../domain/user.ts';
import type { UserStorage } from '../domain/user-storage.ts';

/** What an adapter (MemoryUserStore, MongoUserStore) implements, and what startUserService takes. */
export interface UserStore extends UserStorage<OutboxEntry> {
  /** The events written with the changes, for the relay to publish. */
  readonly outbox: OutboxSource;
}

/**
 * The store as the use cases see it: they hand over domain events, which
 * `encode` (the service's event encoding) turns into the entries the store
 * writes with each change.
 */
export function withEventEncoding(store: UserStore, encode: (event: UserEvent) => OutboxEntry): UserStorage {
  return {
    insert: (user, events) => store.insert(user, events.map(encode)),
    update: (user, events) => store.update(user, events.map(encode)),
    delete: (id, version, events) => store.delete(id, version, events.map(encode)),
    get: (id) => store.get(id),
    getMany: (ids) => store.getMany(ids),
    searchByNickname: (prefix, after, limit) => store.searchByNickname(prefix, after, limit),
  };
}
