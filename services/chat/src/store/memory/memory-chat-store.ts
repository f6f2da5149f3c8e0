import { MemoryOutbox, type OutboxEntry } from '@messenger/platform/events';
import {
  type Attachment,
  type Chat,
  type ChatInvite,
  type Invitation,
  isPending,
  isUsableInvite,
  isUsedUp,
  MAX_KEPT_VERSIONS,
  type MemberSettings,
  type Message,
  type MessageVersion,
  memberIdsOf,
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
  isAttachmentGarbage,
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
import { mentions } from '../../domain/mentions.ts';
import type { PresencePrivacy } from '../../domain/presence.ts';
import { compareHits, isAfter, type SearchCursor, type SearchHit, searchTermsOf } from '../../domain/search.ts';
import type { ChatStore } from '../chat-store.ts';

interface ChatRecord {
  chat: Chat;
  /** Index sequence - 1: the history is an array, so a page is a slice whatever its length. */
  readonly messages: Message[];
  /** `<sender>|<client message id>` → sequence. */
  readonly byClientId: Map<string, number>;
  readonly byMessageId: Map<string, number>;
  /** Parent message id → its replies' sequences, ascending. */
  readonly replies: Map<string, number[]>;
  /** The sequences of its pinned messages (at most the pin limit, so a list sorts them). */
  readonly pinned: Set<number>;
}

/**
 * Embedded mode and tests. Each write checks, changes the maps and appends
 * its events in one synchronous step, which is atomic in a single-threaded
 * process: sequences are taken without gaps or repeats, and the outbox
 * (one list in write order) keeps every chat's events in order. Records are
 * copied in and out so callers never share state.
 */
export class MemoryChatStore implements ChatStore {
  readonly outbox = new MemoryOutbox();
  readonly #chats = new Map<string, ChatRecord>();
  readonly #direct = new Map<string, string>();
  /** user id → ids of their chats. */
  readonly #chatsOfUser = new Map<string, Set<string>>();
  /** `<chat id>|<user id>` → read position. */
  readonly #reads = new Map<string, number>();
  readonly #presencePrivacy = new Map<string, PresencePrivacy>();
  /** invitee id → (chat id → invitation). */
  readonly #invitations = new Map<string, Map<string, Invitation>>();
  /** chat id → (invite id → the group's invite link). */
  readonly #invites = new Map<string, Map<string, ChatInvite>>();
  /** token hash → the link's chat and invite ids. */
  readonly #inviteByHash = new Map<string, { chatId: string; inviteId: string }>();
  /** The inverted index of message texts: term → chat id → sequences of the messages that have it. */
  readonly #terms = new Map<string, Map<string, Set<number>>>();
  /** `<chat id>|<message id>` → its kept earlier texts, oldest first. */
  readonly #versions = new Map<string, MessageVersion[]>();
  /** message id → user id → the emoji that user reacted with on it. */
  readonly #reactions = new Map<string, Map<string, Set<string>>>();
  /** `<chat id>|<user id>` → that member's own settings of the chat. */
  readonly #settings = new Map<string, MemberSettings>();
  /** By attachment id, with when a collector claimed it (`deleting`). */
  readonly #attachments = new Map<string, { attachment: Attachment; claimTime: number }>();

  async createChat(chat: Chat, entries: readonly OutboxEntry[]): Promise<void> {
    if (this.#chats.has(chat.id)) throw new StoreError('duplicate', 'the chat exists');
    if (chat.directKey !== '' && this.#direct.has(chat.directKey)) {
      throw new StoreError('duplicate', 'the pair has a direct chat');
    }
    this.#chats.set(chat.id, {
      chat: clone(chat),
      messages: [],
      byClientId: new Map(),
      byMessageId: new Map(),
      replies: new Map(),
      pinned: new Set(),
    });
    if (chat.directKey !== '') this.#direct.set(chat.directKey, chat.id);
    this.#index(undefined, chat);
    this.outbox.append(entries);
  }

  async getChat(chatId: string): Promise<Chat | undefined> {
    const record = this.#chats.get(chatId);
    return record && clone(record.chat);
  }

  async findDirectChat(directKey: string): Promise<Chat | undefined> {
    const id = this.#direct.get(directKey);
    return id === undefined ? undefined : this.getChat(id);
  }

  async updateChat(chat: Chat, entries: readonly OutboxEntry[], notice?: Notice<OutboxEntry>): Promise<void> {
    const record = this.#chats.get(chat.id);
    if (record?.chat.version !== chat.version - 1) throw new StoreError('conflict', 'the chat changed or is gone');
    const before = record.chat;
    // Messages may have been posted since the caller read the chat: their sequence and activity stay.
    record.chat = {
      ...clone(chat),
      lastSequence: before.lastSequence,
      lastActivityTime: before.lastActivityTime,
    };
    this.#index(before, record.chat);
    // A member who leaves takes their read position along: back, they start from nothing read.
    const now = new Set(memberIdsOf(record.chat));
    for (const userId of memberIdsOf(before)) if (!now.has(userId)) this.#reads.delete(`${chat.id}|${userId}`);
    this.outbox.append(entries);
    if (!notice) return;
    const message = postedMessage(notice.draft, record.chat.lastSequence + 1);
    const entry = notice.eventOf(message, memberIdsOf(record.chat));
    record.messages.push(clone(message));
    record.byClientId.set(`${message.senderId}|${message.clientMessageId}`, message.sequence);
    record.byMessageId.set(message.id, message.sequence);
    const lastActivityTime = new Date(Math.max(message.createTime.getTime(), record.chat.lastActivityTime.getTime()));
    record.chat = { ...record.chat, lastSequence: message.sequence, lastActivityTime };
    this.outbox.append([entry]);
  }

  async listChatsOf(userId: string, after: ActivityCursor | undefined, limit: number): Promise<Chat[]> {
    // A sort of the user's chats is fine for embedded mode; the Mongo adapter reads one index range.
    return [...(this.#chatsOfUser.get(userId) ?? [])]
      .map((id) => this.#chats.get(id)?.chat)
      .filter((c): c is Chat => c !== undefined)
      .filter((c) => after === undefined || compareActivityDesc(cursorOf(c), after) > 0)
      .sort((a, b) => compareActivityDesc(cursorOf(a), cursorOf(b)))
      .slice(0, limit)
      .map(clone);
  }

  async chatIdsOf(userId: string, afterId: string | undefined, limit: number): Promise<string[]> {
    return [...(this.#chatsOfUser.get(userId) ?? [])]
      .filter((id) => afterId === undefined || id > afterId)
      .sort()
      .slice(0, limit);
  }

  async putInvitation(
    invitation: Invitation,
    entries: readonly OutboxEntry[],
    maxPending: number,
  ): Promise<InviteResult> {
    const mine = this.#invitations.get(invitation.inviteeId) ?? new Map<string, Invitation>();
    const now = invitation.createTime;
    const current = mine.get(invitation.chatId);
    if (current && isPending(current, now)) return 'existing';
    if ([...mine.values()].filter((i) => isPending(i, now)).length >= maxPending) return 'limit';
    mine.set(invitation.chatId, { ...invitation });
    this.#invitations.set(invitation.inviteeId, mine);
    this.outbox.append(entries);
    return 'created';
  }

  async getInvitation(chatId: string, inviteeId: string): Promise<Invitation | undefined> {
    const found = this.#invitations.get(inviteeId)?.get(chatId);
    return found && { ...found };
  }

  async listInvitations(
    inviteeId: string,
    now: Date,
    after: InvitationCursor | undefined,
    limit: number,
  ): Promise<Invitation[]> {
    return [...(this.#invitations.get(inviteeId)?.values() ?? [])]
      .filter((i) => isPending(i, now))
      .filter((i) => after === undefined || compareInvitationsDesc(i, after) > 0)
      .sort(compareInvitationsDesc)
      .slice(0, limit)
      .map((i) => ({ ...i }));
  }

  async countPendingInvitations(inviteeId: string, now: Date): Promise<number> {
    return [...(this.#invitations.get(inviteeId)?.values() ?? [])].filter((i) => isPending(i, now)).length;
  }

  async deleteInvitation(chatId: string, inviteeId: string): Promise<boolean> {
    return this.#invitations.get(inviteeId)?.delete(chatId) ?? false;
  }

  async acceptInvitation(
    chat: Chat,
    inviteeId: string,
    entries: readonly OutboxEntry[],
    notice?: Notice<OutboxEntry>,
  ): Promise<void> {
    if (!this.#invitations.get(inviteeId)?.has(chat.id)) throw new StoreError('conflict', 'the invitation is gone');
    await this.updateChat(chat, entries, notice);
    this.#invitations.get(inviteeId)?.delete(chat.id);
  }

  async putChatInvite(invite: ChatInvite, maxLinks: number): Promise<'created' | 'limit'> {
    const links = this.#invites.get(invite.chatId) ?? new Map<string, ChatInvite>();
    for (const link of links.values()) {
      if (!isUsableInvite(link, invite.createTime)) this.#dropInvite(link);
    }
    if (links.size >= maxLinks) return 'limit';
    links.set(invite.id, { ...invite });
    this.#invites.set(invite.chatId, links);
    this.#inviteByHash.set(invite.tokenHash, { chatId: invite.chatId, inviteId: invite.id });
    return 'created';
  }

  async listChatInvites(chatId: string, after: ChatInviteCursor | undefined, limit: number): Promise<ChatInvite[]> {
    return [...(this.#invites.get(chatId)?.values() ?? [])]
      .filter((i) => after === undefined || compareInvitesDesc(i, after) > 0)
      .sort(compareInvitesDesc)
      .slice(0, limit)
      .map((i) => ({ ...i }));
  }

  async findChatInvite(tokenHash: string): Promise<ChatInvite | undefined> {
    const ref = this.#inviteByHash.get(tokenHash);
    const found = ref && this.#invites.get(ref.chatId)?.get(ref.inviteId);
    return found && { ...found };
  }

  async deleteChatInvite(chatId: string, inviteId: string): Promise<boolean> {
    const link = this.#invites.get(chatId)?.get(inviteId);
    if (link) this.#dropInvite(link);
    return link !== undefined;
  }

  async useChatInvite(
    chat: Chat,
    inviteId: string,
    entries: readonly OutboxEntry[],
    notice: Notice<OutboxEntry>,
  ): Promise<void> {
    const links = this.#invites.get(chat.id);
    const link = links?.get(inviteId);
    if (!links || !link || isUsedUp(link)) {
      throw new StoreError('conflict', 'the invite link is used up or gone');
    }
    if (this.#chats.get(chat.id)?.chat.version !== chat.version - 1) {
      throw new StoreError('conflict', 'the chat changed or is gone');
    }
    // Counted before updateChat, whose checks have just passed, runs: no other join comes between.
    links.set(inviteId, { ...link, useCount: link.useCount + 1 });
    return this.updateChat(chat, entries, notice);
  }

  #dropInvite(link: ChatInvite): void {
    this.#invites.get(link.chatId)?.delete(link.id);
    this.#inviteByHash.delete(link.tokenHash);
  }

  async appendMessage(
    draft: MessageDraft,
    entryOf: (message: Message, memberIds: readonly string[]) => OutboxEntry,
  ): Promise<AppendResult> {
    const record = this.#chats.get(draft.chatId);
    if (!record?.chat.members.some((m) => m.userId === draft.senderId)) return { kind: 'not_member' };
    const clientKey = `${draft.senderId}|${draft.clientMessageId}`;
    const existing = record.byClientId.get(clientKey);
    if (existing !== undefined) return { kind: 'existing', message: clone(messageAt(record, existing)) };
    const parentSequence = draft.replyTo && record.byMessageId.get(draft.replyTo.messageId);
    if (draft.replyTo && parentSequence === undefined) throw new Error('a reply to a message not in its chat');
    for (const a of draft.attachments ?? []) {
      const stored = this.#attachments.get(a.id)?.attachment;
      const unsent = stored?.state === 'uploaded' && stored.chatId === draft.chatId;
      if (!unsent || stored.uploaderId !== draft.senderId) return { kind: 'attachment_gone', attachmentId: a.id };
    }
    const message = postedMessage(draft, record.chat.lastSequence + 1);
    const entry = entryOf(message, memberIdsOf(record.chat));
    for (const a of message.attachments) this.#attachments.set(a.id, { attachment: clone(a), claimTime: 0 });
    if (draft.replyTo && parentSequence !== undefined) {
      const parent = messageAt(record, parentSequence);
      record.messages[parentSequence - 1] = {
        ...parent,
        replyCount: parent.replyCount + 1,
        lastReplyTime: latest(parent.lastReplyTime, draft.createTime),
      };
      const thread = record.replies.get(draft.replyTo.messageId) ?? [];
      thread.push(message.sequence);
      record.replies.set(draft.replyTo.messageId, thread);
    }
    record.messages.push(clone(message));
    record.byClientId.set(clientKey, message.sequence);
    record.byMessageId.set(message.id, message.sequence);
    this.#indexText(message, true);
    // Activity never moves back, whatever the clock did.
    const lastActivityTime = new Date(Math.max(draft.createTime.getTime(), record.chat.lastActivityTime.getTime()));
    record.chat = { ...record.chat, lastSequence: message.sequence, lastActivityTime };
    this.outbox.append([entry]);
    return { kind: 'created', message };
  }

  async getMessage(chatId: string, messageId: string): Promise<Message | undefined> {
    const record = this.#chats.get(chatId);
    const sequence = record?.byMessageId.get(messageId);
    return record && sequence !== undefined ? clone(messageAt(record, sequence)) : undefined;
  }

  async messagesAt(refs: readonly { readonly chatId: string; readonly sequence: number }[]): Promise<Message[]> {
    return refs.flatMap(({ chatId, sequence }) => {
      const m = this.#chats.get(chatId)?.messages[sequence - 1];
      return m ? [clone(m)] : [];
    });
  }

  async listMessages(chatId: string, beforeSequence: number | undefined, limit: number): Promise<Message[]> {
    const messages = this.#chats.get(chatId)?.messages ?? [];
    const end = Math.min(beforeSequence === undefined ? messages.length : beforeSequence - 1, messages.length);
    return messages
      .slice(Math.max(0, end - limit), Math.max(0, end))
      .reverse()
      .map(clone);
  }

  async listReplies(
    chatId: string,
    parentId: string,
    afterSequence: number | undefined,
    limit: number,
  ): Promise<Message[]> {
    const record = this.#chats.get(chatId);
    if (!record) return [];
    return (record.replies.get(parentId) ?? [])
      .filter((sequence) => afterSequence === undefined || sequence > afterSequence)
      .slice(0, limit)
      .map((sequence) => clone(messageAt(record, sequence)));
  }

  async updateMessage(message: Message, entries: readonly OutboxEntry[]): Promise<void> {
    const record = this.#chats.get(message.chatId);
    const current = record?.messages[message.sequence - 1];
    if (!record || current?.id !== message.id || current.version !== message.version - 1) {
      throw new StoreError('conflict', 'the message changed or is gone');
    }
    this.#indexText(current, false);
    this.#indexText(message, true);
    this.#keepVersion(current, message);
    // Replies and reactions may have come since the caller read it: their counts stay, unless it is deleted.
    record.messages[message.sequence - 1] = {
      ...clone(message),
      replyCount: current.replyCount,
      lastReplyTime: current.lastReplyTime,
      reactions: message.deleted ? [] : current.reactions,
      pin: message.deleted ? undefined : current.pin,
    };
    if (message.deleted) {
      this.#reactions.delete(message.id);
      record.pinned.delete(message.sequence);
      for (const a of current.attachments) {
        const held = this.#attachments.get(a.id);
        if (held?.attachment.state === 'sent') held.attachment = { ...held.attachment, state: 'released' };
      }
    }
    this.outbox.append(entries);
  }

  async putAttachment(attachment: Attachment, maxUnsent: number): Promise<'created' | 'limit'> {
    let unsent = 0;
    for (const { attachment: a } of this.#attachments.values()) {
      if (a.uploaderId === attachment.uploaderId && (a.state === 'pending' || a.state === 'uploaded')) unsent++;
    }
    if (unsent >= maxUnsent) return 'limit';
    this.#attachments.set(attachment.id, { attachment: clone(attachment), claimTime: 0 });
    return 'created';
  }

  async getAttachment(attachmentId: string): Promise<Attachment | undefined> {
    const held = this.#attachments.get(attachmentId);
    return held && clone(held.attachment);
  }

  async completeAttachment(attachment: Attachment): Promise<boolean> {
    const held = this.#attachments.get(attachment.id);
    if (held?.attachment.state !== 'pending') return false;
    held.attachment = clone(attachment);
    return true;
  }

  async claimAttachmentGarbage(now: Date, cutoffs: GarbageCutoffs, limit: number): Promise<Attachment[]> {
    const claimed: Attachment[] = [];
    for (const held of this.#attachments.values()) {
      if (claimed.length === limit) break;
      if (!isAttachmentGarbage(held.attachment, new Date(held.claimTime), cutoffs)) continue;
      held.attachment = { ...held.attachment, state: 'deleting' };
      held.claimTime = now.getTime();
      claimed.push(clone(held.attachment));
    }
    return claimed;
  }

  async deleteAttachments(attachmentIds: readonly string[]): Promise<void> {
    for (const id of attachmentIds) {
      if (this.#attachments.get(id)?.attachment.state === 'deleting') this.#attachments.delete(id);
    }
  }

  async readPositions(userId: string, chatIds: readonly string[]): Promise<Map<string, number>> {
    return new Map(chatIds.map((id) => [id, this.#reads.get(`${id}|${userId}`) ?? 0]));
  }

  async markRead(chatId: string, userId: string, upTo: number): Promise<number> {
    const key = `${chatId}|${userId}`;
    const position = Math.max(this.#reads.get(key) ?? 0, upTo);
    this.#reads.set(key, position);
    return position;
  }

  async countUnread(
    userId: string,
    positions: readonly { readonly chatId: string; readonly afterSequence: number }[],
    cap: number,
  ): Promise<Map<string, number>> {
    return this.#countAfter(userId, positions, cap, () => true);
  }

  async countUnreadMentions(
    userId: string,
    positions: readonly { readonly chatId: string; readonly afterSequence: number }[],
    cap: number,
  ): Promise<Map<string, number>> {
    return this.#countAfter(userId, positions, cap, (m) => mentions(m, userId));
  }

  /** Per chat, others' live messages after the position that `counts`, up to `cap`. */
  #countAfter(
    userId: string,
    positions: readonly { readonly chatId: string; readonly afterSequence: number }[],
    cap: number,
    counts: (message: Message) => boolean,
  ): Map<string, number> {
    const found = new Map<string, number>();
    for (const { chatId, afterSequence } of positions) {
      const messages = this.#chats.get(chatId)?.messages ?? [];
      let count = 0;
      for (let i = Math.max(0, afterSequence); i < messages.length && count < cap; i++) {
        const m = messages[i];
        if (m && !m.deleted && m.senderId !== userId && counts(m)) count++;
      }
      found.set(chatId, count);
    }
    return found;
  }

  async memberSettings(userId: string, chatIds: readonly string[]): Promise<Map<string, MemberSettings>> {
    return new Map(
      chatIds.flatMap((id) => {
        const settings = this.#settings.get(`${id}|${userId}`);
        return settings ? [[id, { ...settings }] as const] : [];
      }),
    );
  }

  async putMemberSettings(
    chatId: string,
    userId: string,
    settings: MemberSettings,
    entries: readonly OutboxEntry[],
  ): Promise<void> {
    this.#settings.set(`${chatId}|${userId}`, { ...settings });
    this.outbox.append(entries);
  }

  async listChatsByArchive(
    userId: string,
    archived: boolean,
    after: ActivityCursor | undefined,
    limit: number,
  ): Promise<Chat[]> {
    const all = await this.listChatsOf(userId, after, Number.MAX_SAFE_INTEGER);
    return all
      .filter((chat) => (this.#settings.get(`${chat.id}|${userId}`)?.archived ?? false) === archived)
      .slice(0, limit);
  }

  async searchMessages(
    chatIds: readonly string[],
    terms: readonly string[],
    after: SearchCursor | undefined,
    limit: number,
  ): Promise<SearchHit[]> {
    const matched = new Map<string, { chatId: string; sequence: number; count: number }>();
    for (const term of new Set(terms)) {
      const byChat = this.#terms.get(term);
      for (const chatId of byChat ? chatIds : []) {
        for (const sequence of byChat?.get(chatId) ?? []) {
          const key = `${chatId}|${sequence}`;
          const hit = matched.get(key) ?? { chatId, sequence, count: 0 };
          hit.count++;
          matched.set(key, hit);
        }
      }
    }
    const hits: SearchHit[] = [];
    for (const { chatId, sequence, count } of matched.values()) {
      const record = this.#chats.get(chatId);
      const message = record && messageAt(record, sequence);
      if (message && !message.deleted) hits.push({ message, matchedTerms: count });
    }
    return hits
      .filter((hit) => after === undefined || isAfter(hit, after))
      .sort(compareHits)
      .slice(0, limit)
      .map((hit) => ({ ...hit, message: clone(hit.message) }));
  }

  async listMessageVersions(
    chatId: string,
    messageId: string,
    beforeVersion: number | undefined,
    limit: number,
  ): Promise<MessageVersion[]> {
    return (this.#versions.get(`${chatId}|${messageId}`) ?? [])
      .filter((v) => beforeVersion === undefined || v.version < beforeVersion)
      .reverse()
      .slice(0, limit)
      .map((v) => ({ ...v }));
  }

  async readPositionsOf(refs: readonly { readonly chatId: string; readonly userId: string }[]): Promise<number[]> {
    return refs.map((r) => this.#reads.get(`${r.chatId}|${r.userId}`) ?? 0);
  }

  async presencePrivacies(userIds: readonly string[]): Promise<Map<string, PresencePrivacy>> {
    const found = new Map<string, PresencePrivacy>();
    for (const id of userIds) {
      const privacy = this.#presencePrivacy.get(id);
      if (privacy) found.set(id, privacy);
    }
    return found;
  }

  async setPresencePrivacy(userId: string, privacy: PresencePrivacy): Promise<void> {
    this.#presencePrivacy.set(userId, privacy);
  }

  async forgetPresencePrivacy(userId: string): Promise<void> {
    this.#presencePrivacy.delete(userId);
  }

  /** An edit keeps the text it replaces (the newest `MAX_KEPT_VERSIONS`); a deletion drops them all. */
  async setReaction(
    draft: ReactionDraft,
    maxEmoji: number,
    entryOf: (message: Message) => OutboxEntry,
  ): Promise<ReactionResult> {
    const record = this.#chats.get(draft.chatId);
    const sequence = record?.byMessageId.get(draft.messageId);
    if (!record || sequence === undefined) return { kind: 'not_found' };
    const current = messageAt(record, sequence);
    if (current.deleted) return { kind: 'deleted' };
    const byUser = this.#reactions.get(draft.messageId) ?? new Map<string, Set<string>>();
    const mine = byUser.get(draft.userId) ?? new Set<string>();
    if (mine.has(draft.emoji) === draft.add) return { kind: 'unchanged', message: clone(current) };
    const isNew = !current.reactions.some((r) => r.emoji === draft.emoji);
    if (draft.add && isNew && current.reactions.length >= maxEmoji) return { kind: 'limit' };
    const after: Message = { ...current, reactions: withReaction(current.reactions, draft.emoji, draft.add ? 1 : -1) };
    const entry = entryOf(after);
    if (draft.add) mine.add(draft.emoji);
    else mine.delete(draft.emoji);
    if (mine.size === 0) byUser.delete(draft.userId);
    else byUser.set(draft.userId, mine);
    if (byUser.size === 0) this.#reactions.delete(draft.messageId);
    else this.#reactions.set(draft.messageId, byUser);
    record.messages[sequence - 1] = after;
    this.outbox.append([entry]);
    return { kind: 'changed', message: clone(after) };
  }

  async reactionsBy(userId: string, messageIds: readonly string[]): Promise<Map<string, string[]>> {
    const found = new Map<string, string[]>();
    for (const id of messageIds) {
      const mine = this.#reactions.get(id)?.get(userId);
      if (mine) found.set(id, [...mine]);
    }
    return found;
  }

  async setPin(draft: PinDraft, maxPins: number, entryOf: (message: Message) => OutboxEntry): Promise<PinResult> {
    const record = this.#chats.get(draft.chatId);
    const sequence = record?.byMessageId.get(draft.messageId);
    if (!record || sequence === undefined) return { kind: 'not_found' };
    const current = messageAt(record, sequence);
    if (draft.pin && current.deleted) return { kind: 'deleted' };
    if ((current.pin !== undefined) === draft.pin) return { kind: 'unchanged', message: clone(current) };
    if (draft.pin && record.pinned.size >= maxPins) return { kind: 'limit' };
    const after: Message = { ...current, pin: draft.pin ? { userId: draft.userId, time: draft.time } : undefined };
    const entry = entryOf(after);
    if (draft.pin) record.pinned.add(sequence);
    else record.pinned.delete(sequence);
    record.messages[sequence - 1] = after;
    this.outbox.append([entry]);
    return { kind: 'changed', message: clone(after) };
  }

  async listPins(chatId: string, after: PinCursor | undefined, limit: number): Promise<Message[]> {
    const record = this.#chats.get(chatId);
    if (!record) return [];
    const pinned = [...record.pinned].map((sequence) => messageAt(record, sequence));
    return pinned
      .filter((m) => after === undefined || comparePinsDesc(m, after) > 0)
      .sort((a, b) => comparePinsDesc(a, b))
      .slice(0, limit)
      .map(clone);
  }

  #keepVersion(before: Message, after: Message): void {
    const key = `${after.chatId}|${after.id}`;
    if (after.deleted) {
      this.#versions.delete(key);
      return;
    }
    if (after.text === before.text) return;
    const kept = [...(this.#versions.get(key) ?? []), versionOf(before, after.editTime ?? new Date())];
    this.#versions.set(key, kept.slice(-MAX_KEPT_VERSIONS));
  }

  /** Adds a message's terms to the text index, or removes them. */
  #indexText(message: Message, add: boolean): void {
    for (const term of searchTermsOf(message.text)) {
      let byChat = this.#terms.get(term);
      if (!byChat) {
        if (!add) continue;
        byChat = new Map();
        this.#terms.set(term, byChat);
      }
      let sequences = byChat.get(message.chatId);
      if (!sequences) {
        if (!add) continue;
        sequences = new Set();
        byChat.set(message.chatId, sequences);
      }
      if (add) sequences.add(message.sequence);
      else sequences.delete(message.sequence);
    }
  }

  /** Keeps user → chats in step with a chat's members. */
  #index(before: Chat | undefined, after: Chat): void {
    const now = new Set(after.members.map((m) => m.userId));
    for (const m of before?.members ?? []) {
      if (!now.has(m.userId)) this.#chatsOfUser.get(m.userId)?.delete(after.id);
    }
    for (const id of now) {
      let set = this.#chatsOfUser.get(id);
      if (!set) {
        set = new Set();
        this.#chatsOfUser.set(id, set);
      }
      set.add(after.id);
    }
  }
}

function messageAt(record: ChatRecord, sequence: number): Message {
  const m = record.messages[sequence - 1];
  if (!m) throw new Error(`chat ${record.chat.id} has no message ${sequence}`);
  return m;
}

function latest(a: Date | undefined, b: Date): Date {
  return a !== undefined && a.getTime() > b.getTime() ? a : b;
}

function cursorOf(chat: Chat): ActivityCursor {
  return { lastActivityTime: chat.lastActivityTime, chatId: chat.id };
}

/** Descending list order: later activity first, then the higher chat id. */
function compareActivityDesc(a: ActivityCursor, b: ActivityCursor): number {
  const dt = b.lastActivityTime.getTime() - a.lastActivityTime.getTime();
  if (dt !== 0) return dt;
  return a.chatId < b.chatId ? 1 : a.chatId > b.chatId ? -1 : 0;
}

/** Pinned list order: most recently pinned first, then the higher message id; `b` may be a cursor. */
function comparePinsDesc(a: Message, b: Message | PinCursor): number {
  const bTime = 'pinTime' in b ? b.pinTime : b.pin?.time;
  const bId = 'pinTime' in b ? b.messageId : b.id;
  const dt = (bTime?.getTime() ?? 0) - (a.pin?.time.getTime() ?? 0);
  if (dt !== 0) return dt;
  return a.id < bId ? 1 : a.id > bId ? -1 : 0;
}

/** Invitation list order: newest first, then the higher chat id. */
function compareInvitationsDesc(a: InvitationCursor, b: InvitationCursor): number {
  return compareActivityDesc(
    { lastActivityTime: a.createTime, chatId: a.chatId },
    { lastActivityTime: b.createTime, chatId: b.chatId },
  );
}

/** Invite link list order: newest first, then the higher id; `b` may be a cursor. */
function compareInvitesDesc(a: ChatInvite, b: ChatInvite | ChatInviteCursor): number {
  const bId = 'inviteId' in b ? b.inviteId : b.id;
  const dt = b.createTime.getTime() - a.createTime.getTime();
  if (dt !== 0) return dt;
  return a.id < bId ? 1 : a.id > bId ? -1 : 0;
}

/**
 * Copies in and out, so callers never share state with the store. By hand
 * rather than structuredClone, which costs several times more on the
 * SendMessage path; Dates are never mutated, so they are shared.
 */
function clone<T extends Chat | Message | Attachment>(value: T): T {
  return ('members' in value ? { ...value, members: value.members.map((m) => ({ ...m })) } : { ...value }) as T;
}
