import type { OutboxEntry } from '@messenger/platform/events';
import {
  inTransaction,
  isDuplicateKeyError,
  MongoOutbox,
  type MongoStoreOptions,
  type OpenedMongoStore,
  openMongoStore,
  reconcileIndexes,
} from '@messenger/platform/mongo';
import type { ClientSession, Collection, Db, MongoClient } from 'mongodb';
import type { Account, EmailToken, NewSession, OAuthAttempt, OAuthIdentity } from '../../domain/account.ts';
import {
  type NextRefreshToken,
  type RotationResult,
  type SessionLimit,
  type SessionOpening,
  StoreError,
} from '../../domain/auth-storage.ts';
import { type AuthStore, PROCESSED_EVENT_RETENTION_MS } from '../auth-store.ts';
import {
  type AccountDoc,
  type AttemptDoc,
  type EmailTokenDoc,
  emailTokenId,
  fromAccountDoc,
  fromAttemptDoc,
  fromEmailTokenDoc,
  fromIdentityDoc,
  fromSessionDoc,
  type IdentityDoc,
  identityKey,
  type LockDoc,
  type ProcessedDoc,
  type RefreshTokenDoc,
  type SessionDoc,
  sessionExpiry,
  toAccountDoc,
  toAttemptDoc,
  toEmailTokenDoc,
  toIdentityDoc,
  toRefreshTokenDoc,
  toSessionDoc,
} from './auth-documents.ts';

/** Every change of who is admin bumps this document, so concurrent ones write-conflict and run one after the other. */
const ADMINS_LOCK = 'admins';

/** Aborts a transaction with a known outcome (withTransaction rethrows it; it is not retried). */
class Outcome<T> extends Error {
  readonly value: T;
  constructor(value: T) {
    super('transaction outcome');
    this.value = value;
  }
}

/**
 * Accounts, sessions, refresh-token hashes, OAuth identities and attempts in
 * MongoDB. Every write runs in a transaction with its outbox entries, so it
 * needs a replica set (a single-node one will do). Transactions read one
 * snapshot and two that write the same document conflict (one retries), which
 * is what makes each compare-and-set below atomic. Expired refresh tokens,
 * sessions, OAuth attempts, email tokens and remembered event ids are removed
 * by TTL indexes.
 */
export class MongoAuthStore implements AuthStore {
  readonly outbox: MongoOutbox;
  readonly #client: MongoClient;
  readonly #accounts: Collection<AccountDoc>;
  readonly #sessions: Collection<SessionDoc>;
  readonly #tokens: Collection<RefreshTokenDoc>;
  readonly #identities: Collection<IdentityDoc>;
  readonly #attempts: Collection<AttemptDoc>;
  readonly #emailTokens: Collection<EmailTokenDoc>;
  readonly #processed: Collection<ProcessedDoc>;
  readonly #locks: Collection<LockDoc>;

  constructor(client: MongoClient, dbName: string) {
    const db: Db = client.db(dbName);
    this.#client = client;
    this.#accounts = db.collection('accounts');
    this.#sessions = db.collection('sessions');
    this.#tokens = db.collection('refresh_tokens');
    this.#identities = db.collection('oauth_identities');
    this.#attempts = db.collection('oauth_attempts');
    this.#emailTokens = db.collection('email_tokens');
    this.#processed = db.collection('processed_events');
    this.#locks = db.collection('locks');
    this.outbox = new MongoOutbox(db);
  }

