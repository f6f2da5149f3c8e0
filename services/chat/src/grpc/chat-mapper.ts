// Requests and responses of ChatService ⇄ the domain. A chat and a message
// have one proto form, shared with the events (events/chat-events.ts).
import {
  ChatMemberRole,
  ChatType,
  type PreviewChatInviteResponse,
  type Chat as ProtoChat,
  type ChatInvite as ProtoChatInvite,
  type ChatSummary as ProtoChatSummary,
  type Message as ProtoMessage,
  type UpdateChatSettingsRequest,
} from '@messenger/gen/messenger/chat/v1/chat';
import type { Actor } from '@messenger/platform/domain';
import type { Caller } from '@messenger/platform/grpc';
import type { ChatInvite, ChatType as DomainChatType } from '../domain/chat.ts';
import { invalidField } from '../domain/chat-errors.ts';
import type { ChatSummary, MembershipResult } from '../domain/chats.ts';
import type { InvitePreview } from '../domain/invite-links.ts';
import type { SettingsChange } from '../domain/member-settings.ts';
import type { ReadMessage } from '../domain/message-reactions.ts';
import type { ChatView } from '../domain/use-case-context.ts';
import { chatToProto, invitationToProto, messageToProto, settingsToProto } from '../events/chat-events.ts';

export { chatToProto, invitationToProto, messageToProto, settingsToProto };

/** The answer of CreateChat and AddChatMembers. */
export function membershipToProto(result: MembershipResult): { chat: ProtoChat; invitedUserIds: string[] } {
  return { chat: chatToProto(result.chat), invitedUserIds: [...result.invited] };
}

export function summaryToProto(summary: ChatSummary, now: Date): ProtoChatSummary {
  return {
    chat: chatToProto(summary.chat),
    lastMessage: summary.lastMessage && messageToProto(summary.lastMessage),
    unreadCount: String(summary.unreadCount),
    readSequence: String(summary.readSequence),
    peerReadSequence: String(summary.peerReadSequence),
    unreadMentionCount: String(summary.unreadMentionCount),
    settings: settingsToProto(summary.settings, now),
  };
}

/** The answer of GetChat: the chat and the caller's own view of it. */
export function chatViewToProto(view: ChatView, now: Date) {
  return {
    chat: chatToProto(view.chat),
    unreadCount: String(view.unreadCount),
    readSequence: String(view.readSequence),
    unreadMentionCount: String(view.unreadMentionCount),
    settings: settingsToProto(view.settings, now),
  };
}

/** The mute of UpdateChatSettings: one of three fields, each checked; undefined when none is set. */
export function muteChangeOf(req: UpdateChatSettingsRequest): SettingsChange['mute'] {
  if (req.muteUntil !== undefined) return { until: req.muteUntil };
  if (req.muteForever !== undefined) {
    if (!req.muteForever) throw invalidField('mute_forever', 'must be true when set');
    return 'forever';
  }
  if (req.unmute !== undefined) {
    if (!req.unmute) throw invalidField('unmute', 'must be true when set');
    return 'unmute';
  }
  return undefined;
}

/** An invite link as its group's owner and admins see it: never its token or hash. */
export function chatInviteToProto(invite: ChatInvite): ProtoChatInvite {
  return {
    inviteId: invite.id,
    chatId: invite.chatId,
    creatorId: invite.creatorId,
    createTime: invite.createTime,
    expireTime: invite.expireTime,
    useLimit: invite.useLimit,
    useCount: invite.useCount,
  };
}

/** What a link opens: the group's public face, not its members. */
export function invitePreviewToProto(preview: InvitePreview): PreviewChatInviteResponse {
  const { chat } = preview;
  return {
    chatId: chat.id,
    title: chat.title,
    description: chat.description,
    avatarUrl: chat.avatarUrl,
    memberCount: chat.members.length,
    expireTime: preview.expireTime,
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
      throw invalidField(field, 'is not a ChatType');
  }
}

/** The role a member may be given: an admin or an ordinary member (ownership moves only by transfer). */
export function assignableRoleOf(role: ChatMemberRole, field: string): 'admin' | 'member' {
  switch (role) {
    case ChatMemberRole.CHAT_MEMBER_ROLE_ADMIN:
      return 'admin';
    case ChatMemberRole.CHAT_MEMBER_ROLE_MEMBER:
      return 'member';
    default:
      throw invalidField(field, 'must be CHAT_MEMBER_ROLE_ADMIN or CHAT_MEMBER_ROLE_MEMBER');
  }
}

/** An int64 sent as a decimal string; values beyond 2^53 are clamped (no chat gets that long). */
export function sequenceOf(value: string, field: string): number {
  if (!/^-?\d+$/.test(value)) throw invalidField(field, 'must be an integer');
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

/** A message as its reader sees it: `reacted_by_me` from their own reactions. */
export function readMessageToProto(read: ReadMessage): ProtoMessage {
  return messageToProto(read.message, read.myReactions);
}
