import type { OutboxEntry } from '@messenger/platform/events';
import { outboxSchema, SqliteDatabase, SqliteOutbox, type SqliteSchema } from '@messenger/platform/sqlite';
import {
  type Attachment,
  type AttachmentState,
  type Chat,
  type ChatInvite,
  type ChatType,
  type Invitation,
  MAX_KEPT_VERSIONS,
  type Member,
  type MemberRole,
  type MemberSettings,
  type Message,
  type MessageEntity,
  type MessageVersion,
  type ReactionCount,
  type SystemEvent,
  versionOf,
  withReaction,
} from '../../domain/chat.ts';
import {
  type ActivityCursor,
  type AppendResult,
  type ChatInviteCursor,
  type GarbageCutoffs,
  type InvitationCursor,
  type InviteResult,
  type MessageDraft,
  type Notice,
  type PinCursor,
  type PinDraft,
  type PinResult,
  postedMessage,
  type ReactionDraft,
  type ReactionResult,
  StoreError,
} from '../../domain/chat-storage.ts';
import { MENTION_ALL_KEY, mentionKeysOf } from '../../domain/mentions.ts';
import type { PresencePrivacy } from '../../domain/presence.ts';
import { type SearchCursor, type SearchHit, searchTermsOf } from '../../domain/search.ts';
import { AttachmentGone, type ChatStore } from '../chat-store.ts';

/**
 * Tables, and the query each index serves:
 * - `chats`: one row per chat, its members (with their profile copies) as
 *   JSON. `direct_key` is NULL for a group and UNIQUE otherwise, so the
 *   pair's one direct chat is both enforced and found by that index.
 * - `chat_members` (user_id, chat_id), the primary key of a table without
 *   rowid: the index of "a user's chats". `chatIdsOf` reads one range of it
 *   in id order; `listChatsOf` reads the same range and sorts those chats by
 *   activity. It holds no activity time on purpose: a message then updates
 *   one chat row, never a row per member, which in a large group would cost
 *   a thousand index rewrites per message; the price is a sort of one user's
 *   chats per list page, small in the embedded mode.
 * - `messages`: primary key (chat_id, sequence) is history (one range read
 *   backwards), the newest message and unread counting (one range above the
 *   read position); `messages_client` (chat_id, sender_id,
 *   client_message_id, unique) makes posting idempotent; `messages_id`
 *   finds a message by id. A rowid table: texts of a few KB would spread a
 *   clustered (without rowid) table's index pages thin.
 *   `messages_replies` (chat_id, reply_to_id, sequence), partial on replies,
 *   is a message's thread in order (one range); a reply's quote is kept in
 *   its own row (`reply_to_*`), and the parent's `reply_count` and
 *   `last_reply_time` move in the reply's transaction. A system message
 *   keeps the group change it records as JSON in `system` (NULL on any
 *   other message); a tombstone names its deleter in `deleted_by`.
 * - `reads` (user_id, chat_id), primary key of a table without rowid: a
 *   user's read positions in a page of chats, one lookup each.
 * - `invitations` (invitee_id, chat_id), primary key of a table without
 *   rowid: one invitation per user and chat, found by its key; a user's
 *   pending count reads the range of their key. `invitations_list`
 *   (invitee_id, create_time, chat_id) is their list, newest first.
 * - `chat_invites`: a group's invite links, by id; `token_hash` (unique)
 *   finds the link a token opens, and `chat_invites_list` (chat_id,
 *   create_time, id) is a group's list, newest first, and its count
 *   against the link limit. A join adds to `use_count` with a conditional
 *   UPDATE in the join's transaction, so a limit is never overrun.
 * - `message_terms` (term, chat_id, sequence), primary key of a table
 *   without rowid: the search index, one row per distinct term of a
 *   message's current text (`searchTermsOf`), rewritten with the message in
 *   its transaction. A search reads one range per (term, chat) pair and
 *   ranks from the index rows alone (they carry the message's time and id),
 *   reading only the messages of the page it returns. A one-word search
 *   has nothing to count, so it walks `message_terms_recent` (term,
 *   create_time, message_id) newest first and stops at a page instead: a
 *   word in most messages costs no more than a rare one. Several words of
 *   which some are common (`commonTermHits` index rows or more, counted up
 *   to a cap) rank from the rarer words' hits alone, each candidate's
 *   common words found by key (`#prunedSearch`), whenever that fills the
 *   page; the result is the same as counting every hit. The
 *   terms come from the domain's tokeniser rather than an FTS5 table's own,
 *   so matching and ranking are those of every other adapter.
 *   `message_terms_backlog` lists messages stored before the index existed;
 *   opening the store indexes them and empties it.
 * - `message_versions`: the texts edits replaced; `message_versions_id`
 *   (message_id, version, unique) lists a message's newest first (one
 *   range) and drops those beyond the kept count or with the message's
 *   deletion. A rowid table, like `messages`, for its texts.
 * - `message_reactions` (message_id, user_id, emoji), primary key of a
 *   table without rowid: one row per member's reaction, so adding one twice
 *   is one key lookup, and the caller's reactions on a page of messages are
 *   one lookup per message of the page in a single statement. The counts a
 *   message shows live on its own row (`messages.reactions`, JSON in first
 *   reaction order), moved in the reaction's transaction, so a history page
 *   reads them with the page and counts nothing.
 * - `messages_pins` (chat_id, pin_time, id), partial on pinned messages: a
 *   chat's pinned list, most recently pinned first (one range read
 *   backwards), and its count against the pin limit. The pin itself is two
 *   columns of the message's row (`pinned_by`, `pin_time`).
 * - `message_mentions` (chat_id, mentioned, sequence), primary key of a
 *   table without rowid: who each message's current text mentions
 *   (`mentionKeysOf`: a user id, or `*` for `@all`), rewritten with the
 *   message and removed with its deletion. A page of chats' unread mentions
 *   is one statement: per chat, two ranges above the read position (the
 *   user's id and `*`), each stopping at the cap. The entities themselves
 *   are JSON in `messages.entities`.
 * - `member_settings` (user_id, chat_id), primary key of a table without
 *   rowid: a member's own mute and archive of a chat, a row only once they
 *   changed one. A user's chat list joins it by key to leave out (or keep
 *   only) the archived ones, so the main list and the archive are the same
 *   range of `chat_members` and sort as `listChatsOf`.
 * - `presence_settings`: one presence privacy setting per user who chose one.
 */