  /** Run at start-up: brings each collection's indexes to the definitions here (reconcileIndexes). */
  async ensureIndexes(): Promise<void> {
    await reconcileIndexes(this.#accounts, [
      { key: { emailKey: 1 }, unique: true, name: 'email_key_unique' },
      { key: { role: 1 }, name: 'admins', partialFilterExpression: { role: 'admin' } satisfies Partial<AccountDoc> },
    ]);
    await reconcileIndexes(this.#sessions, [
      { key: { userId: 1 }, name: 'user' },
      { key: { expireAt: 1 }, name: 'ttl', expireAfterSeconds: 0 },
    ]);
    await reconcileIndexes(this.#tokens, [
      { key: { userId: 1 }, name: 'user' },
      { key: { expiresAt: 1 }, name: 'ttl', expireAfterSeconds: 0 },
    ]);
    await reconcileIndexes(this.#identities, [{ key: { userId: 1 }, name: 'user' }]);
    await reconcileIndexes(this.#attempts, [{ key: { expiresAt: 1 }, name: 'ttl', expireAfterSeconds: 0 }]);
    await reconcileIndexes(this.#emailTokens, [
      { key: { hash: 1 }, unique: true, name: 'hash_unique' },
      { key: { userId: 1 }, name: 'user' },
      { key: { expiresAt: 1 }, name: 'ttl', expireAfterSeconds: 0 },
    ]);
    await reconcileIndexes(this.#processed, [
      { key: { processedAt: 1 }, name: 'ttl', expireAfterSeconds: PROCESSED_EVENT_RETENTION_MS / 1000 },
    ]);
    // Created up front so no transaction has to create it or race to upsert it.
    await this.#locks.updateOne({ _id: ADMINS_LOCK }, { $setOnInsert: { version: 0 } }, { upsert: true });
    await this.outbox.ensureIndexes();
  }

  async getAccount(userId: string): Promise<Account | undefined> {
    const doc = await this.#accounts.findOne({ _id: userId });
    return doc ? fromAccountDoc(doc) : undefined;
  }

  async findAccountByEmail(emailKey: string): Promise<Account | undefined> {
    const doc = await this.#accounts.findOne({ emailKey });
    return doc ? fromAccountDoc(doc) : undefined;
  }

  createAccount(
    input: { account: Account; session: NewSession; identity?: OAuthIdentity },
    events: readonly OutboxEntry[],
  ): Promise<void> {
    return this.#write(events, async (session) => {
      if (input.account.role === 'admin') await this.#touchAdmins(session);
      await this.#accounts.insertOne(toAccountDoc(input.account), { session });
      if (input.identity) await this.#identities.insertOne(toIdentityDoc(input.identity), { session });
      await this.#insertSession(input.session, session);
    });
  }

  updateRole(account: Account, events: readonly OutboxEntry[]): Promise<void> {
    return this.#write(events, async (session) => {
      await this.#touchAdmins(session);
      const updated = await this.#accounts.updateOne(
        { _id: account.id, version: account.version - 1 },
        { $set: { role: account.role, updateTime: account.updateTime, version: account.version } },
        { session },
      );
      if (updated.matchedCount === 0) throw new StoreError('conflict', 'account changed or is gone');
      // Counted after the change, in the transaction's snapshot; the lock
      // above serializes this against any other change of who is admin.
      if (account.role !== 'admin' && (await this.#accounts.countDocuments({ role: 'admin' }, { session })) === 0) {
        throw new StoreError('last_admin', 'the last admin cannot be demoted');
      }
    });
  }

  openSession(
    input: SessionOpening,
    events: readonly OutboxEntry[],
    limit?: SessionLimit<OutboxEntry>,
  ): Promise<{ evictedSessionIds: string[] }> {
    return this.#decide(async (session) => {
      const { userId, createTime } = input.session.session;
      // Every sign-in writes the account, so sign-ins of one user (and a
      // password reset) conflict and run one after the other: the cap below
      // holds, and a reset cannot miss a session opened beside it.
      const touched = await this.#accounts.updateOne(
        input.accountVersion === undefined ? { _id: userId } : { _id: userId, version: input.accountVersion },
        input.rehashedPassword === undefined
          ? { $set: { lastSignInTime: createTime } }
          : {
              $set: { lastSignInTime: createTime, passwordHash: input.rehashedPassword, updateTime: createTime },
              $inc: { version: 1 },
            },
        { session },
      );
      if (touched.matchedCount === 0) {
        const exists = (await this.#accounts.countDocuments({ _id: userId }, { session, limit: 1 })) > 0;
        throw exists ? new StoreError('conflict', 'account changed') : new StoreError('not_found', 'account is gone');
      }
      let evicted: string[] = [];
      if (limit) {
        const active = await this.#activeSessionIds(userId, limit.now, session);
        evicted = active.slice(0, Math.max(0, active.length - limit.max + 1));
        if (evicted.length > 0) {
          await this.#sessions.updateMany({ _id: { $in: evicted } }, { $set: { revokedAt: limit.now } }, { session });
        }
      }
      if (input.identity) await this.#identities.insertOne(toIdentityDoc(input.identity), { session });
      await this.#insertSession(input.session, session);
      const more = limit && evicted.length > 0 ? limit.evicted(evicted) : [];
      await this.outbox.append([...events, ...more], session);
      return { evictedSessionIds: evicted };
    });
  }

  async rotateRefreshToken(presentedHash: string, next: NextRefreshToken, now: Date): Promise<RotationResult> {
    return this.#decide<RotationResult>(async (session) => {
      const token = await this.#tokens.findOne({ _id: presentedHash }, { session });
      if (!token) return { kind: 'invalid', why: 'unknown' };
      if (token.expiresAt.getTime() <= now.getTime()) return { kind: 'invalid', why: 'expired' };
      const stored = await this.#sessions.findOne({ _id: token.sessionId }, { session });
      if (!stored) return { kind: 'invalid', why: 'unknown' };
      if (stored.revokedAt) return { kind: 'invalid', why: 'revoked' };
      if (token.usedAt) return { kind: 'reused', session: fromSessionDoc(stored) };
      const account = await this.#accounts.findOne({ _id: stored.userId }, { session });
      if (!account) return { kind: 'invalid', why: 'revoked' };
      // The compare-and-set. A concurrent rotation of the same token writes
      // the same document: one transaction conflicts, is retried, and then
      // reads the token as used.
      const used = await this.#tokens.updateOne(
        { _id: presentedHash, usedAt: null },
        { $set: { usedAt: now } },
        { session },
      );
      if (used.modifiedCount === 0) return { kind: 'reused', session: fromSessionDoc(stored) };
      await this.#tokens.insertOne(toRefreshTokenDoc({ ...next, sessionId: stored._id, userId: stored.userId }), {
        session,
      });
      const rotated: SessionDoc = {
        ...stored,
        lastRefreshTime: now,
        refreshExpiresAt: next.expiresAt,
        expireAt: sessionExpiry(next.expiresAt),
      };
      const kept = await this.#sessions.replaceOne({ _id: stored._id, revokedAt: null }, rotated, { session });
      if (kept.matchedCount === 0) throw new Outcome<RotationResult>({ kind: 'invalid', why: 'revoked' });
      return { kind: 'rotated', session: fromSessionDoc(rotated), account: fromAccountDoc(account) };
    });
  }

  activeSessionIds(userId: string, now: Date): Promise<string[]> {
    return this.#activeSessionIds(userId, now);
  }

  async revokeSessions(
    userId: string,
    sessionIds: readonly string[],
    now: Date,
    events: readonly OutboxEntry[],
  ): Promise<number> {
    let revoked = 0;
    await this.#write(events, async (session) => {
      const result = await this.#sessions.updateMany(
        { _id: { $in: [...sessionIds] }, userId, revokedAt: null },
        { $set: { revokedAt: now } },
        { session },
      );
      revoked = result.modifiedCount;
    });
    return revoked;
  }

  async findIdentity(provider: string, subject: string): Promise<OAuthIdentity | undefined> {
    const doc = await this.#identities.findOne({ _id: identityKey(provider, subject) });
    return doc ? fromIdentityDoc(doc) : undefined;
  }

  async saveOAuthAttempt(attempt: OAuthAttempt, limits: { now: Date; maxPending: number }): Promise<void> {
    // The TTL monitor runs about once a minute; the expired are deleted here
    // too, so that the count is of live attempts.
    await this.#attempts.deleteMany({ expiresAt: { $lte: limits.now } });
    const surplus = (await this.#attempts.estimatedDocumentCount()) - limits.maxPending + 1;
    if (surplus > 0) {
      const oldest = await this.#attempts
        .find({}, { projection: { _id: 1 }, sort: { expiresAt: 1 }, limit: surplus })
        .toArray();
      await this.#attempts.deleteMany({ _id: { $in: oldest.map((d) => d._id) } });
    }
    await this.#attempts.insertOne(toAttemptDoc(attempt));
  }

  async takeOAuthAttempt(stateHash: string, now: Date): Promise<OAuthAttempt | undefined> {
    // One atomic delete: of two concurrent completions only one gets the document.
    const doc = await this.#attempts.findOneAndDelete({ _id: stateHash });
    // The TTL monitor runs once a minute; an expired attempt may still be there.
    if (!doc || doc.expiresAt.getTime() <= now.getTime()) return undefined;
    return fromAttemptDoc(doc);
  }

  async issueEmailToken(token: EmailToken, notBefore: Date): Promise<boolean> {
    try {
      // Replaces the account's token of this purpose unless that one is newer
      // than `notBefore`; then the upsert inserts, and its id collides.
      await this.#emailTokens.replaceOne(
        { _id: emailTokenId(token), createTime: { $lte: notBefore } },
        toEmailTokenDoc(token),
        { upsert: true },
      );
      return true;
    } catch (error) {
      if (isDuplicateKeyError(error)) return false;
      throw error;
    }
  }

  async findEmailToken(hash: string, now: Date): Promise<EmailToken | undefined> {
    const doc = await this.#emailTokens.findOne({ hash });
    // The TTL monitor runs once a minute; an expired token may still be there.
    return doc && doc.expiresAt.getTime() > now.getTime() ? fromEmailTokenDoc(doc) : undefined;
  }

  async discardEmailToken(hash: string): Promise<void> {
    await this.#emailTokens.deleteOne({ hash });
  }

  redeemEmailToken(
    input: { token: EmailToken; account: Account; now: Date },
    events: readonly OutboxEntry[],
    endSessions?: (activeSessionIds: readonly string[]) => readonly OutboxEntry[],
  ): Promise<{ endedSessionIds: string[] }> {
    const { token, account, now } = input;
    return this.#decide(async (session) => {
      const taken = await this.#emailTokens.deleteOne({ _id: emailTokenId(token), hash: token.hash }, { session });
      if (taken.deletedCount === 0) throw new StoreError('not_found', 'the token is gone');
      const stored = await this.#accounts.findOne({ _id: account.id }, { session });
      if (stored?.version !== account.version - 1) throw new StoreError('conflict', 'account changed or is gone');
      if (stored.role !== account.role) await this.#touchAdmins(session);
      const { passwordHash, emailVerified, role, updateTime, version } = toAccountDoc(account);
      await this.#accounts.updateOne(
        { _id: account.id, version: stored.version },
        { $set: { passwordHash, emailVerified, role, updateTime, version } },
        { session },
      );
      const ended = endSessions ? await this.#activeSessionIds(account.id, now, session) : [];
      if (ended.length > 0) {
        await this.#sessions.updateMany({ _id: { $in: ended } }, { $set: { revokedAt: now } }, { session });
      }
      const more = endSessions && ended.length > 0 ? endSessions(ended) : [];
      await this.outbox.append([...events, ...more], session);
      return { endedSessionIds: ended };
    });
  }

  async removeUser(
    userId: string,
    eventId: string,
    now: Date,
    events: (activeSessionIds: readonly string[]) => readonly OutboxEntry[],
  ): Promise<{ applied: boolean; activeSessionIds: string[] }> {
    try {
      return await this.#decide(async (session) => {
        if (await this.#processed.findOne({ _id: eventId }, { session }))
          return { applied: false, activeSessionIds: [] };
        await this.#processed.insertOne({ _id: eventId, processedAt: now }, { session });
        const active = await this.#activeSessionIds(userId, now, session);
        const account = await this.#accounts.findOne({ _id: userId }, { session });
        if (account?.role === 'admin') await this.#touchAdmins(session);
        await this.#accounts.deleteOne({ _id: userId }, { session });
        await this.#identities.deleteMany({ userId }, { session });
        await this.#sessions.deleteMany({ userId }, { session });
        await this.#tokens.deleteMany({ userId }, { session });
        await this.#emailTokens.deleteMany({ userId }, { session });
        await this.outbox.append(events(active), session);
        return { applied: true, activeSessionIds: active };
      });
    } catch (error) {
      // Two deliveries of one event racing: the other one recorded it.
      if (error instanceof StoreError && error.kind === 'duplicate') return { applied: false, activeSessionIds: [] };
      throw error;
    }
  }

  /** Ids of the user's sessions neither revoked nor expired, least recently refreshed first. */
  async #activeSessionIds(userId: string, now: Date, session?: ClientSession): Promise<string[]> {
    const docs = await this.#sessions
      .find(
        { userId, revokedAt: null, refreshExpiresAt: { $gt: now } },
        { projection: { _id: 1 }, sort: { lastRefreshTime: 1 }, ...(session ? { session } : {}) },
      )
      .toArray();
    return docs.map((d) => d._id);
  }

  async #touchAdmins(session: ClientSession): Promise<void> {
    await this.#locks.updateOne({ _id: ADMINS_LOCK }, { $inc: { version: 1 } }, { session });
  }

  async #insertSession({ session: s, refreshToken: t }: NewSession, session: ClientSession): Promise<void> {
    await this.#sessions.insertOne(toSessionDoc(s), { session });
    await this.#tokens.insertOne(toRefreshTokenDoc(t), { session });
  }

  /** A change and its outbox entries in one transaction. */
  #write(entries: readonly OutboxEntry[], change: (session: ClientSession) => Promise<void>): Promise<void> {
    return this.#decide(async (session) => {
      await change(session);
      await this.outbox.append(entries, session);
    });
  }

  /**
   * Runs `work` in a transaction (retried by the driver on transient errors
   * and write conflicts) and returns its value; an `Outcome` thrown inside
   * aborts the transaction and becomes the value. Driver errors leave as
   * StoreErrors where they are one.
   */
  async #decide<T>(work: (session: ClientSession) => Promise<T>): Promise<T> {
    try {
      return await inTransaction(this.#client, work, { readConcern: { level: 'snapshot' } });
    } catch (error) {
      if (error instanceof Outcome) return error.value as T;
      throw translateError(error);
    }
  }
}

export function translateError(error: unknown): unknown {
  if (isDuplicateKeyError(error)) {
    return new StoreError('duplicate', 'a unique key exists', { cause: error });
  }
  return error;
}

/** Connects and prepares a store (indexes) at start-up. */
export function openMongoAuthStore(
  url: string,
  dbName: string,
  options: MongoStoreOptions = {},
): Promise<OpenedMongoStore<MongoAuthStore>> {
  return openMongoStore(url, (client) => new MongoAuthStore(client, dbName), { ...options, appName: 'auth' });
}
