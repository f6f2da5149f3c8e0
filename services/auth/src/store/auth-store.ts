// The port the store adapters implement: the domain's storage port with each
// change's events already encoded as outbox entries, and the outbox itself.
import type { OutboxEntry, OutboxSource } from '@messenger/platform/events';
import type { AuthEvent } from '../domain/account.ts';
import type { AuthStorage } from '../domain/auth-storage.ts';

/** What an adapter (MemoryAuthStore, MongoAuthStore) implements, and what startAuthService takes. */
export interface AuthStore extends AuthStorage<OutboxEntry> {
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
export function withEventEncoding(store: AuthStore, encode: (event: AuthEvent) => OutboxEntry): AuthStorage {
  const encoded =
    <A>(events: (arg: A) => readonly AuthEvent[]) =>
    (arg: A) =>
      events(arg).map(encode);
  return {
    createAccount: (input, events) => store.createAccount(input, events.map(encode)),
    updateRole: (account, events) => store.updateRole(account, events.map(encode)),
    openSession: (input, events, limit) =>
      store.openSession(input, events.map(encode), limit && { ...limit, evicted: encoded(limit.evicted) }),
    revokeSessions: (userId, sessionIds, now, events) =>
      store.revokeSessions(userId, sessionIds, now, events.map(encode)),
    redeemEmailToken: (input, events, endSessions) =>
      store.redeemEmailToken(input, events.map(encode), endSessions && encoded(endSessions)),
    removeUser: (userId, eventId, now, events) => store.removeUser(userId, eventId, now, encoded(events)),
    getAccount: (userId) => store.getAccount(userId),
    findAccountByEmail: (emailKey) => store.findAccountByEmail(emailKey),
    rotateRefreshToken: (presentedHash, next, now) => store.rotateRefreshToken(presentedHash, next, now),
    activeSessionIds: (userId, now) => store.activeSessionIds(userId, now),
    findIdentity: (provider, subject) => store.findIdentity(provider, subject),
    saveOAuthAttempt: (attempt, limits) => store.saveOAuthAttempt(attempt, limits),
    takeOAuthAttempt: (stateHash, now) => store.takeOAuthAttempt(stateHash, now),
    issueEmailToken: (token, notBefore) => store.issueEmailToken(token, notBefore),
    findEmailToken: (hash, now) => store.findEmailToken(hash, now),
    discardEmailToken: (hash) => store.discardEmailToken(hash),
  };
}
