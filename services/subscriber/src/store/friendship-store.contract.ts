// The behaviour every FriendshipStore adapter must show; run by
// memory-friendship-store.spec.ts and sqlite-friendship-store.spec.ts always
// and by mongo-friendship-store.spec.ts when MONGODB_URL is set. The adapters get their events through the
// service's own encoding, so the outbox entries checked here are those
// production writes.
import { randomUUID } from 'node:crypto';
import { FriendRemoved, FriendRequested } from '@messenger/gen/messenger/subscriber/v1/events';
import { FriendshipStatus } from '@messenger/gen/messenger/subscriber/v1/subscriber';
import type { OutboxSource } from '@messenger/platform/events';
import { type Block, type Friendship, type FriendshipEvent, pairIdOf } from '../domain/friendship.ts';
import { blockKeyOf, type FriendshipStorage, isStoreError, listKeyOf } from '../domain/friendship-storage.ts';
import { friendshipEventEntry } from '../events/friendship-events.ts';
import { type FriendshipStore, withEventEncoding } from './friendship-store.ts';

export interface FriendshipStoreFixture {
  readonly store: FriendshipStore;
  close(): Promise<void>;
}

export function friendshipStoreContract(name: string, make: () => Promise<FriendshipStoreFixture>): void {
  describe(`FriendshipStore contract: ${name}`, () => {
    let fixture: FriendshipStoreFixture;
    let store: FriendshipStorage;
    let outbox: OutboxSource;

    beforeEach(async () => {
      fixture = await make();
      store = withEventEncoding(fixture.store, friendshipEventEntry);
      outbox = fixture.store.outbox;
    });
    afterEach(async () => {
      await fixture.close();
    });

    let clock = Date.parse('2025-01-01T00:00:00.000Z');
    const tick = () => {
      clock += 1000;
      return new Date(clock);
    };
    const pending = (requesterId: string, addresseeId: string): Friendship => {
      const t = tick();
      return { requesterId, addresseeId, state: 'pending', createTime: t, updateTime: t, version: 1 };
    };
    const requested = (f: Friendship): FriendshipEvent[] => [
      { kind: 'requested', after: f, time: f.createTime, requestId: 'r' },
    ];
    const confirmed = (f: Friendship): Friendship => ({
      ...f,
      state: 'confirmed',
      updateTime: tick(),
      version: f.version + 1,
    });
    const errorOf = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => e,
      );
    const add = async (f: Friendship) => {
      await store.insert(f, requested(f));
      return f;
    };

    it('keeps one record per unordered pair, read either way round', async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      const f = await add(pending(a, b));
      await expect(store.get(a, b)).resolves.toEqual(f);
      await expect(store.get(b, a)).resolves.toEqual(f);
      await expect(store.get(a, randomUUID())).resolves.toBeUndefined();
      expect(isStoreError(await errorOf(store.insert(pending(b, a), [])), 'duplicate')).toBe(true);
      expect(isStoreError(await errorOf(store.insert(pending(a, b), [])), 'duplicate')).toBe(true);
    });

    it('lets exactly one of two crossing concurrent inserts win', async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      const ab = pending(a, b);
      const ba = pending(b, a);
      const results = await Promise.allSettled([store.insert(ab, requested(ab)), store.insert(ba, requested(ba))]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(isStoreError(results.find((r) => r.status === 'rejected')?.reason, 'duplicate')).toBe(true);
      await expect(outbox.pendingEvents(10)).resolves.toHaveLength(1);
    });

    it('updates and deletes only at the expected version', async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      const f = await add(pending(a, b));
      const friends = confirmed(f);
      await store.update(friends, []);
      await expect(store.get(b, a)).resolves.toEqual(friends);
      expect(isStoreError(await errorOf(store.update(confirmed(f), [])), 'conflict')).toBe(true);
      expect(isStoreError(await errorOf(store.delete(friends, 1, [])), 'conflict')).toBe(true);
      await store.delete(friends, 2, []);
      await expect(store.get(a, b)).resolves.toBeUndefined();
      expect(isStoreError(await errorOf(store.delete(friends, 2, [])), 'conflict')).toBe(true);
      expect(isStoreError(await errorOf(store.update(confirmed(friends), [])), 'conflict')).toBe(true);
    });

    it('writes the events of a change to the outbox, in order, and only when the change happens', async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      const f = await add(pending(a, b));
      await errorOf(store.insert(pending(b, a), requested(pending(b, a))));
      const time = tick();
      await store.delete(f, 1, [{ kind: 'removed', before: f, removedBy: a, time, requestId: 'r2' }]);
      await errorOf(store.delete(f, 1, [{ kind: 'removed', before: f, removedBy: a, time, requestId: 'r3' }]));

      const entries = await outbox.pendingEvents(100);
      expect(entries.map((e) => [e.topic, e.envelope.type, e.envelope.key])).toEqual([
        ['subscriber.events', 'subscriber.friendship.requested', pairIdOf(a, b)],
        ['subscriber.events', 'subscriber.friendship.removed', pairIdOf(a, b)],
      ]);
      const [req, rem] = entries.map((e) => e.envelope.payload?.value ?? new Uint8Array());
      expect(FriendRequested.decode(req as Uint8Array)).toEqual({
        requesterId: a,
        addresseeId: b,
        requestTime: f.createTime,
      });
      expect(FriendRemoved.decode(rem as Uint8Array)).toEqual({
        requesterId: a,
        addresseeId: b,
        beforeStatus: FriendshipStatus.FRIENDSHIP_STATUS_OUTGOING,
        removedById: a,
      });
      await outbox.markPublished([entries[0]?.envelope.id ?? '']);
      const left = await outbox.pendingEvents(100);
      expect(left.map((e) => e.envelope.type)).toEqual(['subscriber.friendship.removed']);
    });

    it('wakes the outbox relay once a write with events commits, not for one that fails, has none or repeats', async () => {
      let wakes = 0;
      const stop = outbox.onCommit(() => {
        wakes++;
      });
      const [a, b] = [randomUUID(), randomUUID()];
      const f = await add(pending(a, b));
      expect(wakes).toBe(1);
      await errorOf(store.insert(pending(b, a), requested(pending(b, a))));
      await store.update(confirmed(f), []);
      expect(wakes).toBe(1);
      const eventId = randomUUID();
      const removed = (gone: readonly Friendship[]): FriendshipEvent[] =>
        gone.map((before) => ({ kind: 'removed', before, removedBy: a, time: tick(), requestId: 'r' }));
      await store.removeAllOf(a, eventId, tick(), removed);
      expect(wakes).toBe(2);
      await store.removeAllOf(a, eventId, tick(), removed);
      expect(wakes).toBe(2);
      stop();
      await add(pending(a, b));
      expect(wakes).toBe(2);
    });

    it("removes all of a user's records with their events and the event id in one step, once per event id", async () => {
      const [gone, a, b, c] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      await add(pending(gone, a));
      await store.update(confirmed(await add(pending(b, gone))), []);
      const kept = await add(pending(a, b));
      await outbox.markPublished((await outbox.pendingEvents(100)).map((e) => e.envelope.id));
      const time = tick();
      const removedEvents = (removed: readonly Friendship[]): FriendshipEvent[] =>
        removed.map((before) => ({ kind: 'removed', before, removedBy: gone, time, requestId: 'r' }));

      const eventId = randomUUID();
      await expect(store.removeAllOf(gone, eventId, time, removedEvents)).resolves.toEqual({
        applied: true,
        removed: 2,
      });
      await expect(store.listFor(gone, undefined, undefined, 10)).resolves.toEqual([]);
      await expect(store.get(a, b)).resolves.toEqual(kept);
      const keys = async () => (await outbox.pendingEvents(100)).map((e) => [e.envelope.type, e.envelope.key]);
      expect((await keys()).sort()).toEqual(
        [
          ['subscriber.friendship.removed', pairIdOf(gone, a)],
          ['subscriber.friendship.removed', pairIdOf(gone, b)],
        ].sort(),
      );

      // The same event again (a redelivery) has no effect, even with a record to remove.
      const late = await add(pending(c, gone));
      await expect(store.removeAllOf(gone, eventId, tick(), removedEvents)).resolves.toEqual({
        applied: false,
        removed: 0,
      });
      await expect(store.get(gone, c)).resolves.toEqual(late);
      expect(await keys()).toHaveLength(3);
      // Another event is another effect.
      await expect(store.removeAllOf(gone, randomUUID(), tick(), removedEvents)).resolves.toEqual({
        applied: true,
        removed: 1,
      });
      await expect(store.get(gone, c)).resolves.toBeUndefined();
      // One with nothing to remove still counts as processed.
      await expect(store.removeAllOf(randomUUID(), randomUUID(), tick(), () => [])).resolves.toEqual({
        applied: true,
        removed: 0,
      });
    });

    it("lists a user's records newest change first, by status seen from that user, page by page", async () => {
      const me = randomUUID();
      const [u1, u2, u3, u4] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      const out1 = await add(pending(me, u1)); // outgoing
      const in2 = await add(pending(u2, me)); // incoming
      const friend3 = confirmed(await add(pending(u3, me)));
      await store.update(friend3, []); // confirmed, changed last
      await add(pending(u1, u4)); // not mine
      const out4 = await add(pending(me, u4)); // outgoing, newest request

      const ids = (fs: Friendship[], viewer = me) =>
        fs.map((f) => (f.requesterId === viewer ? f.addresseeId : f.requesterId));
      expect(ids(await store.listFor(me, undefined, undefined, 10))).toEqual([u4, u3, u2, u1]);
      expect(ids(await store.listFor(me, 'outgoing', undefined, 10))).toEqual([u4, u1]);
      expect(ids(await store.listFor(me, 'incoming', undefined, 10))).toEqual([u2]);
      expect(ids(await store.listFor(me, 'confirmed', undefined, 10))).toEqual([u3]);
      expect(ids(await store.listFor(u3, 'confirmed', undefined, 10), u3)).toEqual([me]);
      expect(ids(await store.listFor(u2, 'outgoing', undefined, 10), u2)).toEqual([me]);

      const first = await store.listFor(me, undefined, undefined, 2);
      expect(ids(first)).toEqual([u4, u3]);
      const second = await store.listFor(me, undefined, listKeyOf(friend3), 2);
      expect(ids(second)).toEqual([u2, u1]);
      await expect(store.listFor(me, undefined, listKeyOf(out1), 2)).resolves.toEqual([]);
      await expect(store.listFor(me, 'outgoing', listKeyOf(out4), 10)).resolves.toEqual([out1]);
      expect(in2.state).toBe('pending');
    });

    const blockOf = (blockerId: string, blockedId: string): Block => ({ blockerId, blockedId, createTime: tick() });

    it("blocks once, ending the pair's record with its events in the same step; a repeat changes nothing", async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      const f = await add(pending(b, a));
      await outbox.markPublished((await outbox.pendingEvents(100)).map((e) => e.envelope.id));
      const ab = blockOf(a, b);
      const declined: FriendshipEvent[] = [{ kind: 'declined', before: f, time: ab.createTime, requestId: 'r' }];
      await expect(store.block(ab, f, declined, 10)).resolves.toEqual({ block: ab, created: true });
      await expect(store.get(a, b)).resolves.toBeUndefined();
      await expect(store.blocksBetween(b, a)).resolves.toEqual([ab]);
      await expect(store.block(blockOf(a, b), undefined, declined, 10)).resolves.toEqual({ block: ab, created: false });
      const types = (await outbox.pendingEvents(100)).map((e) => e.envelope.type);
      expect(types).toEqual(['subscriber.friendship.declined']);
      // Each side's block is its own; both may block.
      const ba = blockOf(b, a);
      await store.block(ba, undefined, [], 10);
      expect((await store.blocksBetween(a, b)).map((x) => x.blockerId).sort()).toEqual([a, b].sort());
      await expect(store.unblock(a, b)).resolves.toBe(true);
      await expect(store.unblock(a, b)).resolves.toBe(false);
      await expect(store.blocksBetween(a, b)).resolves.toEqual([ba]);
    });

    it('refuses a block whose record to end changed, and one past the limit, changing nothing', async () => {
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      const f = await add(pending(a, b));
      const friends = confirmed(f);
      await store.update(friends, []);
      expect(isStoreError(await errorOf(store.block(blockOf(a, b), f, [], 10)), 'conflict')).toBe(true);
      await expect(store.blocksBetween(a, b)).resolves.toEqual([]);
      await expect(store.get(a, b)).resolves.toEqual(friends);
      await store.block(blockOf(a, c), undefined, [], 1);
      expect(isStoreError(await errorOf(store.block(blockOf(a, b), friends, [], 1)), 'limit')).toBe(true);
      await expect(store.get(a, b)).resolves.toEqual(friends);
      await expect(store.blocksBetween(a, b)).resolves.toEqual([]);
    });

    it("lists a user's blocks newest first, page by page, and no one else's", async () => {
      const me = randomUUID();
      const [u1, u2, u3] = [randomUUID(), randomUUID(), randomUUID()];
      const b1 = blockOf(me, u1);
      const b2 = blockOf(me, u2);
      const b3 = blockOf(me, u3);
      for (const b of [b1, b2, b3, blockOf(u1, me)]) await store.block(b, undefined, [], 10);
      await expect(store.listBlocks(me, undefined, 10)).resolves.toEqual([b3, b2, b1]);
      await expect(store.listBlocks(me, undefined, 2)).resolves.toEqual([b3, b2]);
      await expect(store.listBlocks(me, blockKeyOf(b2), 2)).resolves.toEqual([b1]);
      await expect(store.listBlocks(u2, undefined, 10)).resolves.toEqual([]);
    });

    it("removes a removed user's blocks, both theirs and of them, with their records", async () => {
      const [gone, a, b] = [randomUUID(), randomUUID(), randomUUID()];
      const kept = blockOf(a, b);
      for (const x of [blockOf(gone, a), blockOf(b, gone), kept]) await store.block(x, undefined, [], 10);
      await store.removeAllOf(gone, randomUUID(), tick(), () => []);
      await expect(store.listBlocks(gone, undefined, 10)).resolves.toEqual([]);
      await expect(store.blocksBetween(b, gone)).resolves.toEqual([]);
      await expect(store.listBlocks(a, undefined, 10)).resolves.toEqual([kept]);
    });
  });
}
