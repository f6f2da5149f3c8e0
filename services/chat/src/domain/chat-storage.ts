// What the use cases need from storage, in the domain's own terms.
import { randomUUID } from 'node:crypto';
import { StoreFailure } from '@messenger/platform/domain';
import {
  type Attachment,
  type Chat,
  type ChatEvent,
  type ChatInvite,
  type Invitation,
  type MemberSettings,
  type Message,
  type MessageEntity,
  type MessageVersion,
  messageCreated,
  type Quote,
  type SystemEvent,
} from './chat.ts';
import type { PresencePrivacy } from './presence.ts';
import type { SearchCursor, SearchHit } from './search.ts';

/** A position in a user's chat list: most recent activity first, chat id descending on ties. */
export interface ActivityCursor {
  readonly lastActivityTime: Date;
  readonly chatId: string;
}

/** A message to post; the store gives it the chat's next sequence. */
export interface MessageDraft {
  readonly id: string;
  readonly chatId: string;
  readonly senderId: string;
  readonly clientMessageId: string;
  readonly text: string;
  readonly createTime: Date;
  /** For a reply: the quote of its parent, a message of the same chat whose reply count the post moves. */
  readonly replyTo?: Quote | undefined;
  /** The mentions in its text; none when absent. */
  readonly entities?: readonly MessageEntity[];
  /** For a system message: the group change it records. */
  readonly system?: SystemEvent | undefined;
  /** Uploads of the sender to this chat (state `uploaded`), in order, that the post sends. */
  readonly attachments?: readonly Attachment[];
}

/**
 * A system message a chat change posts in the same atomic step: it takes the
 * chat's next sequence like any post, goes to the members the chat has after
 * the change, and its event follows the change's in the outbox.
 */
export interface Notice<E = ChatEvent> {
  readonly draft: MessageDraft;
  readonly eventOf: (message: Message, memberIds: readonly string[]) => E;
}

/** The system message recording a group change in its history, sent by the change's actor. */
export function systemNotice(chatId: string, system: SystemEvent, time: Date, requestId: string): Notice {
  return {
    draft: {
      id: randomUUID(),
      chatId,
      senderId: system.actorId,
      clientMessageId: randomUUID(),
      text: '',
      createTime: time,
      system,
    },
    eventOf: (message, memberIds) => messageCreated(message, memberIds, requestId),
  };
}

/** The message a draft becomes once the store has given it the chat's next sequence. */
export function postedMessage(draft: MessageDraft, sequence: number): Message {
  return {
    id: draft.id,
    chatId: draft.chatId,
    sequence,
    senderId: draft.senderId,
    clientMessageId: draft.clientMessageId,
    text: draft.text,
    createTime: draft.createTime,
    editTime: undefined,
    deleted: false,
    version: 1,
    replyTo: draft.replyTo && { ...draft.replyTo },
    replyCount: 0,
    lastReplyTime: undefined,
    deletedBy: '',
    system: draft.system,
    reactions: [],
    pin: undefined,
    entities: draft.entities ?? [],
    attachments: (draft.attachments ?? []).map((a) => ({ ...a, state: 'sent' as const, messageId: draft.id })),
  };
}

/** The times before which unsent attachments, and unfinished claims of garbage, are garbage. */
export interface GarbageCutoffs {
  readonly pendingBefore: Date;
  readonly uploadedBefore: Date;
  readonly claimedBefore: Date;
}

/**
 * Whether a collector may claim the attachment (`claimTime`: when one last
 * did; only `deleting` ones have one): the rule every store adapter applies.
 */
export function isAttachmentGarbage(a: Attachment, claimTime: Date, cutoffs: GarbageCutoffs): boolean {
  switch (a.state) {
    case 'released':
      return true;
    case 'pending':
      return a.createTime < cutoffs.pendingBefore;
    case 'uploaded':
      return a.createTime < cutoffs.uploadedBefore;
    case 'deleting':
      return claimTime < cutoffs.claimedBefore;
    case 'sent':
      return false;
  }
}

/** A position in a user's invitation list: newest first, chat id descending on ties. */
export interface InvitationCursor {
  readonly createTime: Date;
  readonly chatId: string;
}

export type InviteResult =
  /** Stored (replacing a lapsed one), its event in the outbox. */
  | 'created'
  /** The user already has a pending invitation to the chat: nothing stored. */
  | 'existing'
  /** The user has the most pending invitations allowed: nothing stored. */
  | 'limit';

export type AppendResult =
  /** Stored with the next sequence; its event is in the outbox. */
  | { readonly kind: 'created'; readonly message: Message }
  /** The sender already posted this `clientMessageId` in this chat: that message, nothing stored. */
  | { readonly kind: 'existing'; readonly message: Message }
  /** No such chat, or the sender is not a member of it. */
  | { readonly kind: 'not_member' }
  /** One of the draft's attachments is no longer an unsent upload of the sender to the chat: nothing stored. */
  | { readonly kind: 'attachment_gone'; readonly attachmentId: string };