const chatSchema: SqliteSchema = {
  name: 'chat',
  migrations: [
    "CREATE TABLE chats (id TEXT PRIMARY KEY, type TEXT NOT NULL CHECK (type IN ('direct', 'group')), " +
      'title TEXT NOT NULL, owner_id TEXT NOT NULL, direct_key TEXT UNIQUE, members TEXT NOT NULL, ' +
      'create_time INTEGER NOT NULL, last_activity_time INTEGER NOT NULL, last_sequence INTEGER NOT NULL, ' +
      'version INTEGER NOT NULL) STRICT;' +
      'CREATE TABLE chat_members (user_id TEXT NOT NULL, chat_id TEXT NOT NULL REFERENCES chats (id), ' +
      'PRIMARY KEY (user_id, chat_id)) STRICT, WITHOUT ROWID;' +
      'CREATE TABLE messages (chat_id TEXT NOT NULL REFERENCES chats (id), sequence INTEGER NOT NULL, ' +
      'id TEXT NOT NULL, sender_id TEXT NOT NULL, client_message_id TEXT NOT NULL, text TEXT NOT NULL, ' +
      'create_time INTEGER NOT NULL, edit_time INTEGER, deleted INTEGER NOT NULL, version INTEGER NOT NULL, ' +
      'PRIMARY KEY (chat_id, sequence)) STRICT;' +
      'CREATE UNIQUE INDEX messages_client ON messages (chat_id, sender_id, client_message_id);' +
      'CREATE UNIQUE INDEX messages_id ON messages (id);' +
      'CREATE TABLE reads (user_id TEXT NOT NULL, chat_id TEXT NOT NULL, read_sequence INTEGER NOT NULL, ' +
      'PRIMARY KEY (user_id, chat_id)) STRICT, WITHOUT ROWID;',
    'CREATE TABLE invitations (invitee_id TEXT NOT NULL, chat_id TEXT NOT NULL REFERENCES chats (id), ' +
      'inviter_id TEXT NOT NULL, title TEXT NOT NULL, create_time INTEGER NOT NULL, expire_time INTEGER NOT NULL, ' +
      'PRIMARY KEY (invitee_id, chat_id)) STRICT, WITHOUT ROWID;' +
      'CREATE INDEX invitations_list ON invitations (invitee_id, create_time, chat_id);',
    'ALTER TABLE messages ADD COLUMN reply_to_id TEXT;' +
      'ALTER TABLE messages ADD COLUMN reply_to_sender_id TEXT;' +
      'ALTER TABLE messages ADD COLUMN reply_to_text TEXT;' +
      'ALTER TABLE messages ADD COLUMN reply_count INTEGER NOT NULL DEFAULT 0;' +
      'ALTER TABLE messages ADD COLUMN last_reply_time INTEGER;' +
      'CREATE INDEX messages_replies ON messages (chat_id, reply_to_id, sequence) WHERE reply_to_id IS NOT NULL;',
    'CREATE TABLE message_terms (term TEXT NOT NULL, chat_id TEXT NOT NULL, sequence INTEGER NOT NULL, ' +
      'create_time INTEGER NOT NULL, message_id TEXT NOT NULL, PRIMARY KEY (term, chat_id, sequence)) STRICT, WITHOUT ROWID;' +
      'CREATE INDEX message_terms_recent ON message_terms (term, create_time, message_id);' +
      'CREATE TABLE message_terms_backlog (chat_id TEXT NOT NULL, sequence INTEGER NOT NULL) STRICT;' +
      'CREATE TABLE message_versions (message_id TEXT NOT NULL, version INTEGER NOT NULL, text TEXT NOT NULL, ' +
      'time INTEGER NOT NULL, replace_time INTEGER NOT NULL) STRICT;' +
      'CREATE UNIQUE INDEX message_versions_id ON message_versions (message_id, version);' +
      'INSERT INTO message_terms_backlog (chat_id, sequence) SELECT chat_id, sequence FROM messages WHERE deleted = 0;',
    "ALTER TABLE messages ADD COLUMN reactions TEXT NOT NULL DEFAULT '[]';" +
      'CREATE TABLE message_reactions (message_id TEXT NOT NULL, user_id TEXT NOT NULL, emoji TEXT NOT NULL, ' +
      'PRIMARY KEY (message_id, user_id, emoji)) STRICT, WITHOUT ROWID;' +
      'ALTER TABLE messages ADD COLUMN pinned_by TEXT;' +
      'ALTER TABLE messages ADD COLUMN pin_time INTEGER;' +
      'CREATE INDEX messages_pins ON messages (chat_id, pin_time, id) WHERE pin_time IS NOT NULL;',
    // Tombstones from before it have no deleter on record: empty, as for a message not deleted.
    "ALTER TABLE messages ADD COLUMN deleted_by TEXT NOT NULL DEFAULT '';" +
      "ALTER TABLE chats ADD COLUMN description TEXT NOT NULL DEFAULT '';" +
      "ALTER TABLE chats ADD COLUMN avatar_url TEXT NOT NULL DEFAULT '';" +
      'ALTER TABLE messages ADD COLUMN system TEXT;',
    "ALTER TABLE messages ADD COLUMN entities TEXT NOT NULL DEFAULT '[]';" +
      'CREATE TABLE message_mentions (chat_id TEXT NOT NULL, mentioned TEXT NOT NULL, sequence INTEGER NOT NULL, ' +
      'sender_id TEXT NOT NULL, PRIMARY KEY (chat_id, mentioned, sequence)) STRICT, WITHOUT ROWID;' +
      'CREATE TABLE member_settings (user_id TEXT NOT NULL, chat_id TEXT NOT NULL, mute_until INTEGER, ' +
      'archived INTEGER NOT NULL, PRIMARY KEY (user_id, chat_id)) STRICT, WITHOUT ROWID;',
    "CREATE TABLE presence_settings (user_id TEXT PRIMARY KEY, privacy TEXT NOT NULL CHECK (privacy IN ('everyone', 'friends', 'nobody'))) STRICT, WITHOUT ROWID;",
    'CREATE TABLE chat_invites (id TEXT PRIMARY KEY, chat_id TEXT NOT NULL REFERENCES chats (id), ' +
      'token_hash TEXT NOT NULL UNIQUE, creator_id TEXT NOT NULL, create_time INTEGER NOT NULL, ' +
      'expire_time INTEGER NOT NULL, use_limit INTEGER NOT NULL, use_count INTEGER NOT NULL) STRICT;' +
      'CREATE INDEX chat_invites_list ON chat_invites (chat_id, create_time, id);',
    "ALTER TABLE messages ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';" +
      'CREATE TABLE attachments (id TEXT PRIMARY KEY, chat_id TEXT NOT NULL, uploader_id TEXT NOT NULL, ' +
      "state TEXT NOT NULL CHECK (state IN ('pending', 'uploaded', 'sent', 'released', 'deleting')), " +
      'message_id TEXT NOT NULL, file_name TEXT NOT NULL, media_type TEXT NOT NULL, size_bytes INTEGER NOT NULL, ' +
      'width INTEGER NOT NULL, height INTEGER NOT NULL, has_thumbnail INTEGER NOT NULL, create_time INTEGER NOT NULL, ' +
      'claim_time INTEGER NOT NULL) STRICT;' +
      'CREATE INDEX attachments_unsent ON attachments (uploader_id, state);' +
      'CREATE INDEX attachments_garbage ON attachments (state, create_time);',
  ],
};

interface ChatRow {
  id: string;
  type: ChatType;
  title: string;
  owner_id: string;
  direct_key: string | null;
  members: string;
  create_time: number;
  last_activity_time: number;
  last_sequence: number;
  version: number;
  description: string;
  avatar_url: string;
}

/** A member as the `members` JSON keeps it: times in epoch milliseconds. */
interface MemberJson {
  userId: string;
  role: MemberRole;
  nickname: string;
  avatarUrl: string;
  joinTime: number;
  profileTime?: number;
}

interface ChatInviteRow {
  id: string;
  chat_id: string;
  token_hash: string;
  creator_id: string;
  create_time: number;
  expire_time: number;
  use_limit: number;
  use_count: number;
}

interface InvitationRow {
  invitee_id: string;
  chat_id: string;
  inviter_id: string;
  title: string;
  create_time: number;
  expire_time: number;
}

interface MessageRow {
  chat_id: string;
  sequence: number;
  id: string;
  sender_id: string;
  client_message_id: string;
  text: string;
  create_time: number;
  edit_time: number | null;
  deleted: number;
  version: number;
  reply_to_id: string | null;
  reply_to_sender_id: string | null;
  reply_to_text: string | null;
  reply_count: number;
  last_reply_time: number | null;
  deleted_by: string;
  /** A system message's event as JSON; NULL for any other message. */
  system: string | null;
  reactions: string;
  pinned_by: string | null;
  pin_time: number | null;
  entities: string;
  /** The message's attachments as sent (`AttachmentJson[]`). */
  attachments: string;
}

/** An attachment as the `attachments` table keeps it. */
interface AttachmentRow {
  id: string;
  chat_id: string;
  uploader_id: string;
  state: AttachmentState;
  message_id: string;
  file_name: string;
  media_type: string;
  size_bytes: number;
  width: number;
  height: number;
  has_thumbnail: number;
  create_time: number;
  claim_time: number;
}

/** An attachment in a message's `attachments` JSON: its time in epoch milliseconds. */
type AttachmentJson = Omit<Attachment, 'createTime'> & { createTime: number };

const CHAT_COLUMNS =
  'id, type, title, owner_id, direct_key, members, create_time, last_activity_time, last_sequence, version, ' +
  'description, avatar_url';
const INVITATION_COLUMNS = 'invitee_id, chat_id, inviter_id, title, create_time, expire_time';
const MESSAGE_COLUMNS =
  'chat_id, sequence, id, sender_id, client_message_id, text, create_time, edit_time, deleted, version, ' +
  'reply_to_id, reply_to_sender_id, reply_to_text, reply_count, last_reply_time, deleted_by, system, ' +
  'reactions, pinned_by, pin_time, entities, attachments';
/** Above every time and sequence: the bound of a first page. */
const ABOVE_ALL = Number.MAX_SAFE_INTEGER;

const INVITE_COLUMNS = 'id, chat_id, token_hash, creator_id, create_time, expire_time, use_limit, use_count';

