import type { OutboxEntry } from '@messenger/platform/events';
import {
  isDuplicateKeyError,
  type MongoStoreOptions,
  type OpenedMongoStore,
  openMongoStore,
  reconcileIndexes,
} from '@messenger/platform/mongo';
import type { ClientSession, Collection, Document, Filter, MongoClient, Sort } from 'mongodb';
import {
  type Attachment,
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
import { type AppendEntries, ChatOutbox } from './chat-outbox.ts';

interface MemberDoc {
  userId: string;
  role: MemberRole;
  nickname: string;
  avatarUrl: string;
  joinTime: Date;
  profileTime?: Date;
}

export interface ChatDoc {
  _id: string;
  type: ChatType;
  title: string;
  /** Absent on chats written before group profiles existed: read as empty. */
  description?: string;
  avatarUrl?: string;
  ownerId: string;
  /** Only on direct chats: the partial unique index makes it one chat per pair. */
  directKey?: string;
  members: MemberDoc[];
  /** The members who archived the chat (their own setting); absent when none has. */
  archivedBy?: string[];
  /** The members' ids: the multikey index of "a user's chats". */
  memberIds: string[];
  createTime: Date;
  lastActivityTime: Date;
  /** The newest message's sequence: `$inc`ed to take the next one. */
  lastSequence: number;
  /** The chat's outbox counter (see ChatOutbox). */
  eventSequence: number;
  version: number;
  /**
   * When its newest invite link was made; absent before the first. Each new
   * link writes it, so two made at once conflict on this document and the
   * link count checked in one transaction holds in the other.
   */
  lastInviteTime?: Date;
}

export interface MessageDoc {
  /** The message id. */
  _id: string;
  chatId: string;
  sequence: number;
  senderId: string;
  clientMessageId: string;
  text: string;
  createTime: Date;
  editTime?: Date;
  deleted: boolean;
  version: number;
  /** For a reply, the quote of its parent; absent otherwise. */
  replyTo?: { messageId: string; senderId: string; text: string };
  /** Absent on messages written before replies existed: read as 0. */
  replyCount?: number;
  lastReplyTime?: Date;
  /** Who deleted a tombstone; absent when not deleted, or deleted before deleters were recorded. */
  deletedBy?: string;
  /** Only on a system message: the group change it records. */
  system?: SystemEvent;
  /** The distinct search terms of the current text (`searchTermsOf`); absent until indexed, empty when deleted. */
  terms?: string[];
  /** The reaction counts in first reaction order; absent on messages written before reactions existed: read as none. */
  reactions?: { emoji: string; count: number }[];
  /** Present while pinned: the `pins` index, partial on it, is the chat's pinned list. */
  pin?: { userId: string; time: Date };
  /** The mentions in the current text; absent on messages written before mentions existed. */
  entities?: MessageEntity[];
  /** Who the current text mentions, `*` for `@all` (`mentionKeysOf`), for counting unread mentions. */
  mentions?: string[];
  /** The attachments as sent; absent on messages written before attachments existed, and when there are none. */
  attachments?: Attachment[];
}

interface ReactionDoc {
  /** `<message id>:<user id>:<emoji>`: one reaction per member and emoji. */
  _id: string;
  messageId: string;
  userId: string;
  emoji: string;
}

interface InvitationDoc {
  /** `<chat id>:<invitee id>`: one invitation per user and chat. */
  _id: string;
  chatId: string;
  inviteeId: string;
  inviterId: string;
  title: string;
  createTime: Date;
  expireTime: Date;
}

/** An attachment: `Attachment` with its id as `_id`, and when a collector claimed it. */
type AttachmentDoc = Omit<Attachment, 'id'> & { _id: string; claimTime: Date };

interface ChatInviteDoc {
  /** The link id. */
  _id: string;
  chatId: string;
  tokenHash: string;
  creatorId: string;
  createTime: Date;
  expireTime: Date;
  /** 0: no limit. */
  useLimit: number;
  useCount: number;
}

export interface VersionDoc {
  /** `<message id>:<version>`. */
  _id: string;
  messageId: string;
  version: number;
  text: string;
  time: Date;
  replaceTime: Date;
}

interface SettingsDoc {
  /** `<chat id>:<user id>`. */
  _id: string;
  chatId: string;
  userId: string;
  muteUntil?: Date;
  archived: boolean;
}

interface ReadDoc {
  /** `<chat id>:<user id>`. */
  _id: string;
  chatId: string;
  userId: string;
  readSequence: number;
}

/**
 * Chats, messages and read positions in MongoDB. Writes that publish run in
 * a transaction with their outbox entries, so they need a replica set.
 *
 * Collections and the queries they serve (each one index range):
 * - `chats`: a chat with its members (and their profile copies) embedded;
 *   `member_activity` (memberIds, lastActivityTime↓, _id↓) lists a user's
 *   chats by activity, `member_chats` (memberIds, _id) walks them stably,
 *   `direct_pair` (directKey, unique, partial) keeps one direct chat per pair.
 * - `messages`: `chat_sequence` (chatId, sequence, unique) is history and
 *   the newest message; `client_message` (chatId, senderId, clientMessageId,
 *   unique) makes SendMessage idempotent; `unread` (chatId, sequence,
 *   senderId, deleted) counts unread messages from the index alone, a
 *   page of chats in one aggregation (unreadCountsPipeline);
 *   `replies` (chatId, replyTo.messageId, sequence), partial on replies, is
 *   a message's thread in order. `unread_mentions` (mentions, chatId,
 *   sequence), multikey on who the text mentions (`*` for `@all`): one
 *   aggregation counts a page of chats' unread mentions, a range per chat.
 *   `search_terms` (terms, chatId), multikey
 *   on the terms of the current text, is the search index: one range per
 *   (term, chat) pair. A `$text` index would bring its own tokeniser and
 *   score, so results would differ from the other adapters'.
 * - `message_versions`: the texts edits replaced; `message_versions`
 *   (messageId, version↓) lists a message's newest first and finds those
 *   beyond the kept count.
 * - `message_reactions`: one document per member's reaction, by `_id`
 *   (message, user, emoji); `reactions_by_user` (messageId, userId) reads a
 *   caller's reactions on a page of messages in one query. The counts live
 *   on the message document (`reactions`), moved in the reaction's
 *   transaction, so history reads them with the page.
 *   `pins` (chatId, pin.time↓, _id↓), partial on pinned messages, is a
 *   chat's pinned list and its count against the pin limit.
 * - `reads`: one read position per (chat, member), by `_id`; removed with
 *   the membership when the member leaves.
 * - `member_settings`: one member's own mute and archive of a chat, by
 *   `_id` (chat, member). Who archived a chat is also kept on the chat as
 *   `archivedBy`, written in the same transaction, so the main list and
 *   the archive are the `member_activity` range filtered on it.
 * - `invitations`: one per (chat, invitee), by `_id`; `invitee_list`
 *   (inviteeId, createTime↓, chatId↓) lists and counts a user's invitations.
 * - `chat_invites`: a group's invite links, by `_id`; `invite_token`
 *   (tokenHash, unique) finds the link a token opens, `chat_invites`
 *   (chatId, createTime↓, _id↓) is a group's list and its count against the
 *   link limit. A join's conditional `$inc` of `useCount` runs in the join's
 *   transaction, so a limit is never overrun.
 * - `presence_settings`: one presence privacy setting per user who chose one, by `_id` (the user id).
 * - `outbox`: see ChatOutbox.
 */
interface PresenceSettingsDoc {
  _id: string;
  privacy: PresencePrivacy;
}

export class MongoChatStore implements ChatStore {
  readonly outbox: ChatOutbox;
  readonly #chats: Collection<ChatDoc>;
  readonly #messages: Collection<MessageDoc>;
  readonly #reads: Collection<ReadDoc>;
  readonly #invitations: Collection<InvitationDoc>;
  readonly #invites: Collection<ChatInviteDoc>;
  readonly #versions: Collection<VersionDoc>;
  readonly #reactions: Collection<ReactionDoc>;
  readonly #settings: Collection<SettingsDoc>;
  readonly #presenceSettings: Collection<PresenceSettingsDoc>;
  readonly #attachments: Collection<AttachmentDoc>;

  constructor(client: MongoClient, dbName: string) {
    const db = client.db(dbName);
    this.#chats = db.collection<ChatDoc>('chats');
    this.#messages = db.collection<MessageDoc>('messages');
    this.#reads = db.collection<ReadDoc>('reads');
    this.#invitations = db.collection<InvitationDoc>('invitations');
    this.#invites = db.collection<ChatInviteDoc>('chat_invites');
    this.#versions = db.collection<VersionDoc>('message_versions');
    this.#reactions = db.collection<ReactionDoc>('message_reactions');
    this.#settings = db.collection<SettingsDoc>('member_settings');
    this.#presenceSettings = db.collection<PresenceSettingsDoc>('presence_settings');
    this.#attachments = db.collection<AttachmentDoc>('attachments');
    this.outbox = new ChatOutbox(client, db);
  }

  /** Run at start-up: brings each collection's indexes to the definitions here (reconcileIndexes). */
  async ensureIndexes(): Promise<void> {
    await reconcileIndexes(this.#chats, [
      { key: { memberIds: 1, lastActivityTime: -1, _id: -1 }, name: 'member_activity' },
      { key: { memberIds: 1, _id: 1 }, name: 'member_chats' },
      {
        key: { directKey: 1 },
        name: 'direct_pair',
        unique: true,
        partialFilterExpression: { directKey: { $type: 'string' } },
      },
    ]);
    await reconcileIndexes(this.#messages, [
      { key: { chatId: 1, sequence: 1 }, name: 'chat_sequence', unique: true },
      { key: { chatId: 1, senderId: 1, clientMessageId: 1 }, name: 'client_message', unique: true },
      { key: { chatId: 1, sequence: 1, senderId: 1, deleted: 1 }, name: 'unread' },
      {
        key: { chatId: 1, 'replyTo.messageId': 1, sequence: 1 },
        name: 'replies',
        partialFilterExpression: { 'replyTo.messageId': { $exists: true } },
      },
      { key: { terms: 1, chatId: 1 }, name: 'search_terms' },
      {
        key: { chatId: 1, 'pin.time': -1, _id: -1 },
        name: 'pins',
        partialFilterExpression: { 'pin.time': { $exists: true } },
      },
      { key: { mentions: 1, chatId: 1, sequence: 1 }, name: 'unread_mentions' },
    ]);
    await reconcileIndexes(this.#invitations, [
      { key: { inviteeId: 1, createTime: -1, chatId: -1 }, name: 'invitee_list' },
    ]);
    await reconcileIndexes(this.#invites, [
      { key: { tokenHash: 1 }, name: 'invite_token', unique: true },
      { key: { chatId: 1, createTime: -1, _id: -1 }, name: 'chat_invites' },
    ]);
    await reconcileIndexes(this.#attachments, [
      { key: { uploaderId: 1, state: 1 }, name: 'unsent' },
      { key: { state: 1, createTime: 1 }, name: 'garbage' },
      { key: { messageId: 1 }, name: 'message', partialFilterExpression: { state: 'sent' } },
    ]);
    await reconcileIndexes(this.#versions, [{ key: { messageId: 1, version: -1 }, name: 'message_versions' }]);
    await reconcileIndexes(this.#reactions, [{ key: { messageId: 1, userId: 1 }, name: 'reactions_by_user' }]);
    await this.outbox.ensureIndexes();
    await this.#indexUnindexed();
  }

  createChat(chat: Chat, entries: readonly OutboxEntry[]): Promise<void> {
    return this.#write(entries, async (session, count) => {
      await this.#chats.insertOne({ ...toChatDoc(chat), eventSequence: count }, { session });
      return count;
    });
  }

  async getChat(chatId: string): Promise<Chat | undefined> {
    const doc = await this.#chats.findOne({ _id: chatId });
    return doc ? fromChatDoc(doc) : undefined;
  }

  async findDirectChat(directKey: string): Promise<Chat | undefined> {
    const doc = await this.#chats.findOne(directChatQuery(directKey));
    return doc ? fromChatDoc(doc) : undefined;
  }

  updateChat(chat: Chat, entries: readonly OutboxEntry[], notice?: Notice<OutboxEntry>): Promise<void> {
    return this.#write(entries, (session, count) => this.#replaceChat(chat, session, count), notice);
  }

  /** `updateChat`'s change, inside the caller's transaction; resolves with the chat's new `eventSequence`. */
  /**
   * Takes `count` numbers of the chat's event sequence for the events the
   * caller writes in this transaction; the last one taken is returned.
   */
  async #reserveEvents(chatId: string, count: number, session: ClientSession): Promise<number> {
    const chat = await this.#chats.findOneAndUpdate(
      { _id: chatId },
      { $inc: { eventSequence: count } },
      { session, returnDocument: 'after', projection: { eventSequence: 1 } },
    );
    if (!chat) throw new StoreError('conflict', 'the chat is gone');
    return chat.eventSequence;
  }

  async #replaceChat(chat: Chat, session: ClientSession, count: number): Promise<number> {
    const { title, description, avatarUrl, ownerId, members, memberIds } = toChatDoc(chat);
    // $set of the chat's own fields only: lastSequence and lastActivityTime
    // belong to concurrent posts and are left as they are. The members before
    // tell who left.
    const before = await this.#chats.findOneAndUpdate(
      { _id: chat.id, version: chat.version - 1 },
      {
        $set: { title, description, avatarUrl, ownerId, members, memberIds, version: chat.version },
        $inc: { eventSequence: count },
      },
      { session, returnDocument: 'before', projection: { eventSequence: 1, memberIds: 1 } },
    );
    if (!before) throw new StoreError('conflict', 'the chat changed or is gone');
    // A member who leaves (or is deleted, which leaves every chat) takes their
    // read position along, in this transaction: back, they start from nothing
    // read rather than a stale position. By `_id`, so no other index is needed.
    const left = before.memberIds.filter((id) => !memberIds.includes(id));
    if (left.length > 0) {
      await this.#reads.deleteMany({ _id: { $in: left.map((id) => readIdOf(chat.id, id)) } }, { session });
    }
    return before.eventSequence + count;
  }

  async putInvitation(
    invitation: Invitation,
    entries: readonly OutboxEntry[],
    maxPending: number,
  ): Promise<InviteResult> {
    const now = invitation.createTime;
    let result: InviteResult = 'created';
    await this.#write(entries, async (session, count) => {
      const current = await this.#invitations.findOne(
        { _id: invitationIdOf(invitation.chatId, invitation.inviteeId) },
        { session },
      );
      if (current && current.expireTime > now) {
        result = 'existing';
        throw new NothingToWrite();
      }
      const pending = await this.#invitations.countDocuments(
        { inviteeId: invitation.inviteeId, expireTime: { $gt: now } },
        { session, hint: 'invitee_list' },
      );
      if (pending >= maxPending) {
        result = 'limit';
        throw new NothingToWrite();
      }
      // A lapsed invitation to the same chat is replaced.
      await this.#invitations.replaceOne(
        { _id: invitationIdOf(invitation.chatId, invitation.inviteeId) },
        toInvitationDoc(invitation),
        { session, upsert: true },
      );
      return await this.#reserveEvents(invitation.chatId, count, session);
    }).catch((error: unknown) => {
      if (!(error instanceof NothingToWrite)) throw error;
    });
    return result;
  }

  async getInvitation(chatId: string, inviteeId: string): Promise<Invitation | undefined> {
    const doc = await this.#invitations.findOne({ _id: invitationIdOf(chatId, inviteeId) });
    return doc ? fromInvitationDoc(doc) : undefined;
  }

  async listInvitations(
    inviteeId: string,
    now: Date,
    after: InvitationCursor | undefined,
    limit: number,
  ): Promise<Invitation[]> {
    const filter: Filter<InvitationDoc> =
      after === undefined
        ? { inviteeId, expireTime: { $gt: now } }
        : {
            inviteeId,
            expireTime: { $gt: now },
            $or: [
              { createTime: { $lt: after.createTime } },
              { createTime: after.createTime, chatId: { $lt: after.chatId } },
            ],
          };
    const docs = await this.#invitations
      .find(filter)
      .sort({ createTime: -1, chatId: -1 })
      .hint('invitee_list')
      .limit(limit)
      .toArray();
    return docs.map(fromInvitationDoc);
  }

  countPendingInvitations(inviteeId: string, now: Date): Promise<number> {
    return this.#invitations.countDocuments({ inviteeId, expireTime: { $gt: now } }, { hint: 'invitee_list' });
  }

  async deleteInvitation(chatId: string, inviteeId: string): Promise<boolean> {
    const result = await this.#invitations.deleteOne({ _id: invitationIdOf(chatId, inviteeId) });
    return result.deletedCount > 0;
  }

  acceptInvitation(
    chat: Chat,
    inviteeId: string,
    entries: readonly OutboxEntry[],
    notice?: Notice<OutboxEntry>,
  ): Promise<void> {
    return this.#write(
      entries,
      async (session, count) => {
        const deleted = await this.#invitations.deleteOne({ _id: invitationIdOf(chat.id, inviteeId) }, { session });
        if (deleted.deletedCount === 0) throw new StoreError('conflict', 'the invitation is gone');
        return this.#replaceChat(chat, session, count);
      },
      notice,
    );
  }

  async putChatInvite(invite: ChatInvite, maxLinks: number): Promise<'created' | 'limit'> {
    let result: 'created' | 'limit' = 'created';
    await this.#write([], async (session) => {
      const chat = await this.#chats.findOneAndUpdate(
        { _id: invite.chatId },
        { $set: { lastInviteTime: invite.createTime } },
        { session, projection: { eventSequence: 1 } },
      );
      if (!chat) throw new StoreError('conflict', 'the chat is gone');
      await this.#invites.deleteMany(
        {
          chatId: invite.chatId,
          $or: [
            { expireTime: { $lte: invite.createTime } },
            { useLimit: { $gt: 0 }, $expr: { $gte: ['$useCount', '$useLimit'] } },
          ],
        },
        { session },
      );
      if ((await this.#invites.countDocuments({ chatId: invite.chatId }, { session })) >= maxLinks) {
        result = 'limit';
        throw new NothingToWrite();
      }
      await this.#invites.insertOne(toChatInviteDoc(invite), { session });
      return chat.eventSequence;
    }).catch((error: unknown) => {
      if (!(error instanceof NothingToWrite)) throw error;
    });
    return result;
  }

  async listChatInvites(chatId: string, after: ChatInviteCursor | undefined, limit: number): Promise<ChatInvite[]> {
    const filter: Filter<ChatInviteDoc> =
      after === undefined
        ? { chatId }
        : {
            chatId,
            $or: [
              { createTime: { $lt: after.createTime } },
              { createTime: after.createTime, _id: { $lt: after.inviteId } },
            ],
          };
    const docs = await this.#invites.find(filter).sort({ createTime: -1, _id: -1 }).limit(limit).toArray();
    return docs.map(fromChatInviteDoc);
  }

  async findChatInvite(tokenHash: string): Promise<ChatInvite | undefined> {
    const doc = await this.#invites.findOne({ tokenHash });
    return doc ? fromChatInviteDoc(doc) : undefined;
  }

  async deleteChatInvite(chatId: string, inviteId: string): Promise<boolean> {
    return (await this.#invites.deleteOne({ _id: inviteId, chatId })).deletedCount > 0;
  }

  useChatInvite(
    chat: Chat,
    inviteId: string,
    entries: readonly OutboxEntry[],
    notice: Notice<OutboxEntry>,
  ): Promise<void> {
    return this.#write(
      entries,
      async (session, count) => {
        const used = await this.#invites.updateOne(
          { _id: inviteId, chatId: chat.id, $or: [{ useLimit: 0 }, { $expr: { $lt: ['$useCount', '$useLimit'] } }] },
          { $inc: { useCount: 1 } },
          { session },
        );
        if (used.modifiedCount === 0) throw new StoreError('conflict', 'the invite link is used up or gone');
        return this.#replaceChat(chat, session, count);
      },
      notice,
    );
  }

  async listChatsOf(userId: string, after: ActivityCursor | undefined, limit: number): Promise<Chat[]> {
    const { filter, sort } = chatListQuery(userId, after);
    const docs = await this.#chats.find(filter).sort(sort).limit(limit).toArray();
    return docs.map(fromChatDoc);
  }

  async chatIdsOf(userId: string, afterId: string | undefined, limit: number): Promise<string[]> {
    const filter: Filter<ChatDoc> =
      afterId === undefined ? { memberIds: userId } : { memberIds: userId, _id: { $gt: afterId } };
    const docs = await this.#chats
      .find(filter, { projection: { _id: 1 } })
      .sort({ _id: 1 })
      .hint('member_chats')
      .limit(limit)
      .toArray();
    return docs.map((d) => d._id);
  }

  async appendMessage(
    draft: MessageDraft,
    entryOf: (message: Message, memberIds: readonly string[]) => OutboxEntry,
  ): Promise<AppendResult> {
    try {
      const message = await this.outbox.transaction(async (session, append) => {
        // Membership check and sequence in one step, on the chat document:
        // concurrent posts to a chat conflict here, and the loser's retry
        // reads the winner's number. An aborted post rolls its number back.
        const chat = await this.#chats.findOneAndUpdate(
          { _id: draft.chatId, memberIds: draft.senderId },
          { $inc: { lastSequence: 1, eventSequence: 1 }, $max: { lastActivityTime: draft.createTime } },
          { session, returnDocument: 'after', projection: { lastSequence: 1, eventSequence: 1, memberIds: 1 } },
        );
        if (!chat) return undefined;
        const message = postedMessage(draft, chat.lastSequence);
        // A repeated client message id fails here (client_message index) and aborts it all.
        await this.#messages.insertOne(toMessageDoc(message), { session });
        for (const a of message.attachments) {
          const sent = await this.#attachments.updateOne(
            { _id: a.id, state: 'uploaded', chatId: draft.chatId, uploaderId: draft.senderId },
            { $set: { state: 'sent', messageId: message.id } },
            { session },
          );
          if (sent.matchedCount === 0) throw new AttachmentGone(a.id);
        }
        if (draft.replyTo) {
          const counted = await this.#messages.updateOne(
            { _id: draft.replyTo.messageId, chatId: draft.chatId },
            { $inc: { replyCount: 1 }, $max: { lastReplyTime: draft.createTime } },
            { session },
          );
          if (counted.matchedCount === 0) throw new Error('a reply to a message not in its chat');
        }
        // One entry: the chat's `eventSequence` was raised by one above.
        await append([entryOf(message, chat.memberIds)], chat.eventSequence);
        return message;
      });
      return message ? { kind: 'created', message } : { kind: 'not_member' };
    } catch (error) {
      if (error instanceof AttachmentGone) return { kind: 'attachment_gone', attachmentId: error.attachmentId };
      const translated = translateError(error);
      if (!(translated instanceof StoreError) || translated.kind !== 'duplicate') throw translated;
      const existing = await this.#messages.findOne({
        chatId: draft.chatId,
        senderId: draft.senderId,
        clientMessageId: draft.clientMessageId,
      });
      if (!existing) throw translated;
      return { kind: 'existing', message: fromMessageDoc(existing) };
    }
  }

  async getMessage(chatId: string, messageId: string): Promise<Message | undefined> {
    const doc = await this.#messages.findOne({ _id: messageId, chatId });
    return doc ? fromMessageDoc(doc) : undefined;
  }

  async messagesAt(refs: readonly { readonly chatId: string; readonly sequence: number }[]): Promise<Message[]> {
    if (refs.length === 0) return [];
    const docs = await this.#messages
      .find({ $or: refs.map((r) => ({ chatId: r.chatId, sequence: r.sequence })) })
      .toArray();
    return docs.map(fromMessageDoc);
  }

  async listMessages(chatId: string, beforeSequence: number | undefined, limit: number): Promise<Message[]> {
    const { filter, sort } = historyQuery(chatId, beforeSequence);
    const docs = await this.#messages.find(filter).sort(sort).limit(limit).toArray();
    return docs.map(fromMessageDoc);
  }

  async listReplies(
    chatId: string,
    parentId: string,
    afterSequence: number | undefined,
    limit: number,
  ): Promise<Message[]> {
    const docs = await this.#messages
      .find({ chatId, 'replyTo.messageId': parentId, sequence: { $gt: afterSequence ?? 0 } })
      .sort({ sequence: 1 })
      .limit(limit)
      .toArray();
    return docs.map(fromMessageDoc);
  }

  updateMessage(message: Message, entries: readonly OutboxEntry[]): Promise<void> {
    return this.#write(entries, async (session, count) => {
      const { text, deleted, deletedBy, version } = message;
      const terms = searchTermsOf(text);
      const entities = message.entities.map((e) => ({ ...e }));
      const mentions = mentionKeysOf(message);
      const before = await this.#messages.findOne({ _id: message.id, chatId: message.chatId }, { session });
      const result = await this.#messages.updateOne(
        { _id: message.id, chatId: message.chatId, version: message.version - 1 },
        message.editTime
          ? { $set: { text, deleted, deletedBy, version, terms, entities, mentions, editTime: message.editTime } }
          : { $set: { text, deleted, deletedBy, version, terms, entities, mentions }, $unset: { editTime: '' } },
        { session },
      );
      if (!before || result.matchedCount === 0) throw new StoreError('conflict', 'the message changed or is gone');
      await this.#keepVersion(fromMessageDoc(before), message, session);
      if (deleted) {
        await this.#messages.updateOne(
          { _id: message.id },
          { $set: { reactions: [] }, $unset: { pin: '' } },
          { session },
        );
        await this.#reactions.deleteMany({ messageId: message.id }, { session });
        await this.#messages.updateOne({ _id: message.id }, { $unset: { attachments: '' } }, { session });
        await this.#attachments.updateMany(
          { messageId: message.id, state: 'sent' },
          { $set: { state: 'released' } },
          { session },
        );
      }
      if (count === 0) return 0;
      return await this.#reserveEvents(message.chatId, count, session);
    });
  }

  async putAttachment(attachment: Attachment, maxUnsent: number): Promise<'created' | 'limit'> {
    // Counted, then inserted: two uploads racing past the limit may both land, which costs one reservation.
    const unsent = await this.#attachments.countDocuments(
      { uploaderId: attachment.uploaderId, state: { $in: ['pending', 'uploaded'] } },
      { limit: maxUnsent },
    );
    if (unsent >= maxUnsent) return 'limit';
    const { id, ...rest } = attachment;
    await this.#attachments.insertOne({ _id: id, ...rest, claimTime: new Date(0) });
    return 'created';
  }

  async getAttachment(attachmentId: string): Promise<Attachment | undefined> {
    const doc = await this.#attachments.findOne({ _id: attachmentId });
    return doc ? fromAttachmentDoc(doc) : undefined;
  }

  async completeAttachment(a: Attachment): Promise<boolean> {
    const { mediaType, sizeBytes, width, height, hasThumbnail } = a;
    const done = await this.#attachments.updateOne(
      { _id: a.id, state: 'pending' },
      { $set: { state: 'uploaded', mediaType, sizeBytes, width, height, hasThumbnail } },
    );
    return done.matchedCount > 0;
  }

  async claimAttachmentGarbage(now: Date, cutoffs: GarbageCutoffs, limit: number): Promise<Attachment[]> {
    const claimed: Attachment[] = [];
    // One document at a time, each claim conditional on what made it garbage: a post sending it meanwhile wins.
    const garbage = {
      $or: [
        { state: 'released' as const },
        { state: 'pending' as const, createTime: { $lt: cutoffs.pendingBefore } },
        { state: 'uploaded' as const, createTime: { $lt: cutoffs.uploadedBefore } },
        { state: 'deleting' as const, claimTime: { $lt: cutoffs.claimedBefore } },
      ],
    };
    while (claimed.length < limit) {
      const doc = await this.#attachments.findOneAndUpdate(
        garbage,
        { $set: { state: 'deleting', claimTime: now } },
        { returnDocument: 'after' },
      );
      if (!doc) break;
      claimed.push(fromAttachmentDoc(doc));
    }
    return claimed;
  }

  async deleteAttachments(attachmentIds: readonly string[]): Promise<void> {
    await this.#attachments.deleteMany({ _id: { $in: [...attachmentIds] }, state: 'deleting' });
  }

  async readPositions(userId: string, chatIds: readonly string[]): Promise<Map<string, number>> {
    const positions = new Map(chatIds.map((id) => [id, 0]));
    if (chatIds.length === 0) return positions;
    const docs = await this.#reads.find({ _id: { $in: chatIds.map((id) => readIdOf(id, userId)) } }).toArray();
    for (const doc of docs) positions.set(doc.chatId, doc.readSequence);
    return positions;
  }

  async markRead(chatId: string, userId: string, upTo: number): Promise<number> {
    const update = () =>
      this.#reads.findOneAndUpdate(
        { _id: readIdOf(chatId, userId) },
        { $max: { readSequence: upTo }, $setOnInsert: { chatId, userId } },
        { upsert: true, returnDocument: 'after' },
      );
    let doc: ReadDoc | null;
    try {
      doc = await update();
    } catch (error) {
      // Two first reads of one member at once: one upsert inserts, the other updates on retry.
      if (!isDuplicateKeyError(error)) throw error;
      doc = await update();
    }
    return doc?.readSequence ?? upTo;
  }

  async countUnread(
    userId: string,
    positions: readonly { readonly chatId: string; readonly afterSequence: number }[],
    cap: number,
  ): Promise<Map<string, number>> {
    const counts = new Map(positions.map((p) => [p.chatId, 0]));
    if (positions.length === 0) return counts;
    const rows = await this.#messages
      .aggregate<{ chatId: string; n: number }>(unreadCountsPipeline(userId, positions, cap))
      .toArray();
    for (const row of rows) counts.set(row.chatId, row.n);
    return counts;
  }

  async countUnreadMentions(
    userId: string,
    positions: readonly { readonly chatId: string; readonly afterSequence: number }[],
    cap: number,
  ): Promise<Map<string, number>> {
    const counts = new Map(positions.map((p) => [p.chatId, 0]));
    if (positions.length === 0) return counts;
    // One aggregation for the page, a range of `unread_mentions` per chat;
    // unlike `countUnread` it reads every match before capping, which stays
    // small because mentions are a small share of messages.
    const groups = await this.#messages
      .aggregate<{ _id: string; n: number }>([
        {
          $match: {
            mentions: { $in: [userId, MENTION_ALL_KEY] },
            $or: positions.map((p) => ({ chatId: p.chatId, sequence: { $gt: p.afterSequence } })),
            senderId: { $ne: userId },
            deleted: false,
          },
        },
        { $group: { _id: '$chatId', n: { $sum: 1 } } },
      ])
      .toArray();
    for (const g of groups) counts.set(g._id, Math.min(g.n, cap));
    return counts;
  }

  async memberSettings(userId: string, chatIds: readonly string[]): Promise<Map<string, MemberSettings>> {
    const settings = new Map<string, MemberSettings>();
    if (chatIds.length === 0) return settings;
    const docs = await this.#settings.find({ _id: { $in: chatIds.map((id) => readIdOf(id, userId)) } }).toArray();
    for (const doc of docs) settings.set(doc.chatId, { muteUntil: doc.muteUntil, archived: doc.archived });
    return settings;
  }

  putMemberSettings(
    chatId: string,
    userId: string,
    settings: MemberSettings,
    entries: readonly OutboxEntry[],
  ): Promise<void> {
    return this.#write(entries, async (session, count) => {
      const { muteUntil, archived } = settings;
      await this.#settings.updateOne(
        { _id: readIdOf(chatId, userId) },
        muteUntil
          ? { $set: { chatId, userId, muteUntil, archived } }
          : { $set: { chatId, userId, archived }, $unset: { muteUntil: '' } },
        { session, upsert: true },
      );
      const chat = await this.#chats.findOneAndUpdate(
        { _id: chatId },
        archived
          ? { $inc: { eventSequence: count }, $addToSet: { archivedBy: userId } }
          : { $inc: { eventSequence: count }, $pull: { archivedBy: userId } },
        { session, returnDocument: 'after', projection: { eventSequence: 1 } },
      );
      if (!chat) throw new StoreError('conflict', 'the chat is gone');
      return chat.eventSequence;
    });
  }

  async listChatsByArchive(
    userId: string,
    archived: boolean,
    after: ActivityCursor | undefined,
    limit: number,
  ): Promise<Chat[]> {
    const { filter, sort } = chatListQuery(userId, after);
    const docs = await this.#chats
      .find({ ...filter, archivedBy: archived ? userId : { $ne: userId } })
      .sort(sort)
      .hint('member_activity')
      .limit(limit)
      .toArray();
    return docs.map(fromChatDoc);
  }

  async searchMessages(
    chatIds: readonly string[],
    terms: readonly string[],
    after: SearchCursor | undefined,
    limit: number,
  ): Promise<SearchHit[]> {
    if (chatIds.length === 0 || terms.length === 0) return [];
    const docs = await this.#messages
      .aggregate<MessageDoc & { matchedTerms: number }>(searchPipeline(chatIds, terms, after, limit))
      .toArray();
    return docs.map(({ matchedTerms, ...doc }) => ({ message: fromMessageDoc(doc), matchedTerms }));
  }

  async listMessageVersions(
    _chatId: string,
    messageId: string,
    beforeVersion: number | undefined,
    limit: number,
  ): Promise<MessageVersion[]> {
    const { filter, sort } = versionsQuery(messageId, beforeVersion);
    const docs = await this.#versions.find(filter).sort(sort).limit(limit).toArray();
    return docs.map((d) => ({ version: d.version, text: d.text, time: d.time, replaceTime: d.replaceTime }));
  }

  async readPositionsOf(refs: readonly { readonly chatId: string; readonly userId: string }[]): Promise<number[]> {
    if (refs.length === 0) return [];
    const ids = refs.map((r) => readIdOf(r.chatId, r.userId));
    const docs = await this.#reads.find({ _id: { $in: ids } }).toArray();
    const found = new Map(docs.map((d) => [d._id, d.readSequence]));
    return ids.map((id) => found.get(id) ?? 0);
  }

  async presencePrivacies(userIds: readonly string[]): Promise<Map<string, PresencePrivacy>> {
    if (userIds.length === 0) return new Map();
    const docs = await this.#presenceSettings.find({ _id: { $in: [...userIds] } }).toArray();
    return new Map(docs.map((d) => [d._id, d.privacy]));
  }

  async setPresencePrivacy(userId: string, privacy: PresencePrivacy): Promise<void> {
    await this.#presenceSettings.updateOne({ _id: userId }, { $set: { privacy } }, { upsert: true });
  }

  async forgetPresencePrivacy(userId: string): Promise<void> {
    await this.#presenceSettings.deleteOne({ _id: userId });
  }

  /** An edit keeps the text it replaces (the newest `MAX_KEPT_VERSIONS`); a deletion drops them all. */
  async #keepVersion(before: Message, after: Message, session: ClientSession): Promise<void> {
    if (after.deleted) {
      await this.#versions.deleteMany({ messageId: after.id }, { session });
      return;
    }
    if (after.text === before.text) return;
    const kept = versionOf(before, after.editTime ?? new Date());
    await this.#versions.insertOne({ _id: `${after.id}:${kept.version}`, messageId: after.id, ...kept }, { session });
    await this.#versions.deleteMany(
      { messageId: after.id, version: { $lte: kept.version - MAX_KEPT_VERSIONS } },
      { session },
    );
  }

  /** Gives the messages stored before search existed their terms; a no-op once all have them. */
  async #indexUnindexed(): Promise<void> {
    const unindexed = this.#messages.find({ terms: { $exists: false } }, { projection: { _id: 1, text: 1 } });
    let batch: { _id: string; text: string }[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await this.#messages.bulkWrite(
        batch.map((doc) => ({
          // Only while still unindexed: an edit meanwhile wrote the terms of its own text.
          updateOne: {
            filter: { _id: doc._id, terms: { $exists: false } },
            update: { $set: { terms: searchTermsOf(doc.text) } },
          },
        })),
        { ordered: false },
      );
      batch = [];
    };
    for await (const doc of unindexed) {
      batch.push(doc);
      if (batch.length >= 1000) await flush();
    }
    await flush();
  }

  async setReaction(
    draft: ReactionDraft,
    maxEmoji: number,
    entryOf: (message: Message) => OutboxEntry,
  ): Promise<ReactionResult> {
    try {
      return await this.outbox.transaction(async (session, append): Promise<ReactionResult> => {
        const doc = await this.#messages.findOne({ _id: draft.messageId, chatId: draft.chatId }, { session });
        if (!doc) return { kind: 'not_found' };
        const current = fromMessageDoc(doc);
        if (current.deleted) return { kind: 'deleted' };
        const id = `${draft.messageId}:${draft.userId}:${draft.emoji}`;
        const has = (await this.#reactions.findOne({ _id: id }, { session })) !== null;
        if (has === draft.add) return { kind: 'unchanged', message: current };
        const isNew = !current.reactions.some((r) => r.emoji === draft.emoji);
        if (draft.add && isNew && current.reactions.length >= maxEmoji) return { kind: 'limit' };
        const after: Message = {
          ...current,
          reactions: withReaction(current.reactions, draft.emoji, draft.add ? 1 : -1),
        };
        if (draft.add) {
          await this.#reactions.insertOne(
            { _id: id, messageId: draft.messageId, userId: draft.userId, emoji: draft.emoji },
            { session },
          );
        } else {
          await this.#reactions.deleteOne({ _id: id }, { session });
        }
        // Concurrent reactions on one message write-conflict here; the driver reruns the loser on the new counts.
        await this.#messages.updateOne(
          { _id: draft.messageId },
          { $set: { reactions: after.reactions.map((r) => ({ ...r })) } },
          { session },
        );
        await append([entryOf(after)], await this.#reserveEvents(draft.chatId, 1, session));
        return { kind: 'changed', message: after };
      });
    } catch (error) {
      throw translateError(error);
    }
  }

  async reactionsBy(userId: string, messageIds: readonly string[]): Promise<Map<string, string[]>> {
    const found = new Map<string, string[]>();
    if (messageIds.length === 0) return found;
    const docs = await this.#reactions
      .find({ messageId: { $in: [...messageIds] }, userId }, { projection: { messageId: 1, emoji: 1 } })
      .hint('reactions_by_user')
      .toArray();
    for (const doc of docs) found.set(doc.messageId, [...(found.get(doc.messageId) ?? []), doc.emoji]);
    return found;
  }

  async setPin(draft: PinDraft, maxPins: number, entryOf: (message: Message) => OutboxEntry): Promise<PinResult> {
    try {
      return await this.outbox.transaction(async (session, append): Promise<PinResult> => {
        const doc = await this.#messages.findOne({ _id: draft.messageId, chatId: draft.chatId }, { session });
        if (!doc) return { kind: 'not_found' };
        const current = fromMessageDoc(doc);
        if (draft.pin && current.deleted) return { kind: 'deleted' };
        if ((current.pin !== undefined) === draft.pin) return { kind: 'unchanged', message: current };
        if (draft.pin) {
          const pinned = await this.#messages.countDocuments(
            { chatId: draft.chatId, 'pin.time': { $exists: true } },
            { session, hint: 'pins', limit: maxPins },
          );
          if (pinned >= maxPins) return { kind: 'limit' };
        }
        const pin = draft.pin ? { userId: draft.userId, time: draft.time } : undefined;
        const after: Message = { ...current, pin };
        await this.#messages.updateOne(
          { _id: draft.messageId },
          pin ? { $set: { pin: { ...pin } } } : { $unset: { pin: '' } },
          { session },
        );
        // Concurrent pins in a chat write-conflict on its document here, so the limit holds: the loser reruns.
        await append([entryOf(after)], await this.#reserveEvents(draft.chatId, 1, session));
        return { kind: 'changed', message: after };
      });
    } catch (error) {
      throw translateError(error);
    }
  }

  async listPins(chatId: string, after: PinCursor | undefined, limit: number): Promise<Message[]> {
    const { filter, sort } = pinsQuery(chatId, after);
    const docs = await this.#messages.find(filter).sort(sort).hint('pins').limit(limit).toArray();
    return docs.map(fromMessageDoc);
  }

  /**
   * The change and its outbox entries in one transaction. `change` gets the
   * number of entries, raises the chat's `eventSequence` by it and resolves
   * with its new value; the entries take the numbers up to it. A `notice`
   * is posted after the change, in the same transaction. Driver errors
   * leave as StoreErrors.
   */
  async #write(
    entries: readonly OutboxEntry[],
    change: (session: ClientSession, count: number) => Promise<number>,
    notice?: Notice<OutboxEntry>,
  ): Promise<void> {
    try {
      await this.outbox.transaction(async (session, append) => {
        const last = await change(session, entries.length);
        await append(entries, last - entries.length + 1);
        if (notice) await this.#postNotice(notice, session, append);
      });
    } catch (error) {
      throw translateError(error);
    }
  }

  /** A notice's post after the change: the chat's next sequence and event number, to its members now. */
  async #postNotice(notice: Notice<OutboxEntry>, session: ClientSession, append: AppendEntries): Promise<void> {
    const { draft } = notice;
    const chat = await this.#chats.findOneAndUpdate(
      { _id: draft.chatId },
      { $inc: { lastSequence: 1, eventSequence: 1 }, $max: { lastActivityTime: draft.createTime } },
      { session, returnDocument: 'after', projection: { lastSequence: 1, eventSequence: 1, memberIds: 1 } },
    );
    if (!chat) throw new StoreError('conflict', 'the chat is gone');
    const message = postedMessage(draft, chat.lastSequence);
    await this.#messages.insertOne(toMessageDoc(message), { session });
    await append([notice.eventOf(message, chat.memberIds)], chat.eventSequence);
  }
}