/**
 * Where chats, messages and read positions live. Every write that publishes
 * takes its events and stores them in the outbox in the same atomic step as
 * the change; a chat's events leave the outbox in the order they were
 * written (message events in sequence order).
 *
 * `E` is the form a change's events travel in: the use cases hand over
 * `ChatEvent`s; a store adapter takes them already encoded for the outbox
 * (store/chat-store.ts), so it never encodes an event itself.
 */
export interface ChatStorage<E = ChatEvent> {
  /** Adds a chat. `duplicate` when it is direct and its pair already has one. */
  createChat(chat: Chat, events: readonly E[]): Promise<void>;
  getChat(chatId: string): Promise<Chat | undefined>;
  /** The direct chat of a pair, by `directKeyOf`. */
  findDirectChat(directKey: string): Promise<Chat | undefined>;
  /**
   * Replaces the title, owner and members of the chat stored at
   * `chat.version - 1` (its messages, sequence and activity are left alone).
   * `conflict` when the chat is gone or at another version. With a
   * `notice`, posts it in the same atomic step, after the change.
   */
  updateChat(chat: Chat, events: readonly E[], notice?: Notice<E>): Promise<void>;
  /** The user's chats, most recent activity first, starting after `after`; at most `limit`. One index range. */
  listChatsOf(userId: string, after: ActivityCursor | undefined, limit: number): Promise<Chat[]>;
  /** The ids of the user's chats in ascending order after `afterId`: a walk that activity cannot reorder. */
  chatIdsOf(userId: string, afterId: string | undefined, limit: number): Promise<string[]>;

  /**
   * Stores an invitation with its events, atomically: unless the invitee
   * already has one to the chat pending at `invitation.createTime`
   * (`existing`) or has `maxPending` others pending then (`limit`).
   */
  putInvitation(invitation: Invitation, events: readonly E[], maxPending: number): Promise<InviteResult>;
  /** The user's invitation to the chat, pending or lapsed. */
  getInvitation(chatId: string, inviteeId: string): Promise<Invitation | undefined>;
  /** The user's invitations pending at `now`, newest first, starting after `after`; at most `limit`. */
  listInvitations(
    inviteeId: string,
    now: Date,
    after: InvitationCursor | undefined,
    limit: number,
  ): Promise<Invitation[]>;
  /** How many invitations the user has pending at `now`. */
  countPendingInvitations(inviteeId: string, now: Date): Promise<number>;
  /** Removes the user's invitation to the chat; whether there was one. Publishes nothing. */
  deleteInvitation(chatId: string, inviteeId: string): Promise<boolean>;
  /**
   * The invitee joins: like `updateChat` (`conflict` when the chat is gone
   * or at another version), and in the same atomic step removes the
   * invitation, which must still be stored (`conflict` otherwise), and
   * posts the `notice` when given.
   */
  acceptInvitation(chat: Chat, inviteeId: string, events: readonly E[], notice?: Notice<E>): Promise<void>;

  /**
   * Stores a group's new invite link, atomically: first drops the group's
   * links that are no longer usable at `invite.createTime`, then stores it
   * unless the group still has `maxLinks` (`limit`). Publishes nothing.
   */
  putChatInvite(invite: ChatInvite, maxLinks: number): Promise<'created' | 'limit'>;
  /** A group's invite links, newest first (then id descending), after `after`; at most `limit`. */
  listChatInvites(chatId: string, after: ChatInviteCursor | undefined, limit: number): Promise<ChatInvite[]>;
  /** The link with this token hash, whatever its state. One index lookup. */
  findChatInvite(tokenHash: string): Promise<ChatInvite | undefined>;
  /** Removes the group's link; whether there was one. Publishes nothing. */
  deleteChatInvite(chatId: string, inviteId: string): Promise<boolean>;
  /**
   * A user joins with a link: like `updateChat` (`conflict` when the chat
   * is gone or at another version), and in the same atomic step adds one to
   * the link's `useCount`, which must stay within its `useLimit` (`conflict`
   * when it is used up or gone), and posts the `notice`. Of joins racing for
   * a link's last use, one commits.
   */
  useChatInvite(chat: Chat, inviteId: string, events: readonly E[], notice: Notice<E>): Promise<void>;

