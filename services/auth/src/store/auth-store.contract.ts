// The behaviour every AuthStore adapter must show; run by memory-auth-store.spec.ts
// always and by mongo-auth-store.spec.ts when MONGODB_URL is set. The adapters
// get their events through the service's own encoding, so the outbox entries
// checked here are those production writes.
import { randomUUID } from 'node:crypto';
import { AccountCreated, RoleChanged, SessionsRevoked } from '@messenger/gen/messenger/auth/v1/events';
import type { OutboxSource } from '@messenger/platform/events';
import type { Account, AuthEvent } from '../domain/account.ts';
import { type AuthStorage, isStoreError } from '../domain/auth-storage.ts';
import { authEventEntry } from '../events/auth-events.ts';
import { contractRecords, DAY, errorOf } from './auth-store.contract-records.ts';
import { type AuthStore, withEventEncoding } from './auth-store.ts';

export interface AuthStoreFixture {
  readonly store: AuthStore;
  close(): Promise<void>;
}

export function authStoreContract(name: string, make: () => Promise<AuthStoreFixture>): void {
  describe(`AuthStore contract: ${name}`, () => {
    let fixture: AuthStoreFixture;
    let store: AuthStorage;
    let outbox: OutboxSource;

    beforeEach(async () => {
      fixture = await make();
      store = withEventEncoding(fixture.store, authEventEntry);
      outbox = fixture.store.outbox;
    });
    afterEach(async () => {
      await fixture.close();
    });

    const { t0, later, account, newSession, created, revoked, identity, next, attempt, emailToken } = contractRecords();
    const add = async (email: string, over: Partial<Account> = {}) => {
      const a = account(email, over);
      const s = newSession(a.id);
      await store.createAccount({ account: a, session: s }, created(a));
      return { account: a, session: s };
    };
    const pendingTypes = async () => (await outbox.pendingEvents(100)).map((e) => e.envelope.type);

    describe('accounts', () => {
      it('stores an account with its first session and reads it back by id and by email key', async () => {
        const { account: a, session } = await add('Ann@Example.com');
        await expect(store.getAccount(a.id)).resolves.toEqual(a);
        await expect(store.findAccountByEmail('ann@example.com')).resolves.toEqual(a);
        await expect(store.findAccountByEmail('Ann@Example.com')).resolves.toBeUndefined();
        await expect(store.getAccount(randomUUID())).resolves.toBeUndefined();
        await expect(store.activeSessionIds(a.id, t0)).resolves.toEqual([session.session.id]);
        const oauthOnly = account('oauth@example.com', { passwordHash: undefined });
        await store.createAccount({ account: oauthOnly, session: newSession(oauthOnly.id) }, []);
        await expect(store.getAccount(oauthOnly.id)).resolves.toEqual(oauthOnly);
      });

      it('refuses a second account with the same id, email key or identity, writing nothing', async () => {
        const { account: a } = await add('ann@example.com');
        const linked = account('linked@example.com');
        const id = identity(linked.id);
        await store.createAccount({ account: linked, session: newSession(linked.id), identity: id }, []);
        const attempts = [
          { account: account('other@example.com', { id: a.id }) },
          { account: account('ann@example.com') },
          { account: account('third@example.com'), identity: { ...id, userId: randomUUID() } },
        ];
        for (const attempt of attempts) {
          const s = newSession(attempt.account.id);
          const error = await errorOf(store.createAccount({ ...attempt, session: s }, created(attempt.account)));
          expect(isStoreError(error, 'duplicate')).toBe(true);
          await expect(store.rotateRefreshToken(s.refreshToken.hash, next(0), t0)).resolves.toEqual({
            kind: 'invalid',
            why: 'unknown',
          });
        }
        await expect(store.findAccountByEmail('third@example.com')).resolves.toBeUndefined();
        await expect(store.findIdentity('example', id.subject)).resolves.toEqual(id);
        expect(await pendingTypes()).toEqual(['auth.account.created']);
      });

      it('lets exactly one of two concurrent registrations of one email win', async () => {
        const a = account('race@example.com');
        const b = account('race@example.com');
        const results = await Promise.allSettled([
          store.createAccount({ account: a, session: newSession(a.id) }, created(a)),
          store.createAccount({ account: b, session: newSession(b.id) }, created(b)),
        ]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const failed = results.find((r) => r.status === 'rejected');
        expect(isStoreError(failed?.reason, 'duplicate')).toBe(true);
        const pending = await outbox.pendingEvents(10);
        expect(pending).toHaveLength(1);
        const payload = AccountCreated.decode(pending[0]?.envelope.payload?.value ?? new Uint8Array());
        expect(payload.email).toBe('race@example.com');
      });

      it('changes a role only from the expected version, and never demotes the last admin', async () => {
        const { account: boss } = await add('boss@example.com', { role: 'admin' });
        const { account: ann } = await add('ann@example.com');
        const changed = (a: Account, role: Account['role']): AuthEvent[] => [
          {
            kind: 'role_changed',
            userId: a.id,
            before: a.role,
            after: role,
            changedBy: boss.id,
            time: t0,
            requestId: 'r',
          },
        ];
        const lastAdmin = await errorOf(store.updateRole({ ...boss, role: 'user', version: 2 }, changed(boss, 'user')));
        expect(isStoreError(lastAdmin, 'last_admin')).toBe(true);
        await expect(store.getAccount(boss.id)).resolves.toMatchObject({ role: 'admin', version: 1 });

        const promoted = { ...ann, role: 'admin' as const, updateTime: later(1), version: 2 };
        await store.updateRole(promoted, changed(ann, 'admin'));
        await expect(store.getAccount(ann.id)).resolves.toEqual(promoted);
        const stale = await errorOf(store.updateRole({ ...ann, role: 'admin', version: 2 }, changed(ann, 'admin')));
        expect(isStoreError(stale, 'conflict')).toBe(true);
        const ghost = await errorOf(store.updateRole(account('ghost@example.com', { version: 2 }), []));
        expect(isStoreError(ghost, 'conflict')).toBe(true);

        await store.updateRole({ ...boss, role: 'user', version: 2 }, changed(boss, 'user'));
        const pending = await outbox.pendingEvents(10);
        expect(pending.map((e) => e.envelope.type)).toEqual([
          'auth.account.created',
          'auth.account.created',
          'auth.account.role_changed',
          'auth.account.role_changed',
        ]);
        const last = RoleChanged.decode(pending[3]?.envelope.payload?.value ?? new Uint8Array());
        expect([last.userId, last.changedById]).toEqual([boss.id, boss.id]);
      });

      it('keeps one admin when the last two demote each other at the same time', async () => {
        const { account: a } = await add('a@example.com', { role: 'admin' });
        const { account: b } = await add('b@example.com', { role: 'admin' });
        const results = await Promise.allSettled([
          store.updateRole({ ...a, role: 'user', version: 2 }, []),
          store.updateRole({ ...b, role: 'user', version: 2 }, []),
        ]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const failed = results.find((r) => r.status === 'rejected');
        expect(isStoreError(failed?.reason, 'last_admin')).toBe(true);
      });
    });

    describe('sessions', () => {
      it('opens sessions only for an existing account, linking an identity once', async () => {
        const { account: a, session: first } = await add('ann@example.com');
        const s = newSession(a.id);
        const id = identity(a.id);
        await store.openSession({ session: s, identity: id }, []);
        await expect(store.findIdentity('example', id.subject)).resolves.toEqual(id);
        await expect(store.findIdentity('other', id.subject)).resolves.toBeUndefined();
        const again = newSession(a.id);
        expect(isStoreError(await errorOf(store.openSession({ session: again, identity: id }, [])), 'duplicate')).toBe(
          true,
        );
        const ghost = newSession(randomUUID());
        expect(isStoreError(await errorOf(store.openSession({ session: ghost }, [])), 'not_found')).toBe(true);
        expect((await store.activeSessionIds(a.id, t0)).sort()).toEqual([first.session.id, s.session.id].sort());
      });

      it('rotates a refresh token once; the old one then reads as reused', async () => {
        const { account: a, session } = await add('ann@example.com');
        const first = next(1);
        const rotated = await store.rotateRefreshToken(session.refreshToken.hash, first, later(60));
        expect(rotated).toMatchObject({
          kind: 'rotated',
          account: a,
          session: { id: session.session.id, lastRefreshTime: later(60), refreshExpiresAt: first.expiresAt },
        });
        const reused = await store.rotateRefreshToken(session.refreshToken.hash, next(2), later(61));
        expect(reused).toMatchObject({ kind: 'reused', session: { id: session.session.id, userId: a.id } });
        const second = await store.rotateRefreshToken(first.hash, next(3), later(62));
        expect(second.kind).toBe('rotated');
      });

      it('refuses unknown and expired tokens, and tokens of revoked sessions', async () => {
        const { account: a, session } = await add('ann@example.com');
        await expect(store.rotateRefreshToken('nope', next(1), t0)).resolves.toEqual({
          kind: 'invalid',
          why: 'unknown',
        });
        const short = newSession(a.id, 60);
        await store.openSession({ session: short }, []);
        await expect(store.rotateRefreshToken(short.refreshToken.hash, next(2), later(60))).resolves.toEqual({
          kind: 'invalid',
          why: 'expired',
        });
        await store.revokeSessions(a.id, [session.session.id], later(1), []);
        await expect(store.rotateRefreshToken(session.refreshToken.hash, next(3), later(2))).resolves.toEqual({
          kind: 'invalid',
          why: 'revoked',
        });
      });

      it('caps active sessions: opening one more revokes the least recently refreshed, with events', async () => {
        const { account: a, session: s1 } = await add('ann@example.com');
        const s2 = newSession(a.id);
        const s3 = newSession(a.id);
        await store.openSession({ session: s2 }, []);
        await store.openSession({ session: s3 }, []);
        // s3, then s1 were refreshed since: s2 is the least recently used.
        await store.rotateRefreshToken(s3.refreshToken.hash, next(1), later(5));
        await store.rotateRefreshToken(s1.refreshToken.hash, next(2), later(10));
        const evicted = revoked(a.id, 'session_limit', false);
        const s4 = newSession(a.id);
        await expect(store.openSession({ session: s4 }, [], { max: 3, now: later(20), evicted })).resolves.toEqual({
          evictedSessionIds: [s2.session.id],
        });
        expect((await store.activeSessionIds(a.id, later(20))).sort()).toEqual(
          [s1.session.id, s3.session.id, s4.session.id].sort(),
        );
        // Revoked and expired sessions do not count: within the cap, nothing more is revoked.
        await store.revokeSessions(a.id, [s3.session.id], later(21), []);
        await expect(
          store.openSession({ session: newSession(a.id) }, [], { max: 3, now: later(22), evicted }),
        ).resolves.toEqual({ evictedSessionIds: [] });
        const events = (await outbox.pendingEvents(10)).filter((e) => e.envelope.type === 'auth.session.revoked');
        expect(events).toHaveLength(1);
        const payload = SessionsRevoked.decode(events[0]?.envelope.payload?.value ?? new Uint8Array());
        expect(payload.sessionIds).toEqual([s2.session.id]);
      });

      it('opens a password sign-in only at the version checked, storing its re-hash with it', async () => {
        const { account: a } = await add('ann@example.com');
        const stale = await errorOf(store.openSession({ session: newSession(a.id), accountVersion: 2 }, []));
        expect(isStoreError(stale, 'conflict')).toBe(true);
        const rehashed = '$scrypt$ln=3,r=1,p=1$c2FsdA$cmVoYXNoZWRyZWhhc2hlZHJlaGFzaA';
        const s = newSession(a.id);
        await store.openSession({ session: s, accountVersion: 1, rehashedPassword: rehashed }, []);
        await expect(store.getAccount(a.id)).resolves.toMatchObject({ passwordHash: rehashed, version: 2 });
        await expect(store.activeSessionIds(a.id, t0)).resolves.toContain(s.session.id);
        // The version moved on: a sign-in that checked version 1 no longer opens.
        const late = await errorOf(store.openSession({ session: newSession(a.id), accountVersion: 1 }, []));
        expect(isStoreError(late, 'conflict')).toBe(true);
      });

      it('gives exactly one of two concurrent rotations of one token a new token', async () => {
        const { session } = await add('ann@example.com');
        const results = await Promise.all([
          store.rotateRefreshToken(session.refreshToken.hash, next(1), later(1)),
          store.rotateRefreshToken(session.refreshToken.hash, next(2), later(1)),
        ]);
        expect(results.map((r) => r.kind).sort()).toEqual(['reused', 'rotated']);
      });

      it('lists active sessions and revokes only the named sessions of that user', async () => {
        const { account: a, session: s1 } = await add('ann@example.com');
        const { account: b, session: other } = await add('bob@example.com');
        const s2 = newSession(a.id);
        const expired = newSession(a.id, 60);
        await store.openSession({ session: s2 }, []);
        await store.openSession({ session: expired }, []);
        expect((await store.activeSessionIds(a.id, later(60))).sort()).toEqual([s1.session.id, s2.session.id].sort());

        const event: AuthEvent = {
          kind: 'sessions_revoked',
          userId: a.id,
          sessionIds: [s1.session.id],
          all: false,
          reason: 'logout',
          time: later(1),
          requestId: 'r',
        };
        await expect(store.revokeSessions(a.id, [s1.session.id, other.session.id], later(1), [event])).resolves.toBe(1);
        await expect(store.activeSessionIds(a.id, later(60))).resolves.toEqual([s2.session.id]);
        await expect(store.activeSessionIds(b.id, later(60))).resolves.toEqual([other.session.id]);
        // Again: nothing newly revoked, the event still written (a retried logout publishes).
        await expect(store.revokeSessions(a.id, [s1.session.id], later(2), [event])).resolves.toBe(0);
        const revoked = (await outbox.pendingEvents(10)).filter((e) => e.envelope.type === 'auth.session.revoked');
        expect(revoked).toHaveLength(2);
        const payload = SessionsRevoked.decode(revoked[0]?.envelope.payload?.value ?? new Uint8Array());
        expect([payload.userId, payload.sessionIds]).toEqual([a.id, [s1.session.id]]);
      });
    });

    describe('OAuth attempts', () => {
      const keep = { now: t0, maxPending: 1000 };

      it('hands an attempt out once, and never after it expired', async () => {
        const live = attempt(later(600));
        await store.saveOAuthAttempt(live, keep);
        const [one, two] = await Promise.all([
          store.takeOAuthAttempt(live.stateHash, t0),
          store.takeOAuthAttempt(live.stateHash, t0),
        ]);
        expect([one, two].filter((x) => x !== undefined)).toEqual([live]);
        await expect(store.takeOAuthAttempt(live.stateHash, t0)).resolves.toBeUndefined();
        const old = attempt(later(600));
        await store.saveOAuthAttempt(old, keep);
        await expect(store.takeOAuthAttempt(old.stateHash, later(600))).resolves.toBeUndefined();
      });

      it('deletes expired attempts, and the oldest beyond the bound, as it saves one', async () => {
        const expired = attempt(later(60));
        await store.saveOAuthAttempt(expired, keep);
        const [a, b, c] = [attempt(later(600)), attempt(later(601)), attempt(later(602))];
        for (const x of [a, b, c]) await store.saveOAuthAttempt(x, { now: later(60), maxPending: 2 });
        // Saved at a time it had expired: gone, and not counted; then `a`, the oldest, made room for `c`.
        await expect(store.takeOAuthAttempt(expired.stateHash, t0)).resolves.toBeUndefined();
        await expect(store.takeOAuthAttempt(a.stateHash, later(60))).resolves.toBeUndefined();
        await expect(store.takeOAuthAttempt(b.stateHash, later(60))).resolves.toEqual(b);
        await expect(store.takeOAuthAttempt(c.stateHash, later(60))).resolves.toEqual(c);
      });
    });

    describe('email tokens', () => {
      it('keeps one token per account and purpose: a new one replaces the old, unless the old is too recent', async () => {
        const { account: a } = await add('ann@example.com');
        const first = emailToken(a);
        await expect(store.issueEmailToken(first, t0)).resolves.toBe(true);
        await expect(store.findEmailToken(first.hash, t0)).resolves.toEqual(first);
        // Another purpose is another slot.
        const reset = emailToken(a, 'reset_password');
        await expect(store.issueEmailToken(reset, t0)).resolves.toBe(true);
        // Sooner than allowed: refused, the first stays.
        const tooSoon = emailToken(a, 'verify_email', later(30));
        await expect(store.issueEmailToken(tooSoon, later(-30))).resolves.toBe(false);
        await expect(store.findEmailToken(tooSoon.hash, later(30))).resolves.toBeUndefined();
        await expect(store.findEmailToken(first.hash, later(30))).resolves.toEqual(first);
        // Later: it replaces the first.
        const second = emailToken(a, 'verify_email', later(90));
        await expect(store.issueEmailToken(second, later(30))).resolves.toBe(true);
        await expect(store.findEmailToken(first.hash, later(90))).resolves.toBeUndefined();
        await expect(store.findEmailToken(second.hash, later(90))).resolves.toEqual(second);
        await expect(store.findEmailToken(reset.hash, later(90))).resolves.toEqual(reset);
        // Expired: not found.
        await expect(store.findEmailToken(reset.hash, later(DAY))).resolves.toBeUndefined();
        await store.discardEmailToken(second.hash);
        await expect(store.findEmailToken(second.hash, later(90))).resolves.toBeUndefined();
        // Once discarded, a new one may be issued at once.
        await expect(store.issueEmailToken(emailToken(a, 'verify_email', later(91)), later(91))).resolves.toBe(true);
      });

      it('redeems a token once, with the account change and its events, in one step', async () => {
        const { account: a } = await add('ann@example.com');
        const token = emailToken(a);
        await store.issueEmailToken(token, t0);
        const verified: Account = { ...a, emailVerified: true, role: 'admin', updateTime: later(1), version: 2 };
        const promoted: AuthEvent[] = [
          {
            kind: 'role_changed',
            userId: a.id,
            before: 'user',
            after: 'admin',
            changedBy: '',
            time: t0,
            requestId: 'r',
          },
        ];
        // A stale version: nothing happens, the token stays.
        const stale = await errorOf(
          store.redeemEmailToken({ token, account: { ...verified, version: 3 }, now: later(1) }, promoted),
        );
        expect(isStoreError(stale, 'conflict')).toBe(true);
        await expect(store.getAccount(a.id)).resolves.toEqual(a);
        await expect(store.findEmailToken(token.hash, later(1))).resolves.toEqual(token);

        await expect(store.redeemEmailToken({ token, account: verified, now: later(1) }, promoted)).resolves.toEqual({
          endedSessionIds: [],
        });
        await expect(store.getAccount(a.id)).resolves.toEqual(verified);
        await expect(store.findEmailToken(token.hash, later(1))).resolves.toBeUndefined();
        const again = await errorOf(
          store.redeemEmailToken({ token, account: { ...verified, version: 3 }, now: later(2) }, promoted),
        );
        expect(isStoreError(again, 'not_found')).toBe(true);
        expect(await pendingTypes()).toEqual(['auth.account.created', 'auth.account.role_changed']);
      });

      it('lets one of two concurrent redemptions of a token win', async () => {
        const { account: a } = await add('ann@example.com');
        const token = emailToken(a);
        await store.issueEmailToken(token, t0);
        const next = { ...a, emailVerified: true, version: 2 };
        const results = await Promise.allSettled([
          store.redeemEmailToken({ token, account: next, now: later(1) }, []),
          store.redeemEmailToken({ token, account: next, now: later(1) }, []),
        ]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const failed = results.find((r) => r.status === 'rejected');
        expect(isStoreError(failed?.reason, 'not_found') || isStoreError(failed?.reason, 'conflict')).toBe(true);
      });

      it('ends every active session of the account with a reset, and only those', async () => {
        const { account: a, session: s1 } = await add('ann@example.com');
        const { account: b, session: other } = await add('bob@example.com');
        const s2 = newSession(a.id);
        await store.openSession({ session: s2 }, []);
        const token = emailToken(a, 'reset_password');
        await store.issueEmailToken(token, t0);
        const reset = { ...a, passwordHash: '$scrypt$ln=2,r=1,p=1$c2FsdA$bmV3aGFzaG5ld2hhc2huZXdoYXNo', version: 2 };
        const ended = await store.redeemEmailToken(
          { token, account: reset, now: later(1) },
          [],
          revoked(a.id, 'password_reset', true),
        );
        expect([...ended.endedSessionIds].sort()).toEqual([s1.session.id, s2.session.id].sort());
        const event = (await outbox.pendingEvents(10)).find((e) => e.envelope.type === 'auth.session.revoked');
        const payload = SessionsRevoked.decode(event?.envelope.payload?.value ?? new Uint8Array());
        expect([...payload.sessionIds].sort()).toEqual([s1.session.id, s2.session.id].sort());
        await expect(store.activeSessionIds(a.id, later(2))).resolves.toEqual([]);
        await expect(store.activeSessionIds(b.id, later(2))).resolves.toEqual([other.session.id]);
        await expect(store.getAccount(a.id)).resolves.toMatchObject({ passwordHash: reset.passwordHash, version: 2 });
        await expect(store.rotateRefreshToken(s1.refreshToken.hash, next(1), later(3))).resolves.toEqual({
          kind: 'invalid',
          why: 'revoked',
        });
        expect(await pendingTypes()).toEqual(['auth.account.created', 'auth.account.created', 'auth.session.revoked']);
      });
    });

    describe('user deletion', () => {
      it('removes account, identities and sessions once per event id, with events for the active sessions', async () => {
        const { account: a, session: s1 } = await add('ann@example.com');
        const id = identity(a.id);
        const s2 = newSession(a.id);
        await store.openSession({ session: s2, identity: id }, []);
        await store.revokeSessions(a.id, [s2.session.id], t0, []);
        const tokenOfA = emailToken(a, 'reset_password');
        await store.issueEmailToken(tokenOfA, t0);
        const { account: b } = await add('bob@example.com');
        const seen: (readonly string[])[] = [];
        const events = (ids: readonly string[]): AuthEvent[] => {
          seen.push(ids);
          return [
            {
              kind: 'sessions_revoked',
              userId: a.id,
              sessionIds: ids,
              all: true,
              reason: 'user_deleted',
              time: t0,
              requestId: 'r',
            },
          ];
        };
        const eventId = randomUUID();
        await expect(store.removeUser(a.id, eventId, t0, events)).resolves.toEqual({
          applied: true,
          activeSessionIds: [s1.session.id],
        });
        expect(seen.at(-1)).toEqual([s1.session.id]);
        await expect(store.getAccount(a.id)).resolves.toBeUndefined();
        await expect(store.findAccountByEmail('ann@example.com')).resolves.toBeUndefined();
        await expect(store.findIdentity('example', id.subject)).resolves.toBeUndefined();
        await expect(store.rotateRefreshToken(s1.refreshToken.hash, next(1), t0)).resolves.toMatchObject({
          kind: 'invalid',
        });
        await expect(store.getAccount(b.id)).resolves.toEqual(b);
        await expect(store.findEmailToken(tokenOfA.hash, t0)).resolves.toBeUndefined();

        await expect(store.removeUser(a.id, eventId, t0, events)).resolves.toEqual({
          applied: false,
          activeSessionIds: [],
        });
        const types = await pendingTypes();
        expect(types.filter((t) => t === 'auth.session.revoked')).toHaveLength(1);
        // The email is free again.
        await add('ann@example.com');
        // Another event for a user with nothing left still counts as processed.
        await expect(store.removeUser(randomUUID(), randomUUID(), t0, () => [])).resolves.toEqual({
          applied: true,
          activeSessionIds: [],
        });
      });
    });
  });
}