/**
 * A search as an aggregation: the `search_terms` ranges of the terms in the
 * chats, the matched terms counted per message, ranked, bounded by the cursor.
 */
export function searchPipeline(
  chatIds: readonly string[],
  terms: readonly string[],
  after: SearchCursor | undefined,
  limit: number,
): Document[] {
  const distinct = [...new Set(terms)];
  return [
    { $match: { terms: { $in: distinct }, chatId: { $in: [...chatIds] }, deleted: false } },
    { $addFields: { matchedTerms: { $size: { $setIntersection: ['$terms', distinct] } } } },
    ...(after
      ? [
          {
            $match: {
              $or: [
                { matchedTerms: { $lt: after.matchedTerms } },
                { matchedTerms: after.matchedTerms, createTime: { $lt: after.createTime } },
                { matchedTerms: after.matchedTerms, createTime: after.createTime, _id: { $lt: after.messageId } },
              ],
            },
          },
        ]
      : []),
    { $sort: { matchedTerms: -1, createTime: -1, _id: -1 } },
    { $limit: limit },
    { $project: { terms: 0 } },
  ];
}

/** A message's kept versions below `beforeVersion`, newest first: one range of `message_versions`. */
export function versionsQuery(
  messageId: string,
  beforeVersion: number | undefined,
): { filter: Filter<VersionDoc>; sort: Sort } {
  return {
    filter: beforeVersion === undefined ? { messageId } : { messageId, version: { $lt: beforeVersion } },
    sort: { version: -1 },
  };
}

