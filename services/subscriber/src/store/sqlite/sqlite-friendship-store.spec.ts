import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { outboxSchema, SqliteDatabase } from '@messenger/platform/sqlite';
import { openQueryPlans } from '@messenger/platform/testing';
import { type Block, type Friendship, pairIdOf } from '../../domain/friendship.ts';
import { listKeyOf } from '../../domain/friendship-storage.ts';
import { friendshipEventEntry } from '../../events/friendship-events.ts';
import { friendshipStoreContract } from '../friendship-store.contract.ts';
import { withEventEncoding } from '../friendship-store.ts';
import { COLUMNS, FRIENDSHIP_SQL, friendshipSchema, SqliteFriendshipStore } from './sqlite-friendship-store.ts';

friendshipStoreContract('SqliteFriendshipStore', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-friendship-store-'));
  const store = SqliteFriendshipStore.open(join(dir, 'subscriber.db'));
  return {
    store,
    close: async () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteFriendshipStore file', () => {
  it('keeps friendships, blocks, processed event ids and unpublished events across a reopen of its file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sqlite-friendship-store-'));
    const file = join(dir, 'subscriber.db');
    try {
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      const t = new Date('2025-01-02T03:04:05.678Z');
      const friends: Friendship = {
        requesterId: a,
        addresseeId: b,
        state: 'confirmed',
        createTime: t,
        updateTime: new Date(t.getTime() + 1000),
        version: 2,
      };
      const request: Friendship = { ...friends, addresseeId: c, state: 'pending', updateTime: t, version: 1 };
      const first = SqliteFriendshipStore.open(file);
      const encoded = withEventEncoding(first, friendshipEventEntry);
      await encoded.insert(friends, [{ kind: 'confirmed', after: friends, time: t, requestId: 'r' }]);
      await encoded.insert(request, [{ kind: 'requested', after: request, time: t, requestId: 'r' }]);
      const block: Block = { blockerId: b, blockedId: c, createTime: t };
      await expect(first.block(block, undefined, [], 10)).resolves.toEqual({ block, created: true });
      const eventId = randomUUID();
      await expect(first.removeAllOf(randomUUID(), eventId, t, () => [])).resolves.toEqual({
        applied: true,
        removed: 0,
      });
      first.close();

      const second = SqliteFriendshipStore.open(file);
      try {
        await expect(second.get(b, a)).resolves.toEqual(friends);
        await expect(second.listFor(a, undefined, undefined, 10)).resolves.toEqual([friends, request]);
        await expect(second.listFor(c, 'incoming', undefined, 10)).resolves.toEqual([request]);
        await expect(second.blocksBetween(c, b)).resolves.toEqual([block]);
        await expect(second.listBlocks(b, undefined, 10)).resolves.toEqual([block]);
        await expect(second.removeAllOf(randomUUID(), eventId, t, () => [])).resolves.toEqual({
          applied: false,
          removed: 0,
        });
        expect((await second.outbox.pendingEvents(10)).map((e) => e.envelope.type)).toEqual([
          'subscriber.friendship.confirmed',
          'subscriber.friendship.requested',
        ]);
      } finally {
        second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SqliteFriendshipStore upgrade', () => {
  it('opens a file written before blocking existed, keeping its friendships and storing blocks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sqlite-friendship-store-'));
    const file = join(dir, 'subscriber.db');
    try {
      const [a, b] = [randomUUID(), randomUUID()];
      const t = new Date('2025-01-02T03:04:05.678Z');
      const request: Friendship = {
        requesterId: a,
        addresseeId: b,
        state: 'pending',
        createTime: t,
        updateTime: t,
        version: 1,
      };
      // The file as the store's first migration left it, with a request in it.
      const before = { ...friendshipSchema, migrations: friendshipSchema.migrations.slice(0, 1) };
      SqliteDatabase.open(file, [outboxSchema, before]).close();
      const old = new DatabaseSync(file);
      try {
        old
          .prepare(`INSERT INTO friendships (pair_id, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
          .run(pairIdOf(a, b), a, b, 'pending', t.getTime(), t.getTime(), 1, listKeyOf(request));
      } finally {
        old.close();
      }

      const store = SqliteFriendshipStore.open(file);
      try {
        await expect(store.get(a, b)).resolves.toEqual(request);
        const block: Block = { blockerId: b, blockedId: a, createTime: new Date(t.getTime() + 1000) };
        await expect(store.block(block, request, [], 10)).resolves.toEqual({ block, created: true });
        await expect(store.get(a, b)).resolves.toBeUndefined();
        await expect(store.blocksBetween(a, b)).resolves.toEqual([block]);
      } finally {
        store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SqliteFriendshipStore statements', () => {
  it('reads and writes through indexes: no statement scans a table', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sqlite-friendship-store-'));
    const file = join(dir, 'subscriber.db');
    try {
      SqliteFriendshipStore.open(file).close();
      const plans = openQueryPlans(file);
      const { plan } = plans;
      try {
        expect(plans.tableScans(FRIENDSHIP_SQL)).toEqual([]);
        // Every list is ranges of (side, state, list_key) below the cursor.
        expect(plan(FRIENDSHIP_SQL.listAll).filter((line) => line.startsWith('SEARCH'))).toEqual([
          expect.stringMatching(/friendships_requester_list \(requester_id=\? AND state=\? AND list_key<\?\)$/),
          expect.stringMatching(/friendships_requester_list \(requester_id=\? AND state=\? AND list_key<\?\)$/),
          expect.stringMatching(/friendships_addressee_list \(addressee_id=\? AND state=\? AND list_key<\?\)$/),
          expect.stringMatching(/friendships_addressee_list \(addressee_id=\? AND state=\? AND list_key<\?\)$/),
        ]);
        // A block list is one range of (blocker, list_key) below the cursor, read in list order.
        expect(plan(FRIENDSHIP_SQL.listBlocks)).toEqual([
          expect.stringMatching(/blocks_blocker_list \(blocker_id=\? AND list_key<\?\)$/),
        ]);
        // A deleted user's blocks are found from both sides by index.
        expect(plan(FRIENDSHIP_SQL.deleteBlocksOfUser).filter((line) => line.startsWith('SEARCH'))).toEqual([
          expect.stringMatching(/\(blocker_id=\?\)$/),
          expect.stringMatching(/blocks_blocked \(blocked_id=\?\)$/),
        ]);
      } finally {
        plans.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