  /**
   * Posts a message atomically: checks membership, takes the chat's next
   * sequence (concurrent posts never share or skip one; a post that fails
   * takes none), stores the message, moves the chat's activity time, and
   * writes the one event `eventOf` makes of the stored message and the
   * members at that moment. Idempotent on (chat, sender, client message id).
   * A reply also, in the same step, adds one to its parent's `replyCount`
   * and sets its `lastReplyTime` (never moving it back). The draft's
   * attachments move from `uploaded` to `sent` in the same step; when one
   * is no longer an upload of the sender to this chat (sent meanwhile, or
   * claimed as garbage), nothing is stored (`attachment_gone`).
   */
  appendMessage(
    draft: MessageDraft,
    eventOf: (message: Message, memberIds: readonly string[]) => E,
  ): Promise<AppendResult>;
  getMessage(chatId: string, messageId: string): Promise<Message | undefined>;

  /**
   * Stores a reservation (state `pending`) unless its uploader already
   * holds `maxUnsent` attachments pending or uploaded (`limit`). Publishes nothing.
   */
  putAttachment(attachment: Attachment, maxUnsent: number): Promise<'created' | 'limit'>;
  getAttachment(attachmentId: string): Promise<Attachment | undefined>;
  /** Replaces a `pending` attachment with its uploaded form; false when it is no longer pending. */
  completeAttachment(attachment: Attachment): Promise<boolean>;
  /**
   * Claims up to `limit` attachments that are garbage at `now`, moving them
   * to `deleting` in one atomic step each, so that no post can send one
   * any more: released ones, pending ones older than `pendingBefore`,
   * uploaded ones older than `uploadedBefore`, and ones claimed before
   * `claimedBefore` by a collector that never finished.
   */
  claimAttachmentGarbage(now: Date, cutoffs: GarbageCutoffs, limit: number): Promise<Attachment[]>;
  /** Forgets claimed (`deleting`) attachments whose bytes are gone. */
  deleteAttachments(attachmentIds: readonly string[]): Promise<void>;
  /** Messages with the given sequences of the given chats (e.g. each chat's newest), in no particular order. */
  messagesAt(refs: readonly { readonly chatId: string; readonly sequence: number }[]): Promise<Message[]>;
  /** A chat's messages, highest sequence first, below `beforeSequence` when given; at most `limit`. One index range. */
  listMessages(chatId: string, beforeSequence: number | undefined, limit: number): Promise<Message[]>;
  /** The replies to a message, lowest sequence first, above `afterSequence` when given; at most `limit`. One index range. */
  listReplies(chatId: string, parentId: string, afterSequence: number | undefined, limit: number): Promise<Message[]>;
  /**
   * Replaces the text, edit time and deletion of the message stored at
   * `message.version - 1` (its reply count and time are left alone). `conflict` when it is gone or at another version.
   * In the same step, an edit (a new text, not a deletion) keeps the text it replaces as a version
   * (`versionOf`, at the edit time), dropping the oldest beyond `MAX_KEPT_VERSIONS`; a deletion removes them all,
   * and releases the message's attachments (state `released`: garbage for the collector). */
  updateMessage(message: Message, events: readonly E[]): Promise<void>;

  /** The user's read position in each of the chats (0 when none). */
  readPositions(userId: string, chatIds: readonly string[]): Promise<Map<string, number>>;
  /** Moves the user's read position forward to `upTo` (never back); resolves with the position after. */
  markRead(chatId: string, userId: string, upTo: number): Promise<number>;
  /**
   * For each chat, how many of its messages above `afterSequence` are not
   * deleted and were not sent by `userId`, counting at most `cap` per chat
   * (0 for a chat with none): a page of a chat list in one store read.
   */
  countUnread(
    userId: string,
    positions: readonly { readonly chatId: string; readonly afterSequence: number }[],
    cap: number,
  ): Promise<Map<string, number>>;

  /**
   * The messages of the given chats, not deleted, whose current text has at
   * least one of `terms` (terms as `searchTermsOf` makes them, the index
   * kept in step with posts, edits and deletions): most distinct terms
   * matched first, then newest, then message id descending; after `after`,
   * at most `limit`.
   */
  searchMessages(
    chatIds: readonly string[],
    terms: readonly string[],
    after: SearchCursor | undefined,
    limit: number,
  ): Promise<SearchHit[]>;

  /** The kept earlier texts of a message, highest version first, below `beforeVersion` when given; at most `limit`. */
  listMessageVersions(
    chatId: string,
    messageId: string,
    beforeVersion: number | undefined,
    limit: number,
  ): Promise<MessageVersion[]>;

  /**
   * Adds or removes one member's reaction atomically: checks the message
   * (in the chat, not deleted), keeps at most one reaction per member and
   * emoji, moves the message's counts (`withReaction`) without touching its
   * `version`, and writes the event `eventOf` makes of the message after.
   * A deletion of the message (`updateMessage`) drops its reactions.
   */
  setReaction(draft: ReactionDraft, maxEmoji: number, eventOf: (message: Message) => E): Promise<ReactionResult>;
  /** The emoji the user reacted with on each of the messages that has any: one indexed read for a page. */
  reactionsBy(userId: string, messageIds: readonly string[]): Promise<Map<string, string[]>>;