/**
 * A user's chats after the cursor, in list order: one range of
 * `member_activity`. The keyset "before (time, id)" is written as the range
 * `lastActivityTime <= time` minus the chats of exactly that time at or
 * after the id, not as `$or` of "earlier" and "same time, smaller id": the
 * planner may answer such an `$or` with bounds from the top of the user's
 * range, reading every chat of the pages before. Here the index bounds
 * start at the cursor, and the `$nor` only skips the few keys that share
 * its time, so a page reads its own keys plus those ties whatever its offset.
 */
export function chatListQuery(
  userId: string,
  after: ActivityCursor | undefined,
): { filter: Filter<ChatDoc>; sort: Sort } {
  const filter: Filter<ChatDoc> =
    after === undefined
      ? { memberIds: userId }
      : {
          memberIds: userId,
          lastActivityTime: { $lte: after.lastActivityTime },
          $nor: [{ lastActivityTime: after.lastActivityTime, _id: { $gte: after.chatId } }],
        };
  return { filter, sort: { lastActivityTime: -1, _id: -1 } };
}

/**
 * The direct chat of a pair. `direct_pair` is partial on `directKey` being a
 * string (group chats have none), and the planner only picks a partial index
 * for a query whose predicate contains the index's filter expression, so the
 * `$type` condition is spelled out rather than left to be inferred from the
 * equality: without it the lookup may scan every chat.
 */
