import { describeWithMongo, expectIndexScan } from '@messenger/platform/testing';
import { MongoServerError } from 'mongodb';
import { isStoreError } from '../../domain/chat-storage.ts';
import { attachmentStoreContract } from '../chat-store.attachments.contract.ts';
import { chatStoreContract } from '../chat-store.contract.ts';
import { inviteStoreContract } from '../chat-store.invites.contract.ts';
import { pinStoreContract } from '../chat-store.pins.contract.ts';
import { reactionStoreContract } from '../chat-store.reactions.contract.ts';
import { chatStoreMentionsContract } from '../chat-store-mentions.contract.ts';
import { chatStoreSettingsContract } from '../chat-store-settings.contract.ts';
import {
  type ChatDoc,
  chatListQuery,
  directChatQuery,
  historyQuery,
  type MessageDoc,
  MongoChatStore,
  pinsQuery,
  searchPipeline,
  translateError,
  unreadCountsPipeline,
  versionsQuery,
} from './mongo-chat-store.ts';

/** Every numeric value of `key` anywhere in an explain result (aggregation explains nest per stage and arm). */
function statValues(explained: unknown, key: string): number[] {
  if (Array.isArray(explained)) return explained.flatMap((e) => statValues(e, key));
  if (explained === null || typeof explained !== 'object') return [];
  return Object.entries(explained).flatMap(([k, value]) =>
    k === key && typeof value === 'number' ? [value] : statValues(value, key),
  );
}

describe('MongoChatStore query building', () => {
  it('reads history as one (chatId, sequence) range, newest first', () => {
    expect(historyQuery('c1', undefined)).toEqual({ filter: { chatId: 'c1' }, sort: { sequence: -1 } });
    expect(historyQuery('c1', 42).filter).toEqual({ chatId: 'c1', sequence: { $lt: 42 } });
  });

  it("lists a user's chats by one member key and an activity range, in list order", () => {
    const t = new Date('2025-01-01T00:00:00Z');
    expect(chatListQuery('u1', undefined)).toEqual({
      filter: { memberIds: 'u1' },
      sort: { lastActivityTime: -1, _id: -1 },
    });
    expect(chatListQuery('u1', { lastActivityTime: t, chatId: 'c9' }).filter).toEqual({
      memberIds: 'u1',
      lastActivityTime: { $lte: t },
      $nor: [{ lastActivityTime: t, _id: { $gte: 'c9' } }],
    });
  });

  it("finds a pair's direct chat with a predicate that contains the direct_pair index's partial filter", () => {
    expect(directChatQuery('a:b')).toEqual({ directKey: { $eq: 'a:b', $type: 'string' } });
  });

  it("counts a page of chats' unread messages in one aggregation, one capped arm per chat", () => {
    const arm = (chatId: string, afterSequence: number) => [
      { $match: { chatId, sequence: { $gt: afterSequence }, senderId: { $ne: 'u1' }, deleted: false } },
      { $limit: 100 },
      { $count: 'n' },
      { $set: { chatId: { $literal: chatId } } },
    ];
    const positions = [
      { chatId: 'c1', afterSequence: 3 },
      { chatId: 'c2', afterSequence: 0 },
    ];
    expect(unreadCountsPipeline('u1', positions, 100)).toEqual([
      ...arm('c1', 3),
      { $unionWith: { coll: 'messages', pipeline: arm('c2', 0) } },
    ]);
  });

  it('searches the (terms, chatId) index, counts distinct matched terms and ranks after the cursor', () => {
    const t = new Date('2025-01-01T00:00:00Z');
    const [match, count, ...rest] = searchPipeline(['c1', 'c2'], ['cafe', 'tea', 'cafe'], undefined, 21);
    expect(match).toEqual({
      $match: { terms: { $in: ['cafe', 'tea'] }, chatId: { $in: ['c1', 'c2'] }, deleted: false },
    });
    expect(count).toEqual({
      $addFields: { matchedTerms: { $size: { $setIntersection: ['$terms', ['cafe', 'tea']] } } },
    });
    expect(rest).toEqual([
      { $sort: { matchedTerms: -1, createTime: -1, _id: -1 } },
      { $limit: 21 },
      { $project: { terms: 0 } },
    ]);
    expect(searchPipeline(['c1'], ['tea'], { matchedTerms: 2, createTime: t, messageId: 'm9' }, 5)[2]).toEqual({
      $match: {
        $or: [
          { matchedTerms: { $lt: 2 } },
          { matchedTerms: 2, createTime: { $lt: t } },
          { matchedTerms: 2, createTime: t, _id: { $lt: 'm9' } },
        ],
      },
    });
  });

  it("reads a message's versions as one (messageId, version) range, newest first", () => {
    expect(versionsQuery('m1', undefined)).toEqual({ filter: { messageId: 'm1' }, sort: { version: -1 } });
    expect(versionsQuery('m1', 7).filter).toEqual({ messageId: 'm1', version: { $lt: 7 } });
  });

  it('translates a duplicate-key error and nothing else', () => {
    const duplicate = new MongoServerError({ code: 11000, errmsg: 'E11000 duplicate key error' });
    expect(isStoreError(translateError(duplicate), 'duplicate')).toBe(true);
    const other = new MongoServerError({ code: 112, errmsg: 'WriteConflict' });
    expect(translateError(other)).toBe(other);
  });
});