  /**
   * Pins or unpins a message atomically: checks it (in the chat; a deleted
   * message is never pinned), keeps at most `maxPins` pinned per chat, sets
   * or clears its `pin` without touching its `version`, and writes the
   * event `eventOf` makes of the message after. A deletion of the message
   * (`updateMessage`) unpins it.
   */
  setPin(draft: PinDraft, maxPins: number, eventOf: (message: Message) => E): Promise<PinResult>;
  /** A chat's pinned messages, most recently pinned first, after `after`; at most `limit`. One index range. */
  listPins(chatId: string, after: PinCursor | undefined, limit: number): Promise<Message[]>;
  /** Each (chat, user)'s read position (0 when none), in the order asked: one read for many readers. */
  readPositionsOf(refs: readonly { readonly chatId: string; readonly userId: string }[]): Promise<number[]>;

  /**
   * For each of the user's chats, how many messages above the given read
   * position mention the user (`mentions`: by name or with `@all`), are not
   * deleted and were not sent by the user, counting at most `cap` per chat.
   * Every chat asked for is in the answer. One read for the whole list, so
   * a page of chats costs one query, not one per chat.
   */
  countUnreadMentions(
    userId: string,
    positions: readonly { readonly chatId: string; readonly afterSequence: number }[],
    cap: number,
  ): Promise<Map<string, number>>;

  /** The user's own settings of each of the chats; those never changed are not in the map. */
  memberSettings(userId: string, chatIds: readonly string[]): Promise<Map<string, MemberSettings>>;
  /** Replaces the user's settings of the chat, with their events, atomically. */
  putMemberSettings(chatId: string, userId: string, settings: MemberSettings, events: readonly E[]): Promise<void>;
  /**
   * Like `listChatsOf`, only the chats the user has archived (`archived`)
   * or not: the main list and the archive each one index range.
   */
  listChatsByArchive(
    userId: string,
    archived: boolean,
    after: ActivityCursor | undefined,
    limit: number,
  ): Promise<Chat[]>;

  /** The presence privacy settings of those of `userIds` who set one. */
  presencePrivacies(userIds: readonly string[]): Promise<Map<string, PresencePrivacy>>;
  /** Sets (or replaces) the user's presence privacy setting. */
  setPresencePrivacy(userId: string, privacy: PresencePrivacy): Promise<void>;
  /** Removes the user's presence privacy setting, if any (the user was deleted). */
  forgetPresencePrivacy(userId: string): Promise<void>;
}

/** One member's reaction to add to a message or remove from it. */
export interface ReactionDraft {
  readonly chatId: string;
  readonly messageId: string;
  readonly userId: string;
  readonly emoji: string;
  readonly add: boolean;
}

export type ReactionResult =
  /** Stored, the counts moved and the event is in the outbox: the message after. */
  | { readonly kind: 'changed'; readonly message: Message }
  /** The member already had (adding) or did not have (removing) it: the message, nothing stored. */
  | { readonly kind: 'unchanged'; readonly message: Message }
  /** No such message in the chat. */
  | { readonly kind: 'not_found' }
  /** The message is deleted: nothing stored. */
  | { readonly kind: 'deleted' }
  /** A new emoji on a message that already has `maxEmoji` distinct ones: nothing stored. */
  | { readonly kind: 'limit' };

/** A position in a chat's pinned list: most recently pinned first, message id descending on ties. */
export interface PinCursor {
  readonly pinTime: Date;
  readonly messageId: string;
}

/** A message to pin (by `userId`, at `time`) or unpin. */
export interface PinDraft {
  readonly chatId: string;
  readonly messageId: string;
  readonly userId: string;
  readonly pin: boolean;
  readonly time: Date;
}

export type PinResult =
  /** Pinned or unpinned, its event in the outbox: the message after. */
  | { readonly kind: 'changed'; readonly message: Message }
  /** Already pinned (pinning) or not pinned (unpinning): the message, nothing stored. */
  | { readonly kind: 'unchanged'; readonly message: Message }
  /** No such message in the chat. */
  | { readonly kind: 'not_found' }
  /** Pinning a deleted message: nothing stored. */
  | { readonly kind: 'deleted' }
  /** The chat already has `maxPins` pinned messages: nothing stored. */
  | { readonly kind: 'limit' };

/** A position in a group's list of invite links: newest first, id descending on ties. */
export interface ChatInviteCursor {
  readonly createTime: Date;
  readonly inviteId: string;
}

/** The closed set of failures a store reports; adapters translate their driver's errors into these. */
export type StoreErrorKind = 'duplicate' | 'conflict';

export class StoreError extends StoreFailure<StoreErrorKind> {}

export function isStoreError(error: unknown, kind: StoreErrorKind): error is StoreError {
  return error instanceof StoreError && error.kind === kind;
}