export function directChatQuery(directKey: string): Filter<ChatDoc> {
  return { directKey: { $eq: directKey, $type: 'string' } };
}

/**
 * A page of chats' unread counts as one aggregation, one round trip instead
 * of one count per chat. Each chat is its own arm (`$unionWith` on the same
 * collection) so that each stays one range of the `unread` index
 * (chatId, sequence, senderId, deleted) stopped at `cap` by its own `$limit`:
 * a single `$match` over every chat followed by `$group` would read every
 * unread key of a chat far behind before capping. `$count` needs no field, so
 * each arm reads index keys only, never a document. A chat with no unread
 * message yields no row.
 */
export function unreadCountsPipeline(
  userId: string,
  positions: readonly { readonly chatId: string; readonly afterSequence: number }[],
  cap: number,
): Document[] {
  const arm = ({ chatId, afterSequence }: { chatId: string; afterSequence: number }): Document[] => [
    { $match: { chatId, sequence: { $gt: afterSequence }, senderId: { $ne: userId }, deleted: false } },
    { $limit: cap },
    { $count: 'n' },
    { $set: { chatId: { $literal: chatId } } },
  ];
  const [first, ...rest] = positions;
  if (!first) return [];
  return [...arm(first), ...rest.map((p) => ({ $unionWith: { coll: 'messages', pipeline: arm(p) } }))];
}