// Runs against a real server only when one is configured (compose, CI with MongoDB).
describeWithMongo(
  'MongoChatStore against MongoDB',
  (client, dbName) => new MongoChatStore(client, dbName),
  (freshStore) => {
    chatStoreContract('MongoChatStore', freshStore);
    reactionStoreContract('MongoChatStore', freshStore);
    pinStoreContract('MongoChatStore', freshStore);
    inviteStoreContract('MongoChatStore', freshStore);
    attachmentStoreContract('MongoChatStore', freshStore);
    chatStoreMentionsContract('MongoChatStore', freshStore);
    chatStoreSettingsContract('MongoChatStore', freshStore);

    it("finds a pair's direct chat through the partial direct_pair index, reading one key and one chat", async () => {
      const { db, close } = await freshStore();
      try {
        const chats = db.collection<ChatDoc>('chats');
        // Raw documents suffice: only directKey matters to the plan. Groups have none.
        const docs = Array.from({ length: 200 }, (_, i) =>
          i % 2 === 0 ? { _id: `d${i}`, directKey: `k${i}` } : { _id: `g${i}` },
        );
        await db.collection<{ _id: string; directKey?: string }>('chats').insertMany(docs);
        const explained = await chats.find(directChatQuery('k100')).limit(1).explain('executionStats');
        expectIndexScan(explained, 'direct_pair');
        const stats = (explained as { executionStats: { totalKeysExamined: number; totalDocsExamined: number } })
          .executionStats;
        expect(stats.totalKeysExamined).toBeLessThanOrEqual(1);
        expect(stats.totalDocsExamined).toBeLessThanOrEqual(1);
      } finally {
        await close();
      }
    });

    it("counts a chat's unread messages from index keys alone, stopping at the cap however far behind the member is", async () => {
      const { db, close } = await freshStore();
      try {
        const messages = db.collection<MessageDoc>('messages');
        const raw = db.collection<{
          _id: string;
          chatId: string;
          sequence: number;
          senderId: string;
          deleted: boolean;
        }>('messages');
        await raw.insertMany(
          Array.from({ length: 500 }, (_, i) => ({
            _id: `m${i}`,
            chatId: 'c1',
            sequence: i + 1,
            senderId: 'b',
            deleted: false,
          })),
        );
        const pipeline = unreadCountsPipeline('a', [{ chatId: 'c1', afterSequence: 0 }], 10);
        await expect(messages.aggregate(pipeline).toArray()).resolves.toEqual([{ n: 10, chatId: 'c1' }]);
        const explained = await messages.aggregate(pipeline).explain('executionStats');
        expect(Math.max(...statValues(explained, 'totalKeysExamined'))).toBeLessThanOrEqual(11);
        expect(Math.max(...statValues(explained, 'totalDocsExamined'))).toBe(0);
      } finally {
        await close();
      }
    });

    it('reads a later page of a chat list from index bounds starting at the cursor, not from the top', async () => {
      const { db, close } = await freshStore();
      try {
        const chats = db.collection<ChatDoc>('chats');
        const raw = db.collection<{ _id: string; memberIds: string[]; lastActivityTime: Date }>('chats');
        const base = Date.parse('2025-01-01T00:00:00Z');
        // 300 chats of u1, pairs sharing a time so the cursor falls on a tie; others' chats around them.
        await raw.insertMany(
          Array.from({ length: 400 }, (_, i) => ({
            _id: `c${String(i).padStart(3, '0')}`,
            memberIds: i < 300 ? ['u1', `o${i}`] : ['u2', 'u3'],
            lastActivityTime: new Date(base + Math.floor(i / 2) * 1000),
          })),
        );
        const limit = 20;
        for (const offset of [0, 100, 250]) {
          const all = await chats
            .find({ memberIds: 'u1' })
            .sort({ lastActivityTime: -1, _id: -1 })
            .skip(offset)
            .limit(1)
            .toArray();
          const cursor = all[0];
          if (!cursor) throw new Error('no chat at the offset');
          const { filter, sort } = chatListQuery('u1', {
            lastActivityTime: cursor.lastActivityTime,
            chatId: cursor._id,
          });
          const explained = await chats.find(filter).sort(sort).limit(limit).explain('executionStats');
          expectIndexScan(explained, 'member_activity');
          const stats = (explained as { executionStats: { totalKeysExamined: number; totalDocsExamined: number } })
            .executionStats;
          expect(stats.totalKeysExamined).toBeLessThanOrEqual(limit + 3);
          expect(stats.totalDocsExamined).toBeLessThanOrEqual(limit + 3);
        }
      } finally {
        await close();
      }
    });

    it('reads history pages and chat lists with an index scan, never a collection scan or an in-memory sort', async () => {
      const { db, close } = await freshStore();
      try {
        const messages = db.collection<MessageDoc>('messages');
        const chats = db.collection<ChatDoc>('chats');
        for (const before of [undefined, 1000]) {
          const { filter, sort } = historyQuery('c1', before);
          const plan = await messages.find(filter).sort(sort).limit(51).explain('queryPlanner');
          expectIndexScan(plan, 'chat_sequence');
        }
        for (const after of [undefined, { lastActivityTime: new Date(), chatId: 'c9' }]) {
          const { filter, sort } = chatListQuery('u1', after);
          const plan = await chats.find(filter).sort(sort).limit(51).explain('queryPlanner');
          expectIndexScan(plan, 'member_activity');
        }
      } finally {
        await close();
      }
    });
  },
);

describe('MongoChatStore pinned list query', () => {
  it('reads the pins index range newest pin first, continuing after the cursor', () => {
    expect(pinsQuery('c1', undefined)).toEqual({
      filter: { chatId: 'c1', 'pin.time': { $exists: true } },
      sort: { 'pin.time': -1, _id: -1 },
    });
    const t = new Date('2025-01-01T00:00:00Z');
    expect(pinsQuery('c1', { pinTime: t, messageId: 'm9' }).filter).toEqual({
      chatId: 'c1',
      'pin.time': { $exists: true },
      $or: [{ 'pin.time': { $lt: t } }, { 'pin.time': t, _id: { $lt: 'm9' } }],
    });
  });
});
