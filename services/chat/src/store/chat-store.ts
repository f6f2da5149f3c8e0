// The port the store adapters implement: the domain's storage port with each
// change's events already encoded as outbox entries, and the outbox itself.
import type { OutboxEntry, OutboxSource } from '@messenger/platform/events';
import type { ChatEvent } from '../domain/chat.ts';
import type { ChatStorage, Notice } from '../domain/chat-storage.ts';

/** What an adapter (MemoryChatStore, MongoChatStore, SqliteChatStore) implements, and what startChatService takes. */
export interface ChatStore extends ChatStorage<OutboxEntry> {
  /** The events written with the changes, for the relay to publish; it wakes the relay on commit. */
  readonly outbox: OutboxSource;
}

/**
 * Thrown inside a post's transaction by an adapter whose conditional send
 * of an attachment matched nothing, so the whole post rolls back; the
 * adapter answers `attachment_gone` with its id.
 */
export class AttachmentGone extends Error {
  readonly attachmentId: string;
  constructor(attachmentId: string) {
    super(`attachment ${attachmentId} is no longer an unsent upload`);
    this.attachmentId = attachmentId;
  }
}

/**
 * The store as the use cases see it: they hand over domain events, which
 * `encode` (the service's event encoding) turns into the entries the store
 * writes with each change.
 */
export function withEventEncoding(store: ChatStore, encode: (event: ChatEvent) => OutboxEntry): ChatStorage {
  return {
    createChat: (chat, events) => store.createChat(chat, events.map(encode)),
    updateChat: (chat, events, notice) => store.updateChat(chat, events.map(encode), notice && encoded(notice, encode)),
    appendMessage: (draft, eventOf) => store.appendMessage(draft, (message, ids) => encode(eventOf(message, ids))),
    updateMessage: (message, events) => store.updateMessage(message, events.map(encode)),
    putInvitation: (invitation, events, maxPending) => store.putInvitation(invitation, events.map(encode), maxPending),
    getInvitation: (chatId, inviteeId) => store.getInvitation(chatId, inviteeId),
    listInvitations: (inviteeId, now, after, limit) => store.listInvitations(inviteeId, now, after, limit),
    countPendingInvitations: (inviteeId, now) => store.countPendingInvitations(inviteeId, now),
    deleteInvitation: (chatId, inviteeId) => store.deleteInvitation(chatId, inviteeId),
    acceptInvitation: (chat, inviteeId, events, notice) =>
      store.acceptInvitation(chat, inviteeId, events.map(encode), notice && encoded(notice, encode)),
    putChatInvite: (invite, maxLinks) => store.putChatInvite(invite, maxLinks),
    listChatInvites: (chatId, after, limit) => store.listChatInvites(chatId, after, limit),
    findChatInvite: (tokenHash) => store.findChatInvite(tokenHash),
    deleteChatInvite: (chatId, inviteId) => store.deleteChatInvite(chatId, inviteId),
    useChatInvite: (chat, inviteId, events, notice) =>
      store.useChatInvite(chat, inviteId, events.map(encode), encoded(notice, encode)),
    getChat: (chatId) => store.getChat(chatId),
    findDirectChat: (directKey) => store.findDirectChat(directKey),
    listChatsOf: (userId, after, limit) => store.listChatsOf(userId, after, limit),
    chatIdsOf: (userId, afterId, limit) => store.chatIdsOf(userId, afterId, limit),
    getMessage: (chatId, messageId) => store.getMessage(chatId, messageId),
    putAttachment: (attachment, maxUnsent) => store.putAttachment(attachment, maxUnsent),
    getAttachment: (attachmentId) => store.getAttachment(attachmentId),
    completeAttachment: (attachment) => store.completeAttachment(attachment),
    claimAttachmentGarbage: (now, cutoffs, limit) => store.claimAttachmentGarbage(now, cutoffs, limit),
    deleteAttachments: (attachmentIds) => store.deleteAttachments(attachmentIds),
    messagesAt: (refs) => store.messagesAt(refs),
    listMessages: (chatId, beforeSequence, limit) => store.listMessages(chatId, beforeSequence, limit),
    listReplies: (chatId, parentId, afterSequence, limit) => store.listReplies(chatId, parentId, afterSequence, limit),
    readPositions: (userId, chatIds) => store.readPositions(userId, chatIds),
    markRead: (chatId, userId, upTo) => store.markRead(chatId, userId, upTo),
    countUnread: (userId, positions, cap) => store.countUnread(userId, positions, cap),
    searchMessages: (chatIds, terms, after, limit) => store.searchMessages(chatIds, terms, after, limit),
    listMessageVersions: (chatId, messageId, beforeVersion, limit) =>
      store.listMessageVersions(chatId, messageId, beforeVersion, limit),
    setReaction: (draft, maxEmoji, eventOf) =>
      store.setReaction(draft, maxEmoji, (message) => encode(eventOf(message))),
    reactionsBy: (userId, messageIds) => store.reactionsBy(userId, messageIds),
    setPin: (draft, maxPins, eventOf) => store.setPin(draft, maxPins, (message) => encode(eventOf(message))),
    listPins: (chatId, after, limit) => store.listPins(chatId, after, limit),
    readPositionsOf: (refs) => store.readPositionsOf(refs),
    countUnreadMentions: (userId, positions, cap) => store.countUnreadMentions(userId, positions, cap),
    memberSettings: (userId, chatIds) => store.memberSettings(userId, chatIds),
    putMemberSettings: (chatId, userId, settings, events) =>
      store.putMemberSettings(chatId, userId, settings, events.map(encode)),
    listChatsByArchive: (userId, archived, after, limit) => store.listChatsByArchive(userId, archived, after, limit),
    presencePrivacies: (userIds) => store.presencePrivacies(userIds),
    setPresencePrivacy: (userId, privacy) => store.setPresencePrivacy(userId, privacy),
    forgetPresencePrivacy: (userId) => store.forgetPresencePrivacy(userId),
  };
}

function encoded(notice: Notice, encode: (event: ChatEvent) => OutboxEntry): Notice<OutboxEntry> {
  return { draft: notice.draft, eventOf: (message, ids) => encode(notice.eventOf(message, ids)) };
}