/** A history page: one range of `chat_sequence`, read backwards. */
export function historyQuery(
  chatId: string,
  beforeSequence: number | undefined,
): { filter: Filter<MessageDoc>; sort: Sort } {
  const filter: Filter<MessageDoc> =
    beforeSequence === undefined ? { chatId } : { chatId, sequence: { $lt: beforeSequence } };
  return { filter, sort: { sequence: -1 } };
}

export function translateError(error: unknown): unknown {
  if (isDuplicateKeyError(error)) {
    return new StoreError('duplicate', 'a unique key is taken', { cause: error });
  }
  return error;
}

/** Thrown inside a transaction that finds nothing to write, to end it without committing. */
class NothingToWrite extends Error {}

function invitationIdOf(chatId: string, inviteeId: string): string {
  return `${chatId}:${inviteeId}`;
}

function toInvitationDoc(i: Invitation): InvitationDoc {
  return {
    _id: invitationIdOf(i.chatId, i.inviteeId),
    chatId: i.chatId,
    inviteeId: i.inviteeId,
    inviterId: i.inviterId,
    title: i.title,
    createTime: i.createTime,
    expireTime: i.expireTime,
  };
}

function fromInvitationDoc(doc: InvitationDoc): Invitation {
  return {
    chatId: doc.chatId,
    inviteeId: doc.inviteeId,
    inviterId: doc.inviterId,
    title: doc.title,
    createTime: doc.createTime,
    expireTime: doc.expireTime,
  };
}

