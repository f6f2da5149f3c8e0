// The one place where chats and messages cross between the domain and the protobuf messages.
import {
  ChatMemberRole,
  type Chat as ChatMessage,
  type ChatSummary as ChatSummaryMessage,
  ChatType,
  type Message as MessageMessage,
} from '@messenger/gen/messenger/chat/v1/chat';
import { type Caller, DomainError } from '@messenger/platform';
import type { Actor, Chat, ChatType as DomainChatType, Message } from '../domain/chat.ts';
import type { ChatSummary } from '../domain/chat-use-cases.ts';

export function toChatMessage(chat: Chat): ChatMessage {
  return {
    chatId: chat.id,
    type: chat.type === 'direct' ? ChatType.CHAT_TYPE_DIRECT : ChatType.CHAT_TYPE_GROUP,
    title: chat.title,
    ownerId: chat.ownerId,
    members: chat.members.map((m) => ({
      userId: m.userId,
      role: m.role === 'owner' ? ChatMemberRole.CHAT_MEMBER_ROLE_OWNER : ChatMemberRole.CHAT_MEMBER_ROLE_MEMBER,
      nickname: m.nickname,
      avatarUrl: m.avatarUrl,
      joinTime: m.joinTime,
    })),
    createTime: chat.createTime,
    lastActivityTime: chat.lastActivityTime,
  };
}

export function toMessageMessage(message: Message): MessageMessage {
  return {
    messageId: message.id,
    chatId: message.chatId,
    sequence: String(message.sequence),
    senderId: message.senderId,
    clientMessageId: message.clientMessageId,
    text: message.text,
    createTime: message.createTime,
    editTime: message.editTime,
    deleted: message.deleted,
  };
}

export function toSummaryMessage(summary: ChatSummary): ChatSummaryMessage {
  return {
    chat: toChatMessage(summary.chat),
    lastMessage: summary.lastMessage && toMessageMessage(summary.lastMessage),
    unreadCount: String(summary.unreadCount),
    readSequence: String(summary.readSequence),
  };
}

/** UNSPECIFIED is "not given"; a value outside the enum is refused. */
export function chatTypeOf(type: ChatType, field: string): DomainChatType | undefined {
  switch (type) {
    case ChatType.CHAT_TYPE_UNSPECIFIED:
      return undefined;
    case ChatType.CHAT_TYPE_DIRECT:
      return 'direct';
    case ChatType.CHAT_TYPE_GROUP:
      return 'group';
    default:
      throw DomainError.invalid([{ field, description: 'is not a ChatType' }]);
  }
}

/** An int64 sent as a decimal string; values beyond 2^53 are clamped (no chat gets that long). */
export function sequenceOf(value: string, field: string): number {
  if (!/^-?\d+$/.test(value)) throw DomainError.invalid([{ field, description: 'must be an integer' }]);
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : n > 0 ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
}

/** The platform has already refused anonymous callers of every method this service serves. */
export function actorOf(caller: Caller): Actor {
  switch (caller.kind) {
    case 'user':
      return { kind: 'user', userId: caller.userId };
    case 'service':
      return { kind: 'service', service: caller.service };
    default:
      throw new Error('anonymous caller reached a handler that requires authentication');
  }
}
