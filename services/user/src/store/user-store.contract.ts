// The behaviour every UserStore adapter must show; run by memory-user-store.spec.ts
// always and by mongo-user-store.spec.ts when MONGODB_URL is set. The adapters
// get their events through the service's own encoding, so the outbox entries
// checked here are those production writes.
import { randomUUID } from 'node:crypto';
import { UserCreated, UserDeleted, UserUpdated } from '@messenger/gen/messenger/user/v1/events';
import type { OutboxSource } from '@messenger/platform/events';
import type { UserEvent, UserProfile } from '../domain/user.ts';
import { isStoreError, type UserStorage } from '../domain/user-storage.ts';
import { userEventEntry } from '../events/user-events.ts';
import { type UserStore, withEventEncoding } from './user-store.ts';

export interface UserStoreFixture {
  readonly store: UserStore;
  close(): Promise<void>;
}

export function userStoreContract(name: string, make: () => Promise<UserStoreFixture>): void {
  describe(`UserStore contract: ${name}`, () => {
    let fixture: UserStoreFixture;
    let store: UserStorage;
    let outbox: OutboxSource;

    beforeEach(async () => {
      fixture = await make();
      store = withEventEncoding(fixture.store, userEventEntry);
      outbox = fixture.store.outbox;
    });
    afterEach(async () => {
      await fixture.close();
    });

    const t0 = new Date('2025-01-02T03:04:05.678Z');
    const profile = (nickname: string, over: Partial<UserProfile> = {}): UserProfile => ({
      id: randomUUID(),
      nickname,
      about: '',
      avatarUrl: '',
      createTime: t0,
      updateTime: t0,
      version: 1,
      ...over,
    });
    const created = (user: UserProfile): UserEvent[] => [{ kind: 'created', user, requestId: 'r' }];
    const add = async (nickname: string) => {
      const user = profile(nickname);
      await store.insert(user, created(user));
      return user;
    };
    const errorOf = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => e,
      );
    const pendingTypes = async () => (await outbox.pendingEvents(100)).map((e) => e.envelope.type);

    it('stores a profile and reads it back', async () => {
      const user = profile('Alice', { about: 'hi', avatarUrl: 'https://example.com/a.png' });
      await store.insert(user, created(user));
      await expect(store.get(user.id)).resolves.toEqual(user);
      await expect(store.get(randomUUID())).resolves.toBeUndefined();
    });

    it('refuses a second profile with the same id or the same nickname in another case', async () => {
      const alice = await add('Alice');
      expect(isStoreError(await errorOf(store.insert(profile('bob', { id: alice.id }), [])), 'duplicate')).toBe(true);
      expect(isStoreError(await errorOf(store.insert(profile('aLiCe'), [])), 'duplicate')).toBe(true);
    });

    it('lets exactly one of two concurrent inserts of one nickname win', async () => {
      const a = profile('race');
      const b = profile('RACE');
      const results = await Promise.allSettled([store.insert(a, created(a)), store.insert(b, created(b))]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const failed = results.find((r) => r.status === 'rejected');
      expect(isStoreError(failed?.reason, 'duplicate')).toBe(true);
      expect(await pendingTypes()).toEqual(['user.user.created']);
    });

    it('writes the events of a change to the outbox, in order, and only when the change happens', async () => {
      const alice = await add('alice');
      await errorOf(store.insert(profile('ALICE'), created(profile('x'))));
      const after = { ...alice, about: 'new', version: 2 };
      await store.update(after, [{ kind: 'updated', before: alice, after, changed: ['about'], requestId: 'r2' }]);
      await errorOf(store.update({ ...after, about: 'stale' }, created(alice)));
      await store.delete(alice.id, 2, [{ kind: 'deleted', before: after, requestId: 'r3' }]);
      await errorOf(store.delete(alice.id, 2, created(alice)));

      const pending = await outbox.pendingEvents(100);
      expect(pending.map((e) => [e.topic, e.envelope.type, e.envelope.key])).toEqual([
        ['user.events', 'user.user.created', alice.id],
        ['user.events', 'user.user.updated', alice.id],
        ['user.events', 'user.user.deleted', alice.id],
      ]);
      const [c, u, d] = pending.map((e) => e.envelope.payload?.value ?? new Uint8Array());
      expect(UserCreated.decode(c as Uint8Array).user?.nickname).toBe('alice');
      const updated = UserUpdated.decode(u as Uint8Array);
      expect([updated.before?.about, updated.after?.about, updated.changed]).toEqual(['', 'new', ['about']]);
      expect(UserDeleted.decode(d as Uint8Array).before?.about).toBe('new');

      await outbox.markPublished(pending.slice(0, 2).map((e) => e.envelope.id));
      expect(await pendingTypes()).toEqual(['user.user.deleted']);
      await expect(outbox.pendingEvents(1)).resolves.toHaveLength(1);
    });

    it('wakes the outbox relay once a write with events commits, not for one that fails or has none', async () => {
      let wakes = 0;
      const stop = outbox.onCommit(() => {
        wakes++;
      });
      const alice = await add('alice');
      expect(wakes).toBe(1);
      await errorOf(store.insert(profile('ALICE'), created(profile('x'))));
      await store.update({ ...alice, about: 'quiet', version: 2 }, []);
      expect(wakes).toBe(1);
      stop();
      await add('bob');
      expect(wakes).toBe(1);
    });

    it('updates only from the expected version', async () => {
      const alice = await add('alice');
      const next = { ...alice, nickname: 'ALICE', about: 'x', version: 2 };
      await store.update(next, []);
      await expect(store.get(alice.id)).resolves.toEqual(next);
      expect(isStoreError(await errorOf(store.update({ ...next, about: 'y' }, [])), 'conflict')).toBe(true);
      expect(isStoreError(await errorOf(store.update(profile('ghost', { version: 2 }), [])), 'conflict')).toBe(true);
    });

    it('moves the unique nickname on rename and refuses one taken by another profile', async () => {
      const alice = await add('alice');
      const bob = await add('bob');
      const taken = { ...bob, nickname: 'Alice', version: 2 };
      expect(isStoreError(await errorOf(store.update(taken, [])), 'duplicate')).toBe(true);
      await expect(store.get(bob.id)).resolves.toEqual(bob);
      await store.update({ ...alice, nickname: 'alice2', version: 2 }, []);
      await store.update(taken, []);
      await expect(store.get(bob.id)).resolves.toMatchObject({ nickname: 'Alice' });
    });

    it('deletes only at the expected version and frees the nickname', async () => {
      const alice = await add('alice');
      expect(isStoreError(await errorOf(store.delete(alice.id, 7, [])), 'conflict')).toBe(true);
      await store.delete(alice.id, 1, []);
      await expect(store.get(alice.id)).resolves.toBeUndefined();
      expect(isStoreError(await errorOf(store.delete(alice.id, 1, [])), 'conflict')).toBe(true);
      await add('ALICE');
    });

    it('reads several profiles, skipping the missing', async () => {
      const a = await add('aaa');
      const b = await add('bbb');
      const found = await store.getMany([b.id, randomUUID(), a.id]);
      expect(found.map((u) => u.id).sort()).toEqual([a.id, b.id].sort());
      await expect(store.getMany([])).resolves.toEqual([]);
    });

    it('searches a normalized nickname prefix in nickname order, page by page', async () => {
      for (const n of ['Alina', 'alice', 'ALBERT', 'al_x', 'al.y', 'al0', 'am', 'ak', 'bal', 'a']) await add(n);
      const names = (users: UserProfile[]) => users.map((u) => u.nickname);
      const all = await store.searchByNickname('al', undefined, 100);
      expect(names(all)).toEqual(['al.y', 'al0', 'al_x', 'ALBERT', 'alice', 'Alina']);
      const first = await store.searchByNickname('al', undefined, 2);
      expect(names(first)).toEqual(['al.y', 'al0']);
      const second = await store.searchByNickname('al', { nicknameLower: 'al0', id: first[1]?.id ?? '' }, 2);
      expect(names(second)).toEqual(['al_x', 'ALBERT']);
      const last = await store.searchByNickname('al', { nicknameLower: 'alina', id: all[5]?.id ?? '' }, 2);
      expect(last).toEqual([]);
      expect(names(await store.searchByNickname('alice', undefined, 10))).toEqual(['alice']);
      expect(names(await store.searchByNickname('z', undefined, 10))).toEqual([]);
    });
  });
}