/** A link as stored: the domain's fields, its id as `_id`. */
function toChatInviteDoc({ id, ...fields }: ChatInvite): ChatInviteDoc {
  return { _id: id, ...fields };
}

function fromChatInviteDoc({ _id, ...fields }: ChatInviteDoc): ChatInvite {
  return { id: _id, ...fields };
}

function readIdOf(chatId: string, userId: string): string {
  return `${chatId}:${userId}`;
}

function toChatDoc(chat: Chat): Omit<ChatDoc, 'eventSequence'> {
  return {
    _id: chat.id,
    type: chat.type,
    title: chat.title,
    description: chat.description,
    avatarUrl: chat.avatarUrl,
    ownerId: chat.ownerId,
    ...(chat.directKey === '' ? {} : { directKey: chat.directKey }),
    members: chat.members.map((m) => ({
      userId: m.userId,
      role: m.role,
      nickname: m.nickname,
      avatarUrl: m.avatarUrl,
      joinTime: m.joinTime,
      ...(m.profileTime ? { profileTime: m.profileTime } : {}),
    })),
    memberIds: chat.members.map((m) => m.userId),
    createTime: chat.createTime,
    lastActivityTime: chat.lastActivityTime,
    lastSequence: chat.lastSequence,
    version: chat.version,
  };
}

