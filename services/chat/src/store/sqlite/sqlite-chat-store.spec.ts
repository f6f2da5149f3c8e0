import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { openQueryPlans } from '@messenger/platform/testing';
import { type Chat, directKeyOf, messageCreated } from '../../domain/chat.ts';
import { type SearchCursor, searchTermsOf } from '../../domain/search.ts';
import { chatEventEntry } from '../../events/chat-events.ts';
import { attachmentStoreContract } from '../chat-store.attachments.contract.ts';
import { chatStoreContract } from '../chat-store.contract.ts';
import { inviteStoreContract } from '../chat-store.invites.contract.ts';
import { pinStoreContract } from '../chat-store.pins.contract.ts';
import { reactionStoreContract } from '../chat-store.reactions.contract.ts';
import { withEventEncoding } from '../chat-store.ts';
import { chatStoreMentionsContract } from '../chat-store-mentions.contract.ts';
import { chatStoreSettingsContract } from '../chat-store-settings.contract.ts';
import { CHAT_SQL, SqliteChatStore } from './sqlite-chat-store.ts';

/** A store in a fresh file, removed on close. */
const freshSqliteStore = () => freshSqliteStoreWith(undefined);

async function freshSqliteStoreWith(commonTermHits: number | undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-chat-store-'));
  const store = SqliteChatStore.open(join(dir, 'chat.db'), commonTermHits === undefined ? {} : { commonTermHits });
  return {
    store,
    close: async () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

chatStoreContract('SqliteChatStore', freshSqliteStore);
reactionStoreContract('SqliteChatStore', freshSqliteStore);
pinStoreContract('SqliteChatStore', freshSqliteStore);
inviteStoreContract('SqliteChatStore', freshSqliteStore);
attachmentStoreContract('SqliteChatStore', freshSqliteStore);
chatStoreMentionsContract('SqliteChatStore', freshSqliteStore);
chatStoreSettingsContract('SqliteChatStore', freshSqliteStore);

describe('SqliteChatStore file', () => {
  it('keeps chats, history, read positions and unpublished events across a reopen of its file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sqlite-chat-store-'));
    const file = join(dir, 'chat.db');
    try {
      const [a, b] = [randomUUID(), randomUUID()];
      const t = new Date('2025-01-02T03:04:05.678Z');
      const member = (userId: string) => ({
        userId,
        role: 'member' as const,
        nickname: `n_${userId.slice(0, 8)}`,
        avatarUrl: '',
        joinTime: t,
        profileTime: t,
      });
      const chat: Chat = {
        id: randomUUID(),
        type: 'direct',
        title: '',
        description: '',
        avatarUrl: '',
        ownerId: '',
        directKey: directKeyOf(a, b),
        members: [member(a), member(b)],
        createTime: t,
        lastActivityTime: t,
        lastSequence: 0,
        version: 1,
      };
      const post = (store: SqliteChatStore, senderId: string, text: string, clientMessageId: string = randomUUID()) =>
        withEventEncoding(store, chatEventEntry).appendMessage(
          { id: randomUUID(), chatId: chat.id, senderId, clientMessageId, text, createTime: new Date() },
          (message, memberIds) => messageCreated(message, memberIds, 'r'),
        );

      const first = SqliteChatStore.open(file);
      await withEventEncoding(first, chatEventEntry).createChat(chat, [
        { kind: 'chat_created', chat, time: t, requestId: 'r' },
      ]);
      await post(first, a, 'one');
      const second = await post(first, b, 'two', 'client-2');
      await first.markRead(chat.id, a, 1);
      first.close();

      const reopened = SqliteChatStore.open(file);
      try {
        await expect(reopened.findDirectChat(directKeyOf(b, a))).resolves.toMatchObject({
          id: chat.id,
          members: chat.members,
          lastSequence: 2,
        });
        expect((await reopened.listMessages(chat.id, undefined, 10)).map((m) => [m.sequence, m.text])).toEqual([
          [2, 'two'],
          [1, 'one'],
        ]);
        await expect(reopened.readPositions(a, [chat.id])).resolves.toEqual(new Map([[chat.id, 1]]));
        await expect(reopened.countUnread(a, [{ chatId: chat.id, afterSequence: 1 }], 100)).resolves.toEqual(
          new Map([[chat.id, 1]]),
        );
        // The same client message id after the reopen is still the same message; a new one takes sequence 3.
        await expect(post(reopened, b, 'two again', 'client-2')).resolves.toEqual({
          kind: 'existing',
          message: second.kind === 'created' ? second.message : undefined,
        });
        await expect(post(reopened, a, 'three')).resolves.toMatchObject({ kind: 'created', message: { sequence: 3 } });
        expect((await reopened.outbox.pendingEvents(10)).map((e) => e.envelope.type)).toEqual([
          'chat.chat.created',
          'chat.message.created',
          'chat.message.created',
          'chat.message.created',
        ]);
      } finally {
        reopened.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SqliteChatStore search index', () => {
  it('indexes on opening the messages stored before the index existed, then has nothing left to index', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sqlite-chat-store-'));
    const file = join(dir, 'chat.db');
    try {
      const a = randomUUID();
      const t = new Date('2025-01-02T03:04:05.678Z');
      const chat: Chat = {
        id: randomUUID(),
        type: 'group',
        title: 'g',
        description: '',
        avatarUrl: '',
        ownerId: a,
        directKey: '',
        members: [{ userId: a, role: 'owner', nickname: 'a', avatarUrl: '', joinTime: t, profileTime: undefined }],
        createTime: t,
        lastActivityTime: t,
        lastSequence: 0,
        version: 1,
      };
      const first = SqliteChatStore.open(file);
      const store = withEventEncoding(first, chatEventEntry);
      await store.createChat(chat, [{ kind: 'chat_created', chat, time: t, requestId: 'r' }]);
      for (const [i, text] of ['old news', 'older news', 'unrelated'].entries()) {
        const createTime = new Date(t.getTime() + i * 1000);
        await store.appendMessage(
          { id: randomUUID(), chatId: chat.id, senderId: a, clientMessageId: randomUUID(), text, createTime },
          (message, memberIds) => messageCreated(message, memberIds, 'r'),
        );
      }
      first.close();
      // The file as the migration leaves one written before search: no terms, every message in the backlog.
      const raw = new DatabaseSync(file);
      raw.exec(
        'DELETE FROM message_terms; INSERT INTO message_terms_backlog (chat_id, sequence) SELECT chat_id, sequence FROM messages',
      );
      raw.close();

      const reopened = SqliteChatStore.open(file);
      try {
        const found = await reopened.searchMessages([chat.id], ['news'], undefined, 10);
        expect(found.map((h) => h.message.text)).toEqual(['older news', 'old news']);
      } finally {
        reopened.close();
      }
      const check = new DatabaseSync(file, { readOnly: true });
      expect(check.prepare('SELECT count(*) AS n FROM message_terms_backlog').get()).toEqual({ n: 0 });
      check.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The query plans of every statement, read from a fresh store's file (removed afterwards). */
function withQueryPlans(check: (plans: ReturnType<typeof openQueryPlans>) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-chat-store-'));
  const file = join(dir, 'chat.db');
  try {
    SqliteChatStore.open(file).close();
    const plans = openQueryPlans(file);
    try {
      check(plans);
    } finally {
      plans.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('SqliteChatStore statements', () => {
  it('reads and writes through indexes: no statement scans a table', () => {
    withQueryPlans((plans) => {
      const { plan } = plans;
      expect(plans.tableScans(CHAT_SQL)).toEqual([]);
      // A user's chats: one range of chat_members, each chat by its key.
      expect(plan(CHAT_SQL.listChats)).toEqual(
        expect.arrayContaining([
          'SEARCH m USING PRIMARY KEY (user_id=?)',
          expect.stringMatching(/^SEARCH c .*\(id=\?\)/),
        ]),
      );
      // History and unread counts: one range of (chat_id, sequence).
      expect(plan(CHAT_SQL.history)).toEqual([expect.stringMatching(/\(chat_id=\? AND sequence<\?\)$/)]);
      expect(plan(CHAT_SQL.countUnread)).toContainEqual(expect.stringMatching(/\(chat_id=\? AND sequence>\?\)$/));
      expect(plan(CHAT_SQL.getMessage)).toEqual([expect.stringMatching(/messages_id \(id=\?\)$/)]);
      expect(plan(CHAT_SQL.replies)).toEqual([
        expect.stringMatching(/messages_replies \(chat_id=\? AND reply_to_id=\? AND sequence>\?\)$/),
      ]);
      // A user's invitations: their list in order, their key range for the count.
      expect(plan(CHAT_SQL.listInvitations)).toEqual([expect.stringMatching(/invitations_list \(invitee_id=\?/)]);
      expect(plan(CHAT_SQL.countInvitations)).toEqual([
        expect.stringMatching(/(PRIMARY KEY|invitations_list) \(invitee_id=\?/),
      ]);
      expect(plan(CHAT_SQL.getInvitation)).toEqual([
        expect.stringMatching(/PRIMARY KEY \(invitee_id=\? AND chat_id=\?\)$/),
      ]);
      // A search ranks from one range of the index per (term, chat).
      expect(plan(CHAT_SQL.search)).toContainEqual(
        expect.stringMatching(/^SEARCH message_terms USING PRIMARY KEY \(term=\? AND chat_id=\?\)$/),
      );
      // One word: newest first from its recency range, with no sort to wait for.
      expect(plan(CHAT_SQL.searchOne)).toContainEqual(
        expect.stringMatching(/^SEARCH message_terms USING (COVERING )?INDEX message_terms_recent \(term=\?/),
      );
      expect(plan(CHAT_SQL.searchOne).join('\n')).not.toMatch(/TEMP B-TREE/);
      // A common term: its hits counted up to a cap; a candidate's common terms found by key.
      expect(plan(CHAT_SQL.termHits)).toContainEqual(
        expect.stringMatching(
          /^SEARCH message_terms USING (COVERING INDEX message_terms_recent|PRIMARY KEY) \(term=\?\)$/,
        ),
      );
      expect(plan(CHAT_SQL.termsOfMessages)).toContainEqual(
        expect.stringMatching(/^SEARCH t USING PRIMARY KEY \(term=\? AND chat_id=\? AND sequence=\?\)$/),
      );
      expect(plan(CHAT_SQL.findDirect)).toEqual([expect.stringMatching(/\(direct_key=\?\)$/)]);
      expect(plan(CHAT_SQL.byClientId)).toEqual([
        expect.stringMatching(/messages_client \(chat_id=\? AND sender_id=\? AND client_message_id=\?\)$/),
      ]);
    });
  });
});

describe('SqliteChatStore reaction statements', () => {
  it("reads a page with its counts in one range and the caller's reactions in one more, by key per message", () => {
    withQueryPlans((plans) => {
      const { plan } = plans;
      // The counts are columns of the page's rows: the history read stays its one range.
      expect(plan(CHAT_SQL.history)).toEqual([expect.stringMatching(/\(chat_id=\? AND sequence<\?\)$/)]);
      // "Mine" for a whole page: one statement, a key lookup (message, user) per message of the page.
      expect(plan(CHAT_SQL.reactionsBy)).toContainEqual(
        expect.stringMatching(/^SEARCH message_reactions USING PRIMARY KEY \(message_id=\? AND user_id=\?\)$/),
      );
      expect(plan(CHAT_SQL.reactionsBy).join('\n')).not.toMatch(/SCAN message_reactions/);
      // The toggle: one key each.
      for (const sql of [CHAT_SQL.hasReaction, CHAT_SQL.removeReaction]) {
        expect(plan(sql)).toEqual([
          expect.stringMatching(/PRIMARY KEY \(message_id=\? AND user_id=\? AND emoji=\?\)$/),
        ]);
      }
      expect(plan(CHAT_SQL.dropReactions)).toEqual([expect.stringMatching(/PRIMARY KEY \(message_id=\?\)$/)]);
      expect(plan(CHAT_SQL.setReactionCounts)).toEqual([expect.stringMatching(/messages_id \(id=\?\)$/)]);
    });
  });
});

describe('SqliteChatStore pin statements', () => {
  it("reads a chat's pinned list and its count from one range of the pins index", () => {
    withQueryPlans((plans) => {
      const { plan } = plans;
      expect(plan(CHAT_SQL.pins)).toEqual([expect.stringMatching(/messages_pins \(chat_id=\?/)]);
      expect(plan(CHAT_SQL.pins).join('\n')).not.toMatch(/TEMP B-TREE/);
      expect(plan(CHAT_SQL.countPins)).toEqual([expect.stringMatching(/COVERING INDEX messages_pins \(chat_id=\?/)]);
      expect(plan(CHAT_SQL.setPin)).toEqual([expect.stringMatching(/messages_id \(id=\?\)$/)]);
    });
  });
});

describe('SqliteChatStore unread mentions', () => {
  it('counts a page of chats in one statement, a primary-key range per chat', () => {
    withQueryPlans((plans) => {
      expect(plans.plan(CHAT_SQL.countMentions)).toContainEqual(
        expect.stringMatching(
          /^SEARCH message_mentions USING PRIMARY KEY \(chat_id=\? AND mentioned=\? AND sequence>\?\)$/,
        ),
      );
    });
  });
});

describe('SqliteChatStore search with common terms', () => {
  it('ranks and pages exactly as counting every hit does, when it looks up common terms per candidate', async () => {
    // The same messages in two stores: one counts every hit (no term is common below 10⁹ hits), the
    // other treats a term with 12 or more hits as common. Skewed words make some of each.
    const counting = await freshSqliteStoreWith(1_000_000_000);
    const pruning = await freshSqliteStoreWith(12);
    try {
      let seed = 7;
      const random = () => {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
        return seed / 2_147_483_648;
      };
      const word = () => `w${Math.floor(30 * random() ** 3)}`;
      const [a, b] = [randomUUID(), randomUUID()];
      const chats = [randomUUID(), randomUUID()];
      const t = new Date('2025-01-02T03:04:05.678Z');
      for (const store of [counting.store, pruning.store]) {
        for (const id of chats) {
          const member = (userId: string) => ({
            userId,
            role: 'member' as const,
            nickname: userId.slice(0, 8),
            avatarUrl: '',
            joinTime: t,
            profileTime: t,
          });
          const chat: Chat = {
            ...{ id, type: 'group', title: 'g', description: '', avatarUrl: '', ownerId: a, directKey: '' },
            members: [member(a), member(b)],
            createTime: t,
            lastActivityTime: t,
            lastSequence: 0,
            version: 1,
          };
          await withEventEncoding(store, chatEventEntry).createChat(chat, []);
        }
      }
      for (let i = 0; i < 200; i++) {
        const text = Array.from({ length: 3 + Math.floor(random() * 5) }, word).join(' ');
        const draft = {
          id: randomUUID(),
          chatId: chats[i % 2] as string,
          senderId: a,
          clientMessageId: randomUUID(),
          text,
          // Every third message shares its time with the one before: ties go by id.
          createTime: new Date(t.getTime() + i - (i % 3 === 2 ? 1 : 0)),
        };
        for (const store of [counting.store, pruning.store]) {
          await withEventEncoding(store, chatEventEntry).appendMessage(draft, (message, memberIds) =>
            messageCreated(message, memberIds, 'r'),
          );
        }
      }
      const pages = async (store: SqliteChatStore, chatIds: string[], query: string, limit: number) => {
        const seen: [string, number][] = [];
        let after: SearchCursor | undefined;
        for (;;) {
          const page = await store.searchMessages(chatIds, searchTermsOf(query), after, limit);
          seen.push(...page.map((h): [string, number] => [h.message.id, h.matchedTerms]));
          const last = page.at(-1);
          if (page.length < limit || !last) return seen;
          after = { matchedTerms: last.matchedTerms, createTime: last.message.createTime, messageId: last.message.id };
        }
      };
      const queries = ['w0 w1 w20', 'w0 w25 w27', 'w0 w1 w2 w15 w22', 'w1 w9', 'w0 w1', 'w0 w29 w28 w26 w24 w23'];
      for (const query of queries) {
        for (const [chatIds, limit] of [
          [chats, 3],
          [chats, 10],
          [[chats[0] as string], 2],
        ] as const) {
          const expected = await pages(counting.store, [...chatIds], query, limit);
          expect(expected.length).toBeGreaterThan(0);
          await expect(pages(pruning.store, [...chatIds], query, limit)).resolves.toEqual(expected);
        }
      }
    } finally {
      await counting.close();
      await pruning.close();
    }
  });
});