/** The statements of invite links. */
const INVITE_SQL = {
  insert: `INSERT INTO chat_invites (${INVITE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  // Links no longer usable at a time: expired, or used up.
  prune:
    'DELETE FROM chat_invites WHERE chat_id = ? AND (expire_time <= ? OR (use_limit > 0 AND use_count >= use_limit))',
  count: 'SELECT count(*) AS n FROM chat_invites WHERE chat_id = ?',
  list:
    `SELECT ${INVITE_COLUMNS} FROM chat_invites WHERE chat_id = :chat ` +
    'AND (create_time < :time OR (create_time = :time AND id < :id)) ORDER BY create_time DESC, id DESC LIMIT :limit',
  find: `SELECT ${INVITE_COLUMNS} FROM chat_invites WHERE token_hash = ?`,
  delete: 'DELETE FROM chat_invites WHERE chat_id = ? AND id = ?',
  use: 'UPDATE chat_invites SET use_count = use_count + 1 WHERE chat_id = ? AND id = ? AND (use_limit = 0 OR use_count < use_limit)',
} as const;

const ATTACHMENT_COLUMNS =
  'id, chat_id, uploader_id, state, message_id, file_name, media_type, size_bytes, width, height, has_thumbnail, ' +
  'create_time, claim_time';

/** The statements of attachments. */
const ATTACHMENT_SQL = {
  insert: `INSERT INTO attachments (${ATTACHMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  countUnsent: "SELECT count(*) AS n FROM attachments WHERE uploader_id = ? AND state IN ('pending', 'uploaded')",
  get: `SELECT ${ATTACHMENT_COLUMNS} FROM attachments WHERE id = ?`,
  complete:
    "UPDATE attachments SET state = 'uploaded', media_type = ?, size_bytes = ?, width = ?, height = ?, " +
    "has_thumbnail = ? WHERE id = ? AND state = 'pending'",
  // Only the sender's unsent upload to this chat: no match, and the post rolls back.
  send:
    "UPDATE attachments SET state = 'sent', message_id = ? WHERE id = ? AND state = 'uploaded' " +
    'AND chat_id = ? AND uploader_id = ?',
  release: "UPDATE attachments SET state = 'released' WHERE message_id = ? AND state = 'sent'",
  // Each arm is one range of the garbage index; isAttachmentGarbage is the same rule.
  claim:
    "UPDATE attachments SET state = 'deleting', claim_time = :now WHERE id IN (" +
    "SELECT id FROM attachments WHERE state = 'released' " +
    "UNION ALL SELECT id FROM attachments WHERE state = 'pending' AND create_time < :pending " +
    "UNION ALL SELECT id FROM attachments WHERE state = 'uploaded' AND create_time < :uploaded " +
    "UNION ALL SELECT id FROM attachments WHERE state = 'deleting' AND claim_time < :claimed " +
    `LIMIT :limit) RETURNING ${ATTACHMENT_COLUMNS}`,
  delete: "DELETE FROM attachments WHERE id = ? AND state = 'deleting'",
} as const;

/** Hits from which a search term counts as common: its hits are looked up per candidate, not counted. */
const COMMON_TERM_HITS = 2000;
/** A ranking from candidates counts fewer hits than this many times COMMON_TERM_HITS, or is not tried. */
const COUNTED_HITS_FACTOR = 8;

export interface SqliteChatStoreOptions {
  /** From how many index rows a search term counts as common (default 2000); tests lower it. */
  readonly commonTermHits?: number;
}

interface RankedRow {
  chat_id: string;
  sequence: number;
  n: number;
  create_time: number;
  message_id: string;
}

/** Whether `row` ranks below the cursor (fewer terms; as many, then older; then a lower id). */
function ranksAfter(row: RankedRow, n: number, time: number, id: string): boolean {
  return row.n < n || (row.n === n && (row.create_time < time || (row.create_time === time && row.message_id < id)));
}

function byRank(a: RankedRow, b: RankedRow): number {
  return b.n - a.n || b.create_time - a.create_time || (a.message_id < b.message_id ? 1 : -1);
}

/**
 * Every statement the store runs, prepared once when it opens; the spec
 * checks that none of them scans a whole table.
 */
export const CHAT_SQL = {
  // A taken id or direct key inserts nothing: `duplicate`.
  insertChat: `INSERT INTO chats (${CHAT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  getChat: `SELECT ${CHAT_COLUMNS} FROM chats WHERE id = ?`,
  findDirect: `SELECT ${CHAT_COLUMNS} FROM chats WHERE direct_key = ?`,
  // The chat's own fields only: the sequence and activity belong to posts.
  updateChat:
    'UPDATE chats SET title = ?, owner_id = ?, members = ?, description = ?, avatar_url = ?, version = ? ' +
    'WHERE id = ? AND version = ?',
  addMember: 'INSERT INTO chat_members (user_id, chat_id) VALUES (?, ?) ON CONFLICT DO NOTHING',
  removeMember: 'DELETE FROM chat_members WHERE user_id = ? AND chat_id = ?',
  // By the primary key (user_id, chat_id): a member who leaves takes their read position along.
  removeRead: 'DELETE FROM reads WHERE user_id = ? AND chat_id = ?',
  listChats:
    `SELECT ${CHAT_COLUMNS.replace(/(\w+)/g, 'c.$1')} FROM chat_members m JOIN chats c ON c.id = m.chat_id ` +
    'WHERE m.user_id = :user AND (c.last_activity_time < :time OR (c.last_activity_time = :time AND c.id < :id)) ' +
    'ORDER BY c.last_activity_time DESC, c.id DESC LIMIT :limit',
  chatIds: 'SELECT chat_id FROM chat_members WHERE user_id = ? AND chat_id > ? ORDER BY chat_id LIMIT ?',
  getInvitation: `SELECT ${INVITATION_COLUMNS} FROM invitations WHERE invitee_id = ? AND chat_id = ?`,
  // A lapsed invitation to the same chat is replaced.
  putInvitation:
    `INSERT INTO invitations (${INVITATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET ` +
    'inviter_id = excluded.inviter_id, title = excluded.title, create_time = excluded.create_time, ' +
    'expire_time = excluded.expire_time',
  countInvitations: 'SELECT count(*) AS n FROM invitations WHERE invitee_id = ? AND expire_time > ?',
  listInvitations:
    `SELECT ${INVITATION_COLUMNS} FROM invitations WHERE invitee_id = :user AND expire_time > :now ` +
    'AND (create_time < :time OR (create_time = :time AND chat_id < :id)) ' +
    'ORDER BY create_time DESC, chat_id DESC LIMIT :limit',
  deleteInvitation: 'DELETE FROM invitations WHERE invitee_id = ? AND chat_id = ?',
  byClientId: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE chat_id = ? AND sender_id = ? AND client_message_id = ?`,
  insertMessage: `INSERT INTO messages (${MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  // A reply's time never moves the parent's back, whatever the clock did.
  countReply:
    'UPDATE messages SET reply_count = reply_count + 1, last_reply_time = max(coalesce(last_reply_time, 0), ?) ' +
    'WHERE id = ? AND chat_id = ?',
  replies:
    `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE chat_id = ? AND reply_to_id = ? AND sequence > ? ` +
    'ORDER BY sequence LIMIT ?',
  // Activity never moves back, whatever the clock did.
  advanceChat: 'UPDATE chats SET last_sequence = ?, last_activity_time = max(last_activity_time, ?) WHERE id = ?',
  getMessage: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = ? AND chat_id = ?`,
  messagesAt:
    `SELECT ${MESSAGE_COLUMNS.replace(/(\w+)/g, 'm.$1')} FROM json_each(?) r JOIN messages m ` +
    "ON m.chat_id = r.value ->> '$.chatId' AND m.sequence = r.value ->> '$.sequence'",
  history: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE chat_id = ? AND sequence < ? ORDER BY sequence DESC LIMIT ?`,
  updateMessage:
    'UPDATE messages SET text = ?, edit_time = ?, deleted = ?, deleted_by = ?, version = ?, entities = ?, attachments = ? ' +
    'WHERE chat_id = ? AND sequence = ? AND id = ? AND version = ?',
  readPositions:
    'SELECT chat_id, read_sequence FROM reads WHERE user_id = ? AND chat_id IN (SELECT value FROM json_each(?))',
  markRead:
    'INSERT INTO reads (user_id, chat_id, read_sequence) VALUES (?, ?, max(?, 0)) ' +
    'ON CONFLICT DO UPDATE SET read_sequence = max(read_sequence, excluded.read_sequence) RETURNING read_sequence',
  countUnread:
    'SELECT count(*) AS n FROM (SELECT 1 FROM messages WHERE chat_id = ? AND sequence > ? AND sender_id <> ? ' +
    'AND deleted = 0 LIMIT ?)',
  addTerm:
    'INSERT INTO message_terms (term, chat_id, sequence, create_time, message_id) VALUES (?, ?, ?, ?, ?) ' +
    'ON CONFLICT DO NOTHING',
  removeTerm: 'DELETE FROM message_terms WHERE term = ? AND chat_id = ? AND sequence = ?',
  // One range per (term, chat) pair, the hits grouped per message (every row of a group has the same
  // time and id), ranked; the cursor bounds the ranked groups. A deleted message has no terms.
  search:
    'SELECT chat_id, sequence, count(*) AS n, max(create_time) AS create_time, max(message_id) AS message_id ' +
    'FROM message_terms WHERE term IN (SELECT value FROM json_each(:terms)) ' +
    'AND chat_id IN (SELECT value FROM json_each(:chats)) GROUP BY chat_id, sequence ' +
    'HAVING n < :n OR (n = :n AND (create_time < :time OR (create_time = :time AND message_id < :id))) ' +
    'ORDER BY n DESC, create_time DESC, message_id DESC LIMIT :limit',
  // A term's hits anywhere, counted up to :cap: whether counting all of them would be costly.
  termHits: 'SELECT count(*) AS n FROM (SELECT 1 FROM message_terms WHERE term = :term LIMIT :cap)',
  // Every message in the chats with one of the terms, and how many of them it has (no ranking, no page).
  searchCandidates:
    'SELECT chat_id, sequence, count(*) AS n, max(create_time) AS create_time, max(message_id) AS message_id ' +
    'FROM message_terms WHERE term IN (SELECT value FROM json_each(:terms)) ' +
    'AND chat_id IN (SELECT value FROM json_each(:chats)) GROUP BY chat_id, sequence',
  // How many of the terms each of the given messages has: one primary-key lookup per (message, term).
  // CROSS JOIN keeps that order: the planner would otherwise walk each term's whole range.
  termsOfMessages:
    'SELECT c.key AS i, count(*) AS n FROM json_each(:messages) c CROSS JOIN json_each(:terms) w ' +
    "CROSS JOIN message_terms t ON t.term = w.value AND t.chat_id = c.value ->> '$[0]' " +
    "AND t.sequence = c.value ->> '$[1]' GROUP BY c.key",
  // One word: every hit matches once, so the newest come first straight from the index.
  searchOne:
    'SELECT chat_id, sequence, 1 AS n FROM message_terms INDEXED BY message_terms_recent WHERE term = :term ' +
    'AND chat_id IN (SELECT value FROM json_each(:chats)) ' +
    'AND (create_time < :time OR (create_time = :time AND message_id < :id)) ' +
    'ORDER BY create_time DESC, message_id DESC LIMIT :limit',
  addVersion:
    'INSERT INTO message_versions (message_id, version, text, time, replace_time) VALUES (?, ?, ?, ?, ?) ' +
    'ON CONFLICT DO NOTHING',
  // Below the given version: the oldest beyond the kept count, or (0 and above all) every one.
  dropVersions: 'DELETE FROM message_versions WHERE message_id = ? AND version < ?',
  versions:
    'SELECT version, text, time, replace_time FROM message_versions WHERE message_id = ? AND version < ? ' +
    'ORDER BY version DESC LIMIT ?',
  backlog:
    'SELECT b.rowid AS backlog_id, m.chat_id, m.sequence, m.create_time, m.id, m.text FROM message_terms_backlog b ' +
    'JOIN messages m ON m.chat_id = b.chat_id AND m.sequence = b.sequence WHERE b.rowid > ? ORDER BY b.rowid LIMIT ?',
  clearBacklog: 'DELETE FROM message_terms_backlog WHERE rowid <= ?',
  hasReaction: 'SELECT 1 AS found FROM message_reactions WHERE message_id = ? AND user_id = ? AND emoji = ?',
  addReaction: 'INSERT INTO message_reactions (message_id, user_id, emoji) VALUES (?, ?, ?)',
  removeReaction: 'DELETE FROM message_reactions WHERE message_id = ? AND user_id = ? AND emoji = ?',
  dropReactions: 'DELETE FROM message_reactions WHERE message_id = ?',
  setReactionCounts: 'UPDATE messages SET reactions = ? WHERE id = ? AND chat_id = ?',
  // The caller's reactions on a page: one key range (message, user) per message of the page.
  reactionsBy:
    'SELECT message_id, emoji FROM message_reactions WHERE message_id IN (SELECT value FROM json_each(?)) ' +
    'AND user_id = ?',
  setPin: 'UPDATE messages SET pinned_by = ?, pin_time = ? WHERE id = ? AND chat_id = ?',
  countPins: 'SELECT count(*) AS n FROM messages WHERE chat_id = ? AND pin_time IS NOT NULL',
  pins:
    `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE chat_id = :chat AND pin_time IS NOT NULL ` +
    'AND (pin_time < :time OR (pin_time = :time AND id < :id)) ORDER BY pin_time DESC, id DESC LIMIT :limit',
  readPosition: 'SELECT read_sequence FROM reads WHERE user_id = ? AND chat_id = ?',
  memberSettings:
    'SELECT chat_id, mute_until, archived FROM member_settings WHERE user_id = ? ' +
    'AND chat_id IN (SELECT value FROM json_each(?))',
  putMemberSettings:
    'INSERT INTO member_settings (user_id, chat_id, mute_until, archived) VALUES (?, ?, ?, ?) ' +
    'ON CONFLICT DO UPDATE SET mute_until = excluded.mute_until, archived = excluded.archived',
  listChatsByArchive:
    `SELECT ${CHAT_COLUMNS.replace(/(\w+)/g, 'c.$1')} FROM chat_members m JOIN chats c ON c.id = m.chat_id ` +
    'LEFT JOIN member_settings s ON s.user_id = m.user_id AND s.chat_id = m.chat_id ' +
    'WHERE m.user_id = :user AND coalesce(s.archived, 0) = :archived ' +
    'AND (c.last_activity_time < :time OR (c.last_activity_time = :time AND c.id < :id)) ' +
    'ORDER BY c.last_activity_time DESC, c.id DESC LIMIT :limit',
  addMention:
    'INSERT INTO message_mentions (chat_id, mentioned, sequence, sender_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
  removeMention: 'DELETE FROM message_mentions WHERE chat_id = ? AND mentioned = ? AND sequence = ?',
  // Per chat of the page, its mentions of the user above the read position, up to the cap. A message has at most
  // one row of the user's id and `*` (mentionKeysOf), so the rows count messages.
  countMentions:
    "SELECT p.value ->> '$.chatId' AS chat_id, (SELECT count(*) FROM (SELECT 1 FROM message_mentions " +
    "WHERE chat_id = p.value ->> '$.chatId' AND mentioned IN (:user, :all) AND sequence > p.value ->> '$.after' " +
    'AND sender_id <> :user LIMIT :cap)) AS n FROM json_each(:positions) p',
  presencePrivacy: 'SELECT privacy FROM presence_settings WHERE user_id = ?',
  setPresencePrivacy:
    'INSERT INTO presence_settings (user_id, privacy) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET privacy = excluded.privacy',
  forgetPresencePrivacy: 'DELETE FROM presence_settings WHERE user_id = ?',
} as const;

/** Messages indexed per transaction when the store opens on a backlog. */
const BACKLOG_BATCH = 1000;

/**
 * Chats, messages and read positions in a SQLite file (embedded mode): each
 * write, its checks and its outbox entries in one transaction. One process
 * owns the file and a transaction runs without awaiting, so posts to a chat
 * take its sequences one after the other: no gaps, no repeats. The outbox
 * is one sequence in commit order, which keeps every chat's events in order.
 */
export class SqliteChatStore implements ChatStore {
  readonly outbox: SqliteOutbox;
  readonly #db: SqliteDatabase;
  readonly #insertChat;
  readonly #getChat;
  readonly #findDirect;
  readonly #updateChat;
  readonly #addMember;
  readonly #removeMember;
  readonly #removeRead;
  readonly #listChats;
  readonly #chatIds;
  readonly #getInvitation;
  readonly #putInvitation;
  readonly #countInvitations;
  readonly #listInvitations;
  readonly #deleteInvitation;
  readonly #invite: { readonly [K in keyof typeof INVITE_SQL]: ReturnType<SqliteDatabase['prepare']> };
  readonly #attachment: { readonly [K in keyof typeof ATTACHMENT_SQL]: ReturnType<SqliteDatabase['prepare']> };
  readonly #byClientId;
  readonly #insertMessage;
  readonly #advanceChat;
  readonly #getMessage;
  readonly #messagesAt;
  readonly #history;
  readonly #countReply;
  readonly #replies;
  readonly #updateMessage;
  readonly #readPositions;
  readonly #markRead;
  readonly #countUnread;
  readonly #addTerm;
  readonly #removeTerm;
  readonly #search;
  readonly #searchOne;
  readonly #termHits;
  readonly #searchCandidates;
  readonly #termsOfMessages;
  readonly #commonTermHits: number;
  readonly #addVersion;
  readonly #dropVersions;
  readonly #versions;
  readonly #hasReaction;
  readonly #addReaction;
  readonly #removeReaction;
  readonly #dropReactions;
  readonly #setReactionCounts;
  readonly #reactionsBy;
  readonly #setPin;
  readonly #countPins;
  readonly #pins;
  readonly #readPosition;
  readonly #addMention;
  readonly #removeMention;
  readonly #countMentions;
  readonly #memberSettings;
  readonly #putMemberSettings;
  readonly #listChatsByArchive;
  readonly #presencePrivacy;
  readonly #setPresencePrivacy;
  readonly #forgetPresencePrivacy;

  constructor(db: SqliteDatabase, opts: SqliteChatStoreOptions = {}) {
    this.#db = db;
    this.outbox = new SqliteOutbox(db);
    this.#insertChat = db.prepare(CHAT_SQL.insertChat);
    this.#getChat = db.prepare(CHAT_SQL.getChat);
    this.#findDirect = db.prepare(CHAT_SQL.findDirect);
    this.#updateChat = db.prepare(CHAT_SQL.updateChat);
    this.#addMember = db.prepare(CHAT_SQL.addMember);
    this.#removeMember = db.prepare(CHAT_SQL.removeMember);
    this.#removeRead = db.prepare(CHAT_SQL.removeRead);
    this.#listChats = db.prepare(CHAT_SQL.listChats);
    this.#chatIds = db.prepare(CHAT_SQL.chatIds);
    this.#getInvitation = db.prepare(CHAT_SQL.getInvitation);
    this.#putInvitation = db.prepare(CHAT_SQL.putInvitation);
    this.#countInvitations = db.prepare(CHAT_SQL.countInvitations);
    this.#listInvitations = db.prepare(CHAT_SQL.listInvitations);
    this.#deleteInvitation = db.prepare(CHAT_SQL.deleteInvitation);
    this.#invite = {
      insert: db.prepare(INVITE_SQL.insert),
      prune: db.prepare(INVITE_SQL.prune),
      count: db.prepare(INVITE_SQL.count),
      list: db.prepare(INVITE_SQL.list),
      find: db.prepare(INVITE_SQL.find),
      delete: db.prepare(INVITE_SQL.delete),
      use: db.prepare(INVITE_SQL.use),
    };
    this.#attachment = {
      insert: db.prepare(ATTACHMENT_SQL.insert),
      countUnsent: db.prepare(ATTACHMENT_SQL.countUnsent),
      get: db.prepare(ATTACHMENT_SQL.get),
      complete: db.prepare(ATTACHMENT_SQL.complete),
      send: db.prepare(ATTACHMENT_SQL.send),
      release: db.prepare(ATTACHMENT_SQL.release),
      claim: db.prepare(ATTACHMENT_SQL.claim),
      delete: db.prepare(ATTACHMENT_SQL.delete),
    };
    this.#byClientId = db.prepare(CHAT_SQL.byClientId);
    this.#insertMessage = db.prepare(CHAT_SQL.insertMessage);
    this.#advanceChat = db.prepare(CHAT_SQL.advanceChat);
    this.#getMessage = db.prepare(CHAT_SQL.getMessage);
    this.#messagesAt = db.prepare(CHAT_SQL.messagesAt);
    this.#history = db.prepare(CHAT_SQL.history);
    this.#countReply = db.prepare(CHAT_SQL.countReply);
    this.#replies = db.prepare(CHAT_SQL.replies);
    this.#updateMessage = db.prepare(CHAT_SQL.updateMessage);
    this.#readPositions = db.prepare(CHAT_SQL.readPositions);
    this.#markRead = db.prepare(CHAT_SQL.markRead);
    this.#countUnread = db.prepare(CHAT_SQL.countUnread);
    this.#addTerm = db.prepare(CHAT_SQL.addTerm);
    this.#removeTerm = db.prepare(CHAT_SQL.removeTerm);
    this.#search = db.prepare(CHAT_SQL.search);
    this.#searchOne = db.prepare(CHAT_SQL.searchOne);
    this.#termHits = db.prepare(CHAT_SQL.termHits);
    this.#searchCandidates = db.prepare(CHAT_SQL.searchCandidates);
    this.#termsOfMessages = db.prepare(CHAT_SQL.termsOfMessages);
    this.#commonTermHits = opts.commonTermHits ?? COMMON_TERM_HITS;
    this.#addVersion = db.prepare(CHAT_SQL.addVersion);
    this.#dropVersions = db.prepare(CHAT_SQL.dropVersions);
    this.#versions = db.prepare(CHAT_SQL.versions);
    this.#hasReaction = db.prepare(CHAT_SQL.hasReaction);
    this.#addReaction = db.prepare(CHAT_SQL.addReaction);
    this.#removeReaction = db.prepare(CHAT_SQL.removeReaction);
    this.#dropReactions = db.prepare(CHAT_SQL.dropReactions);
    this.#setReactionCounts = db.prepare(CHAT_SQL.setReactionCounts);
    this.#reactionsBy = db.prepare(CHAT_SQL.reactionsBy);
    this.#setPin = db.prepare(CHAT_SQL.setPin);
    this.#countPins = db.prepare(CHAT_SQL.countPins);
    this.#pins = db.prepare(CHAT_SQL.pins);
    this.#readPosition = db.prepare(CHAT_SQL.readPosition);
    this.#addMention = db.prepare(CHAT_SQL.addMention);
    this.#removeMention = db.prepare(CHAT_SQL.removeMention);
    this.#countMentions = db.prepare(CHAT_SQL.countMentions);
    this.#memberSettings = db.prepare(CHAT_SQL.memberSettings);
    this.#putMemberSettings = db.prepare(CHAT_SQL.putMemberSettings);
    this.#listChatsByArchive = db.prepare(CHAT_SQL.listChatsByArchive);
    this.#presencePrivacy = db.prepare(CHAT_SQL.presencePrivacy);
    this.#setPresencePrivacy = db.prepare(CHAT_SQL.setPresencePrivacy);
    this.#forgetPresencePrivacy = db.prepare(CHAT_SQL.forgetPresencePrivacy);
    this.#indexBacklog();
  }

  /** Opens (creating or migrating) the store's file, `chat.db` in the data directory. */
  static open(file: string, opts: SqliteChatStoreOptions = {}): SqliteChatStore {
    return new SqliteChatStore(SqliteDatabase.open(file, [outboxSchema, chatSchema]), opts);
  }

  close(): void {
    this.#db.close();
  }

  async createChat(chat: Chat, entries: readonly OutboxEntry[]): Promise<void> {
    this.#db.transaction(() => {
      const inserted = this.#insertChat.run(
        chat.id,
        chat.type,
        chat.title,
        chat.ownerId,
        chat.directKey === '' ? null : chat.directKey,
        membersJson(chat.members),
        chat.createTime.getTime(),
        chat.lastActivityTime.getTime(),
        chat.lastSequence,
        chat.version,
        chat.description,
        chat.avatarUrl,
      );
      if (inserted.changes === 0) throw new StoreError('duplicate', 'the chat exists, or its pair has a direct chat');
      for (const m of chat.members) this.#addMember.run(m.userId, chat.id);
      this.outbox.append(entries);
    });
  }

  async getChat(chatId: string): Promise<Chat | undefined> {
    const row = this.#getChat.get(chatId) as ChatRow | undefined;
    return row && fromChatRow(row);
  }

  async findDirectChat(directKey: string): Promise<Chat | undefined> {
    const row = this.#findDirect.get(directKey) as ChatRow | undefined;
    return row && fromChatRow(row);
  }

  async updateChat(chat: Chat, entries: readonly OutboxEntry[], notice?: Notice<OutboxEntry>): Promise<void> {
    this.#db.transaction(() => {
      this.#replaceChat(chat, entries);
      if (notice) this.#postNotice(notice);
    });
  }

  /** A notice's post, inside the caller's transaction after the change: the next sequence, to the members now. */
  #postNotice(notice: Notice<OutboxEntry>): void {
    const row = this.#getChat.get(notice.draft.chatId) as unknown as ChatRow;
    const message = postedMessage(notice.draft, row.last_sequence + 1);
    const entry = notice.eventOf(
      message,
      (JSON.parse(row.members) as MemberJson[]).map((m) => m.userId),
    );
    this.#insertMessage.run(...messageValues(message));
    this.#advanceChat.run(message.sequence, message.createTime.getTime(), message.chatId);
    this.outbox.append([entry]);
  }

  /** `updateChat`'s writes, inside the caller's transaction. */
  #replaceChat(chat: Chat, entries: readonly OutboxEntry[]): void {
    const before = this.#getChat.get(chat.id) as ChatRow | undefined;
    const updated = this.#updateChat.run(
      chat.title,
      chat.ownerId,
      membersJson(chat.members),
      chat.description,
      chat.avatarUrl,
      chat.version,
      chat.id,
      chat.version - 1,
    );
    if (!before || updated.changes === 0) throw new StoreError('conflict', 'the chat changed or is gone');
    const now = new Set(chat.members.map((m) => m.userId));
    for (const m of JSON.parse(before.members) as MemberJson[]) {
      if (!now.has(m.userId)) {
        this.#removeMember.run(m.userId, chat.id);
        this.#removeRead.run(m.userId, chat.id);
      }
    }
    for (const id of now) this.#addMember.run(id, chat.id);
    this.outbox.append(entries);
  }

  async listChatsOf(userId: string, after: ActivityCursor | undefined, limit: number): Promise<Chat[]> {
    const rows = this.#listChats.all({
      user: userId,
      time: after?.lastActivityTime.getTime() ?? ABOVE_ALL,
      id: after?.chatId ?? '',
      limit,
    });
    return (rows as unknown as ChatRow[]).map(fromChatRow);
  }

  async chatIdsOf(userId: string, afterId: string | undefined, limit: number): Promise<string[]> {
    const rows = this.#chatIds.all(userId, afterId ?? '', limit) as { chat_id: string }[];
    return rows.map((r) => r.chat_id);
  }

  async putInvitation(
    invitation: Invitation,
    entries: readonly OutboxEntry[],
    maxPending: number,
  ): Promise<InviteResult> {
    const now = invitation.createTime.getTime();
    return this.#db.transaction((): InviteResult => {
      const current = this.#getInvitation.get(invitation.inviteeId, invitation.chatId) as InvitationRow | undefined;
      if (current && current.expire_time > now) return 'existing';
      const pending = (this.#countInvitations.get(invitation.inviteeId, now) as { n: number }).n;
      if (pending >= maxPending) return 'limit';
      this.#putInvitation.run(
        invitation.inviteeId,
        invitation.chatId,
        invitation.inviterId,
        invitation.title,
        now,
        invitation.expireTime.getTime(),
      );
      this.outbox.append(entries);
      return 'created';
    });
  }

  async getInvitation(chatId: string, inviteeId: string): Promise<Invitation | undefined> {
    const row = this.#getInvitation.get(inviteeId, chatId) as InvitationRow | undefined;
    return row && fromInvitationRow(row);
  }

  async listInvitations(
    inviteeId: string,
    now: Date,
    after: InvitationCursor | undefined,
    limit: number,
  ): Promise<Invitation[]> {
    const rows = this.#listInvitations.all({
      user: inviteeId,
      now: now.getTime(),
      time: after?.createTime.getTime() ?? ABOVE_ALL,
      id: after?.chatId ?? '',
      limit,
    });
    return (rows as unknown as InvitationRow[]).map(fromInvitationRow);
  }

  async countPendingInvitations(inviteeId: string, now: Date): Promise<number> {
    return (this.#countInvitations.get(inviteeId, now.getTime()) as { n: number }).n;
  }

  async deleteInvitation(chatId: string, inviteeId: string): Promise<boolean> {
    return this.#deleteInvitation.run(inviteeId, chatId).changes > 0;
  }

  async acceptInvitation(
    chat: Chat,
    inviteeId: string,
    entries: readonly OutboxEntry[],
    notice?: Notice<OutboxEntry>,
  ): Promise<void> {
    this.#db.transaction(() => {
      if (this.#deleteInvitation.run(inviteeId, chat.id).changes === 0) {
        throw new StoreError('conflict', 'the invitation is gone');
      }
      this.#replaceChat(chat, entries);
      if (notice) this.#postNotice(notice);
    });
  }

  async putChatInvite(invite: ChatInvite, maxLinks: number): Promise<'created' | 'limit'> {
    return this.#db.transaction(() => {
      this.#invite.prune.run(invite.chatId, invite.createTime.getTime());
      if ((this.#invite.count.get(invite.chatId) as { n: number }).n >= maxLinks) return 'limit';
      this.#invite.insert.run(
        invite.id,
        invite.chatId,
        invite.tokenHash,
        invite.creatorId,
        invite.createTime.getTime(),
        invite.expireTime.getTime(),
        invite.useLimit,
        invite.useCount,
      );
      return 'created';
    });
  }

  async listChatInvites(chatId: string, after: ChatInviteCursor | undefined, limit: number): Promise<ChatInvite[]> {
    const rows = this.#invite.list.all({
      chat: chatId,
      time: after?.createTime.getTime() ?? ABOVE_ALL,
      id: after?.inviteId ?? '',
      limit,
    });
    return (rows as unknown as ChatInviteRow[]).map(fromChatInviteRow);
  }

  async findChatInvite(tokenHash: string): Promise<ChatInvite | undefined> {
    const row = this.#invite.find.get(tokenHash) as ChatInviteRow | undefined;
    return row && fromChatInviteRow(row);
  }

  async deleteChatInvite(chatId: string, inviteId: string): Promise<boolean> {
    return this.#invite.delete.run(chatId, inviteId).changes > 0;
  }

  async useChatInvite(
    chat: Chat,
    inviteId: string,
    entries: readonly OutboxEntry[],
    notice: Notice<OutboxEntry>,
  ): Promise<void> {
    this.#db.transaction(() => {
      if (this.#invite.use.run(chat.id, inviteId).changes === 0) {
        throw new StoreError('conflict', 'the invite link is used up or gone');
      }
      this.#replaceChat(chat, entries);
      this.#postNotice(notice);
    });
  }

  async appendMessage(
    draft: MessageDraft,
    entryOf: (message: Message, memberIds: readonly string[]) => OutboxEntry,
  ): Promise<AppendResult> {
    try {
      return this.#append(draft, entryOf);
    } catch (error) {
      if (error instanceof AttachmentGone) return { kind: 'attachment_gone', attachmentId: error.attachmentId };
      throw error;
    }
  }

  #append(draft: MessageDraft, entryOf: (message: Message, memberIds: readonly string[]) => OutboxEntry): AppendResult {
    return this.#db.transaction((): AppendResult => {
      const row = this.#getChat.get(draft.chatId) as ChatRow | undefined;
      const memberIds = row ? (JSON.parse(row.members) as MemberJson[]).map((m) => m.userId) : [];
      if (!row || !memberIds.includes(draft.senderId)) return { kind: 'not_member' };
      const existing = this.#byClientId.get(draft.chatId, draft.senderId, draft.clientMessageId) as
        | MessageRow
        | undefined;
      if (existing) return { kind: 'existing', message: fromMessageRow(existing) };
      const message = postedMessage(draft, row.last_sequence + 1);
      const entry = entryOf(message, memberIds);
      for (const a of message.attachments) {
        const sent = this.#attachment.send.run(message.id, a.id, draft.chatId, draft.senderId);
        if (sent.changes === 0) throw new AttachmentGone(a.id);
      }
      this.#insertMessage.run(...messageValues(message));
      this.#indexText(message, message.text, true);
      this.#indexMentions(message, message.entities, true);
      if (draft.replyTo) {
        const counted = this.#countReply.run(draft.createTime.getTime(), draft.replyTo.messageId, draft.chatId);
        if (counted.changes === 0) throw new Error('a reply to a message not in its chat');
      }
      this.#advanceChat.run(message.sequence, draft.createTime.getTime(), draft.chatId);
      this.outbox.append([entry]);
      return { kind: 'created', message };
    });
  }

  async getMessage(chatId: string, messageId: string): Promise<Message | undefined> {
    const row = this.#getMessage.get(messageId, chatId) as MessageRow | undefined;
    return row && fromMessageRow(row);
  }

  async messagesAt(refs: readonly { readonly chatId: string; readonly sequence: number }[]): Promise<Message[]> {
    if (refs.length === 0) return [];
    const rows = this.#messagesAt.all(JSON.stringify(refs.map((r) => ({ chatId: r.chatId, sequence: r.sequence }))));
    return (rows as unknown as MessageRow[]).map(fromMessageRow);
  }

  async listMessages(chatId: string, beforeSequence: number | undefined, limit: number): Promise<Message[]> {
    const rows = this.#history.all(chatId, beforeSequence ?? ABOVE_ALL, limit);
    return (rows as unknown as MessageRow[]).map(fromMessageRow);
  }

  async listReplies(
    chatId: string,
    parentId: string,
    afterSequence: number | undefined,
    limit: number,
  ): Promise<Message[]> {
    const rows = this.#replies.all(chatId, parentId, afterSequence ?? 0, limit);
    return (rows as unknown as MessageRow[]).map(fromMessageRow);
  }

  async updateMessage(message: Message, entries: readonly OutboxEntry[]): Promise<void> {
    this.#db.transaction(() => {
      const before = this.#getMessage.get(message.id, message.chatId) as MessageRow | undefined;
      const updated = this.#updateMessage.run(
        message.text,
        message.editTime?.getTime() ?? null,
        message.deleted ? 1 : 0,
        message.deletedBy,
        message.version,
        JSON.stringify(message.entities),
        attachmentsJson(message.attachments),
        message.chatId,
        message.sequence,
        message.id,
        message.version - 1,
      );
      if (!before || updated.changes === 0) throw new StoreError('conflict', 'the message changed or is gone');
      this.#indexText(message, before.text, false);
      this.#indexText(message, message.text, true);
      this.#indexMentions(message, entitiesOf(before), false);
      this.#indexMentions(message, message.entities, true);
      if (message.deleted) {
        this.#dropVersions.run(message.id, ABOVE_ALL);
        this.#dropReactions.run(message.id);
        this.#setReactionCounts.run('[]', message.id, message.chatId);
        this.#setPin.run(null, null, message.id, message.chatId);
        this.#attachment.release.run(message.id);
      } else if (message.text !== before.text) {
        const kept = versionOf(fromMessageRow(before), message.editTime ?? new Date());
        this.#addVersion.run(message.id, kept.version, kept.text, kept.time.getTime(), kept.replaceTime.getTime());
        this.#dropVersions.run(message.id, kept.version - MAX_KEPT_VERSIONS + 1);
      }
      this.outbox.append(entries);
    });
  }

  async putAttachment(attachment: Attachment, maxUnsent: number): Promise<'created' | 'limit'> {
    return this.#db.transaction(() => {
      const unsent = (this.#attachment.countUnsent.get(attachment.uploaderId) as { n: number }).n;
      if (unsent >= maxUnsent) return 'limit';
      this.#attachment.insert.run(...attachmentValues(attachment));
      return 'created';
    });
  }

  async getAttachment(attachmentId: string): Promise<Attachment | undefined> {
    const row = this.#attachment.get.get(attachmentId) as AttachmentRow | undefined;
    return row && fromAttachmentRow(row);
  }

  async completeAttachment(a: Attachment): Promise<boolean> {
    const done = this.#attachment.complete.run(
      a.mediaType,
      a.sizeBytes,
      a.width,
      a.height,
      a.hasThumbnail ? 1 : 0,
      a.id,
    );
    return done.changes > 0;
  }

  async claimAttachmentGarbage(now: Date, cutoffs: GarbageCutoffs, limit: number): Promise<Attachment[]> {
    const rows = this.#attachment.claim.all({
      now: now.getTime(),
      pending: cutoffs.pendingBefore.getTime(),
      uploaded: cutoffs.uploadedBefore.getTime(),
      claimed: cutoffs.claimedBefore.getTime(),
      limit,
    });
    return (rows as unknown as AttachmentRow[]).map(fromAttachmentRow);
  }

  async deleteAttachments(attachmentIds: readonly string[]): Promise<void> {
    this.#db.transaction(() => {
      for (const id of attachmentIds) this.#attachment.delete.run(id);
    });
  }

  async readPositions(userId: string, chatIds: readonly string[]): Promise<Map<string, number>> {
    const positions = new Map(chatIds.map((id) => [id, 0]));
    if (chatIds.length === 0) return positions;
    const rows = this.#readPositions.all(userId, JSON.stringify(chatIds)) as {
      chat_id: string;
      read_sequence: number;
    }[];
    for (const row of rows) positions.set(row.chat_id, row.read_sequence);
    return positions;
  }

  async markRead(chatId: string, userId: string, upTo: number): Promise<number> {
    // One statement: atomic on its own.
    return (this.#markRead.get(userId, chatId, upTo) as { read_sequence: number }).read_sequence;
  }

  async countUnread(
    userId: string,
    positions: readonly { readonly chatId: string; readonly afterSequence: number }[],
    cap: number,
  ): Promise<Map<string, number>> {
    // One bounded index range per chat: in-process, so a statement per chat costs no round trip.
    const counts = new Map<string, number>();
    for (const { chatId, afterSequence } of positions) {
      counts.set(chatId, (this.#countUnread.get(chatId, afterSequence, userId, cap) as { n: number }).n);
    }
    return counts;
  }

  async searchMessages(
    chatIds: readonly string[],
    terms: readonly string[],
    after: SearchCursor | undefined,
    limit: number,
  ): Promise<SearchHit[]> {
    if (chatIds.length === 0 || terms.length === 0) return [];
    const distinct = [...new Set(terms)];
    const bounds = {
      chats: JSON.stringify(chatIds),
      time: after?.createTime.getTime() ?? ABOVE_ALL,
      id: after?.messageId ?? '',
      limit,
    };
    const n = after?.matchedTerms ?? ABOVE_ALL;
    const rows = (distinct.length === 1
      ? this.#searchOne.all({ ...bounds, term: distinct[0] as string })
      : (this.#prunedSearch(distinct, bounds, n) ??
        this.#search.all({ ...bounds, terms: JSON.stringify(distinct), n }))) as unknown as {
      chat_id: string;
      sequence: number;
      n: number;
    }[];
    if (rows.length === 0) return [];
    // Read in the same synchronous step as the ranking: no write comes between.
    const messages = this.#messagesAt.all(
      JSON.stringify(rows.map((r) => ({ chatId: r.chat_id, sequence: r.sequence }))),
    ) as unknown as MessageRow[];
    const byKey = new Map(messages.map((m) => [`${m.chat_id}|${m.sequence}`, fromMessageRow(m)]));
    return rows.flatMap((row) => {
      const message = byKey.get(`${row.chat_id}|${row.sequence}`);
      return message ? [{ message, matchedTerms: row.n }] : [];
    });
  }

  /**
   * A search of several terms ranked without counting the hits of its
   * common ones. With the terms in order of their hits, rarest first, the
   * first `j` are counted and the other `m` looked up by key per candidate:
   * a message with none of the first `j` has at most `m` terms, so if a page
   * of the candidates (messages with one of the first `j`) after the cursor
   * has more than `m` terms, no other message can rank among them. `j`
   * starts at the rare terms (fewer than `commonTermHits` hits) and grows
   * one term at a time while the counted hits stay below
   * `COUNTED_HITS_FACTOR` × `commonTermHits`. Undefined when no step fills
   * the page (or no term is common): the caller counts every hit.
   */
  #prunedSearch(
    terms: readonly string[],
    bounds: { chats: string; time: number; id: string; limit: number },
    n: number,
  ): RankedRow[] | undefined {
    const budget = this.#commonTermHits * COUNTED_HITS_FACTOR;
    // Hits per term, counted up to the budget (a term with that many is never counted).
    const hits = new Map(terms.map((term) => [term, (this.#termHits.get({ term, cap: budget }) as { n: number }).n]));
    const order = [...terms].sort((a, b) => (hits.get(a) ?? 0) - (hits.get(b) ?? 0));
    const rare = order.filter((term) => (hits.get(term) ?? 0) < this.#commonTermHits).length;
    if (rare === order.length) return undefined;
    let countedHits = order.slice(0, rare).reduce((sum, term) => sum + (hits.get(term) ?? 0), 0);
    for (let j = Math.max(rare, 1); j < order.length; j++) {
      if (j > rare) countedHits += hits.get(order[j - 1] as string) ?? 0;
      if (countedHits >= budget) return undefined;
      const ranked = this.#rankCandidates(order.slice(0, j), order.slice(j), bounds, n);
      if (ranked) return ranked;
    }
    return undefined;
  }

  /** The page after the cursor among the messages with one of `counted`, if it fills with more than `lookedUp.length` terms each. */
  #rankCandidates(
    counted: readonly string[],
    lookedUp: readonly string[],
    bounds: { chats: string; time: number; id: string; limit: number },
    n: number,
  ): RankedRow[] | undefined {
    const candidates = this.#searchCandidates.all({
      terms: JSON.stringify(counted),
      chats: bounds.chats,
    }) as unknown as RankedRow[];
    if (candidates.length < bounds.limit) return undefined;
    const more = this.#termsOfMessages.all({
      messages: JSON.stringify(candidates.map((c) => [c.chat_id, c.sequence])),
      terms: JSON.stringify(lookedUp),
    }) as unknown as { i: number; n: number }[];
    for (const { i, n: extra } of more) {
      const candidate = candidates[i];
      if (candidate) candidate.n += extra;
    }
    const ranked = candidates
      .filter((c) => c.n > lookedUp.length && ranksAfter(c, n, bounds.time, bounds.id))
      .sort(byRank);
    return ranked.length >= bounds.limit ? ranked.slice(0, bounds.limit) : undefined;
  }

  async listMessageVersions(
    _chatId: string,
    messageId: string,
    beforeVersion: number | undefined,
    limit: number,
  ): Promise<MessageVersion[]> {
    const rows = this.#versions.all(messageId, beforeVersion ?? ABOVE_ALL, limit) as {
      version: number;
      text: string;
      time: number;
      replace_time: number;
    }[];
    return rows.map((r) => ({
      version: r.version,
      text: r.text,
      time: new Date(r.time),
      replaceTime: new Date(r.replace_time),
    }));
  }

  async setReaction(
    draft: ReactionDraft,
    maxEmoji: number,
    entryOf: (message: Message) => OutboxEntry,
  ): Promise<ReactionResult> {
    return this.#db.transaction((): ReactionResult => {
      const row = this.#getMessage.get(draft.messageId, draft.chatId) as MessageRow | undefined;
      if (!row) return { kind: 'not_found' };
      const current = fromMessageRow(row);
      if (current.deleted) return { kind: 'deleted' };
      const has = this.#hasReaction.get(draft.messageId, draft.userId, draft.emoji) !== undefined;
      if (has === draft.add) return { kind: 'unchanged', message: current };
      const isNew = !current.reactions.some((r) => r.emoji === draft.emoji);
      if (draft.add && isNew && current.reactions.length >= maxEmoji) return { kind: 'limit' };
      const after: Message = {
        ...current,
        reactions: withReaction(current.reactions, draft.emoji, draft.add ? 1 : -1),
      };
      const entry = entryOf(after);
      if (draft.add) this.#addReaction.run(draft.messageId, draft.userId, draft.emoji);
      else this.#removeReaction.run(draft.messageId, draft.userId, draft.emoji);
      this.#setReactionCounts.run(JSON.stringify(after.reactions), draft.messageId, draft.chatId);
      this.outbox.append([entry]);
      return { kind: 'changed', message: after };
    });
  }

  async reactionsBy(userId: string, messageIds: readonly string[]): Promise<Map<string, string[]>> {
    const found = new Map<string, string[]>();
    if (messageIds.length === 0) return found;
    const rows = this.#reactionsBy.all(JSON.stringify(messageIds), userId) as { message_id: string; emoji: string }[];
    for (const row of rows) found.set(row.message_id, [...(found.get(row.message_id) ?? []), row.emoji]);
    return found;
  }

  async setPin(draft: PinDraft, maxPins: number, entryOf: (message: Message) => OutboxEntry): Promise<PinResult> {
    return this.#db.transaction((): PinResult => {
      const row = this.#getMessage.get(draft.messageId, draft.chatId) as MessageRow | undefined;
      if (!row) return { kind: 'not_found' };
      const current = fromMessageRow(row);
      if (draft.pin && current.deleted) return { kind: 'deleted' };
      if ((current.pin !== undefined) === draft.pin) return { kind: 'unchanged', message: current };
      if (draft.pin && (this.#countPins.get(draft.chatId) as { n: number }).n >= maxPins) return { kind: 'limit' };
      const pin = draft.pin ? { userId: draft.userId, time: draft.time } : undefined;
      const after: Message = { ...current, pin };
      const entry = entryOf(after);
      this.#setPin.run(pin?.userId ?? null, pin?.time.getTime() ?? null, draft.messageId, draft.chatId);
      this.outbox.append([entry]);
      return { kind: 'changed', message: after };
    });
  }

  async listPins(chatId: string, after: PinCursor | undefined, limit: number): Promise<Message[]> {
    const rows = this.#pins.all({
      chat: chatId,
      time: after?.pinTime.getTime() ?? ABOVE_ALL,
      id: after?.messageId ?? '',
      limit,
    });
    return (rows as unknown as MessageRow[]).map(fromMessageRow);
  }

  async readPositionsOf(refs: readonly { readonly chatId: string; readonly userId: string }[]): Promise<number[]> {
    // In-process lookups on the primary key: no round trip to save by batching them.
    return refs.map(
      (r) => (this.#readPosition.get(r.userId, r.chatId) as { read_sequence: number } | undefined)?.read_sequence ?? 0,
    );
  }

  async countUnreadMentions(
    userId: string,
    positions: readonly { readonly chatId: string; readonly afterSequence: number }[],
    cap: number,
  ): Promise<Map<string, number>> {
    const counts = new Map(positions.map((p) => [p.chatId, 0]));
    if (positions.length === 0) return counts;
    const rows = this.#countMentions.all({
      user: userId,
      all: MENTION_ALL_KEY,
      cap,
      positions: JSON.stringify(positions.map((p) => ({ chatId: p.chatId, after: p.afterSequence }))),
    }) as { chat_id: string; n: number }[];
    for (const row of rows) counts.set(row.chat_id, row.n);
    return counts;
  }

  async memberSettings(userId: string, chatIds: readonly string[]): Promise<Map<string, MemberSettings>> {
    const settings = new Map<string, MemberSettings>();
    if (chatIds.length === 0) return settings;
    const rows = this.#memberSettings.all(userId, JSON.stringify(chatIds)) as {
      chat_id: string;
      mute_until: number | null;
      archived: number;
    }[];
    for (const row of rows) {
      settings.set(row.chat_id, {
        muteUntil: row.mute_until === null ? undefined : new Date(row.mute_until),
        archived: row.archived === 1,
      });
    }
    return settings;
  }

  async putMemberSettings(
    chatId: string,
    userId: string,
    settings: MemberSettings,
    entries: readonly OutboxEntry[],
  ): Promise<void> {
    this.#db.transaction(() => {
      this.#putMemberSettings.run(userId, chatId, settings.muteUntil?.getTime() ?? null, settings.archived ? 1 : 0);
      this.outbox.append(entries);
    });
  }

  async listChatsByArchive(
    userId: string,
    archived: boolean,
    after: ActivityCursor | undefined,
    limit: number,
  ): Promise<Chat[]> {
    const rows = this.#listChatsByArchive.all({
      user: userId,
      archived: archived ? 1 : 0,
      time: after?.lastActivityTime.getTime() ?? ABOVE_ALL,
      id: after?.chatId ?? '',
      limit,
    });
    return (rows as unknown as ChatRow[]).map(fromChatRow);
  }

  /** Adds who a message's text mentions to `message_mentions`, or removes them; inside the caller's transaction. */
  #indexMentions(
    message: Pick<Message, 'chatId' | 'sequence' | 'senderId'>,
    entities: readonly MessageEntity[],
    add: boolean,
  ): void {
    for (const key of mentionKeysOf({ entities })) {
      if (add) this.#addMention.run(message.chatId, key, message.sequence, message.senderId);
      else this.#removeMention.run(message.chatId, key, message.sequence);
    }
  }

  async presencePrivacies(userIds: readonly string[]): Promise<Map<string, PresencePrivacy>> {
    const found = new Map<string, PresencePrivacy>();
    for (const id of userIds) {
      const row = this.#presencePrivacy.get(id) as { privacy: PresencePrivacy } | undefined;
      if (row) found.set(id, row.privacy);
    }
    return found;
  }

  async setPresencePrivacy(userId: string, privacy: PresencePrivacy): Promise<void> {
    this.#setPresencePrivacy.run(userId, privacy);
  }

  async forgetPresencePrivacy(userId: string): Promise<void> {
    this.#forgetPresencePrivacy.run(userId);
  }

  /** Adds the terms of a message's text to the search index, or removes them; inside the caller's transaction. */
  #indexText(message: Pick<Message, 'chatId' | 'sequence' | 'createTime' | 'id'>, text: string, add: boolean): void {
    const { chatId, sequence } = message;
    for (const term of searchTermsOf(text)) {
      if (add) this.#addTerm.run(term, chatId, sequence, message.createTime.getTime(), message.id);
      else this.#removeTerm.run(term, chatId, sequence);
    }
  }

  /** Indexes the messages stored before the search index existed, a batch per transaction. */
  #indexBacklog(): void {
    const read = this.#db.prepare(CHAT_SQL.backlog);
    const clear = this.#db.prepare(CHAT_SQL.clearBacklog);
    for (;;) {
      const rows = read.all(0, BACKLOG_BATCH) as {
        backlog_id: number;
        chat_id: string;
        sequence: number;
        create_time: number;
        id: string;
        text: string;
      }[];
      const last = rows.at(-1);
      if (!last) return;
      this.#db.transaction(() => {
        for (const row of rows) {
          const message = {
            chatId: row.chat_id,
            sequence: row.sequence,
            createTime: new Date(row.create_time),
            id: row.id,
          };
          this.#indexText(message, row.text, true);
        }
        clear.run(last.backlog_id);
      });
    }
  }
}

function membersJson(members: readonly Member[]): string {
  return JSON.stringify(
    members.map(
      (m): MemberJson => ({
        userId: m.userId,
        role: m.role,
        nickname: m.nickname,
        avatarUrl: m.avatarUrl,
        joinTime: m.joinTime.getTime(),
        ...(m.profileTime ? { profileTime: m.profileTime.getTime() } : {}),
      }),
    ),
  );
}

function fromChatRow(row: ChatRow): Chat {
  return {
    id: row.id,
    type: row.type,
    title: row.title,
    ownerId: row.owner_id,
    directKey: row.direct_key ?? '',
    members: (JSON.parse(row.members) as MemberJson[]).map(
      (m): Member => ({
        userId: m.userId,
        role: m.role,
        nickname: m.nickname,
        avatarUrl: m.avatarUrl,
        joinTime: new Date(m.joinTime),
        profileTime: m.profileTime === undefined ? undefined : new Date(m.profileTime),
      }),
    ),
    createTime: new Date(row.create_time),
    lastActivityTime: new Date(row.last_activity_time),
    lastSequence: row.last_sequence,
    version: row.version,
    description: row.description,
    avatarUrl: row.avatar_url,
  };
}

function fromChatInviteRow(row: ChatInviteRow): ChatInvite {
  return {
    id: row.id,
    chatId: row.chat_id,
    tokenHash: row.token_hash,
    creatorId: row.creator_id,
    createTime: new Date(row.create_time),
    expireTime: new Date(row.expire_time),
    useLimit: row.use_limit,
    useCount: row.use_count,
  };
}

function fromInvitationRow(row: InvitationRow): Invitation {
  return {
    chatId: row.chat_id,
    inviteeId: row.invitee_id,
    inviterId: row.inviter_id,
    title: row.title,
    createTime: new Date(row.create_time),
    expireTime: new Date(row.expire_time),
  };
}

/** The values of `MESSAGE_COLUMNS`, in order. */
function messageValues(m: Message): (string | number | null)[] {
  return [
    m.chatId,
    m.sequence,
    m.id,
    m.senderId,
    m.clientMessageId,
    m.text,
    m.createTime.getTime(),
    m.editTime?.getTime() ?? null,
    m.deleted ? 1 : 0,
    m.version,
    m.replyTo?.messageId ?? null,
    m.replyTo?.senderId ?? null,
    m.replyTo?.text ?? null,
    m.replyCount,
    m.lastReplyTime?.getTime() ?? null,
    m.deletedBy,
    m.system ? JSON.stringify(m.system) : null,
    JSON.stringify(m.reactions),
    m.pin?.userId ?? null,
    m.pin?.time.getTime() ?? null,
    JSON.stringify(m.entities),
    attachmentsJson(m.attachments),
  ];
}

function attachmentsJson(attachments: readonly Attachment[]): string {
  return JSON.stringify(attachments.map((a): AttachmentJson => ({ ...a, createTime: a.createTime.getTime() })));
}

function attachmentValues(a: Attachment): (string | number)[] {
  return [
    a.id,
    a.chatId,
    a.uploaderId,
    a.state,
    a.messageId,
    a.fileName,
    a.mediaType,
    a.sizeBytes,
    a.width,
    a.height,
    a.hasThumbnail ? 1 : 0,
    a.createTime.getTime(),
    0,
  ];
}

function fromAttachmentRow(row: AttachmentRow): Attachment {
  return {
    id: row.id,
    chatId: row.chat_id,
    uploaderId: row.uploader_id,
    fileName: row.file_name,
    createTime: new Date(row.create_time),
    state: row.state,
    messageId: row.message_id,
    mediaType: row.media_type,
    sizeBytes: row.size_bytes,
    width: row.width,
    height: row.height,
    hasThumbnail: row.has_thumbnail === 1,
  };
}

function entitiesOf(row: MessageRow): MessageEntity[] {
  return JSON.parse(row.entities) as MessageEntity[];
}

function fromMessageRow(row: MessageRow): Message {
  return {
    id: row.id,
    chatId: row.chat_id,
    sequence: row.sequence,
    senderId: row.sender_id,
    clientMessageId: row.client_message_id,
    text: row.text,
    createTime: new Date(row.create_time),
    editTime: row.edit_time === null ? undefined : new Date(row.edit_time),
    deleted: row.deleted === 1,
    version: row.version,
    replyTo:
      row.reply_to_id === null
        ? undefined
        : { messageId: row.reply_to_id, senderId: row.reply_to_sender_id ?? '', text: row.reply_to_text ?? '' },
    replyCount: row.reply_count,
    lastReplyTime: row.last_reply_time === null ? undefined : new Date(row.last_reply_time),
    deletedBy: row.deleted_by,
    // JSON leaves out the fields a kind has no value for.
    system:
      row.system === null
        ? undefined
        : ({ role: undefined, profile: undefined, ...(JSON.parse(row.system) as Partial<SystemEvent>) } as SystemEvent),
    reactions: JSON.parse(row.reactions) as ReactionCount[],
    pin: row.pin_time === null ? undefined : { userId: row.pinned_by ?? '', time: new Date(row.pin_time) },
    entities: entitiesOf(row),
    attachments: (JSON.parse(row.attachments) as AttachmentJson[]).map((a) => ({
      ...a,
      createTime: new Date(a.createTime),
    })),
  };
}