function fromChatDoc(doc: ChatDoc): Chat {
  return {
    id: doc._id,
    type: doc.type,
    title: doc.title,
    description: doc.description ?? '',
    avatarUrl: doc.avatarUrl ?? '',
    ownerId: doc.ownerId,
    directKey: doc.directKey ?? '',
    members: doc.members.map(
      (m): Member => ({
        userId: m.userId,
        role: m.role,
        nickname: m.nickname,
        avatarUrl: m.avatarUrl,
        joinTime: m.joinTime,
        profileTime: m.profileTime,
      }),
    ),
    createTime: doc.createTime,
    lastActivityTime: doc.lastActivityTime,
    lastSequence: doc.lastSequence,
    version: doc.version,
  };
}

function toMessageDoc(m: Message): MessageDoc {
  return {
    _id: m.id,
    chatId: m.chatId,
    sequence: m.sequence,
    senderId: m.senderId,
    clientMessageId: m.clientMessageId,
    text: m.text,
    createTime: m.createTime,
    ...(m.editTime ? { editTime: m.editTime } : {}),
    deleted: m.deleted,
    version: m.version,
    ...(m.replyTo ? { replyTo: { ...m.replyTo } } : {}),
    replyCount: m.replyCount,
    ...(m.lastReplyTime ? { lastReplyTime: m.lastReplyTime } : {}),
    ...(m.deletedBy ? { deletedBy: m.deletedBy } : {}),
    ...(m.system ? { system: m.system } : {}),
    terms: searchTermsOf(m.text),
    reactions: m.reactions.map((r) => ({ ...r })),
    ...(m.pin ? { pin: { ...m.pin } } : {}),
    entities: m.entities.map((e) => ({ ...e })),
    mentions: mentionKeysOf(m),
    ...(m.attachments.length > 0 ? { attachments: m.attachments.map((a) => ({ ...a })) } : {}),
  };
}

function fromAttachmentDoc({ _id, claimTime: _, ...rest }: AttachmentDoc): Attachment {
  return { id: _id, ...rest };
}

function fromMessageDoc(doc: MessageDoc): Message {
  return {
    id: doc._id,
    chatId: doc.chatId,
    sequence: doc.sequence,
    senderId: doc.senderId,
    clientMessageId: doc.clientMessageId,
    text: doc.text,
    createTime: doc.createTime,
    editTime: doc.editTime,
    deleted: doc.deleted,
    version: doc.version,
    replyTo: doc.replyTo && { ...doc.replyTo },
    replyCount: doc.replyCount ?? 0,
    lastReplyTime: doc.lastReplyTime,
    deletedBy: doc.deletedBy ?? '',
    // BSON keeps a field without a value as null.
    system: doc.system && {
      ...doc.system,
      role: doc.system.role ?? undefined,
      profile: doc.system.profile ?? undefined,
    },
    reactions: (doc.reactions ?? []).map((r) => ({ ...r })),
    pin: doc.pin && { ...doc.pin },
    entities: (doc.entities ?? []).map((e) => ({ ...e })),
    attachments: (doc.attachments ?? []).map((a) => ({ ...a })),
  };
}

/** A chat's pinned list after a cursor: one range of the `pins` index. */
export function pinsQuery(chatId: string, after: PinCursor | undefined): { filter: Filter<MessageDoc>; sort: Sort } {
  const pinned: Filter<MessageDoc> = { chatId, 'pin.time': { $exists: true } };
  const filter: Filter<MessageDoc> = after
    ? {
        ...pinned,
        $or: [{ 'pin.time': { $lt: after.pinTime } }, { 'pin.time': after.pinTime, _id: { $lt: after.messageId } }],
      }
    : pinned;
  return { filter, sort: { 'pin.time': -1, _id: -1 } };
}

/** Connects and prepares a store (indexes) at start-up. */
export function openMongoChatStore(
  url: string,
  dbName: string,
  options: MongoStoreOptions = {},
): Promise<OpenedMongoStore<MongoChatStore>> {
  return openMongoStore(url, (client) => new MongoChatStore(client, dbName), { ...options, appName: 'chat' });
}
