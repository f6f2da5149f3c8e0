// What the chat service publishes: its domain events as the envelopes
// events.proto documents. Also the proto form of a chat and of a message,
// which events and RPC responses share.
import {
  ChatMemberRole,
  ChatType,
  MessageEntityType,
  type Attachment as ProtoAttachment,
  AttachmentState as ProtoAttachmentState,
  type Chat as ProtoChat,
  type ChatSettings as ProtoChatSettings,
  type ChatInvitation as ProtoInvitation,
  type Message as ProtoMessage,
  type MessageEntity as ProtoMessageEntity,
  type SystemEvent as ProtoSystemEvent,
  SystemEventKind,
} from '@messenger/gen/messenger/chat/v1/chat';
import {
  ChatCreated,
  ChatMembersChanged,
  ChatUpdated,
  InvitationCreated,
  MemberSettingsChanged,
  MessageCreated,
  MessageDeleted,
  MessageEdited,
  PinChanged,
  ReactionChanged,
} from '@messenger/gen/messenger/chat/v1/events';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { createEnvelope, type OutboxEntry, packPayload } from '@messenger/platform/events';
import {
  type Attachment,
  type AttachmentState,
  CHAT_FIELDS,
  type Chat,
  type ChatEvent,
  type SystemEventKind as DomainSystemEventKind,
  type Invitation,
  isMuted,
  type MemberRole,
  type MemberSettings,
  type Message,
  type MessageEntity,
  MUTE_FOREVER,
  type SystemEvent,
} from '../domain/chat.ts';
import { mentionedUserIds } from '../domain/mentions.ts';

const CHAT_EVENTS_TOPIC = 'chat.events';
const SOURCE = 'chat';
const PACKAGE = 'messenger.chat.v1';

const ROLES: Readonly<Record<MemberRole, ChatMemberRole>> = {
  owner: ChatMemberRole.CHAT_MEMBER_ROLE_OWNER,
  admin: ChatMemberRole.CHAT_MEMBER_ROLE_ADMIN,
  member: ChatMemberRole.CHAT_MEMBER_ROLE_MEMBER,
};

const SYSTEM_KINDS: Readonly<Record<DomainSystemEventKind, SystemEventKind>> = {
  members_added: SystemEventKind.SYSTEM_EVENT_KIND_MEMBERS_ADDED,
  invitation_accepted: SystemEventKind.SYSTEM_EVENT_KIND_INVITATION_ACCEPTED,
  member_removed: SystemEventKind.SYSTEM_EVENT_KIND_MEMBER_REMOVED,
  member_left: SystemEventKind.SYSTEM_EVENT_KIND_MEMBER_LEFT,
  role_changed: SystemEventKind.SYSTEM_EVENT_KIND_ROLE_CHANGED,
  ownership_transferred: SystemEventKind.SYSTEM_EVENT_KIND_OWNERSHIP_TRANSFERRED,
  profile_changed: SystemEventKind.SYSTEM_EVENT_KIND_PROFILE_CHANGED,
  joined_by_link: SystemEventKind.SYSTEM_EVENT_KIND_JOINED_BY_LINK,
};

function systemToProto(system: SystemEvent): ProtoSystemEvent {
  const profile = system.profile ?? {};
  return {
    kind: SYSTEM_KINDS[system.kind],
    actorId: system.actorId,
    targetUserIds: [...system.targetIds],
    role: system.role ? ROLES[system.role] : ChatMemberRole.CHAT_MEMBER_ROLE_UNSPECIFIED,
    changedFields: CHAT_FIELDS.filter((f) => profile[f] !== undefined),
    title: profile.title ?? '',
    description: profile.description ?? '',
    avatarUrl: profile.avatar_url ?? '',
  };
}

export function chatToProto(chat: Chat): ProtoChat {
  return {
    chatId: chat.id,
    type: chat.type === 'direct' ? ChatType.CHAT_TYPE_DIRECT : ChatType.CHAT_TYPE_GROUP,
    title: chat.title,
    ownerId: chat.ownerId,
    members: chat.members.map((m) => ({
      userId: m.userId,
      role: ROLES[m.role],
      nickname: m.nickname,
      avatarUrl: m.avatarUrl,
      joinTime: m.joinTime,
    })),
    createTime: chat.createTime,
    lastActivityTime: chat.lastActivityTime,
    description: chat.description,
    avatarUrl: chat.avatarUrl,
  };
}

export function invitationToProto(invitation: Invitation): ProtoInvitation {
  return {
    chatId: invitation.chatId,
    title: invitation.title,
    inviterId: invitation.inviterId,
    createTime: invitation.createTime,
    expireTime: invitation.expireTime,
  };
}

/** `mine`: the emoji the reader reacted with, for `reacted_by_me`; none in events, which many members read. */
export function messageToProto(message: Message, mine?: ReadonlySet<string>): ProtoMessage {
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
    replyTo: message.replyTo && { ...message.replyTo },
    replyCount: message.replyCount,
    lastReplyTime: message.lastReplyTime,
    entities: message.entities.map(entityToProto),
    deletedById: message.deletedBy,
    system: message.system && systemToProto(message.system),
    reactions: message.reactions.map((r) => ({
      emoji: r.emoji,
      count: r.count,
      reactedByMe: mine?.has(r.emoji) ?? false,
    })),
    pinned: message.pin !== undefined,
    pinnedById: message.pin?.userId ?? '',
    pinTime: message.pin?.time,
    attachments: message.attachments.map(attachmentToProto),
  };
}

const ATTACHMENT_STATES: Readonly<Record<AttachmentState, ProtoAttachmentState>> = {
  pending: ProtoAttachmentState.ATTACHMENT_STATE_PENDING,
  uploaded: ProtoAttachmentState.ATTACHMENT_STATE_UPLOADED,
  sent: ProtoAttachmentState.ATTACHMENT_STATE_SENT,
  // Garbage is never shown: GetAttachment answers NOT_FOUND for it.
  released: ProtoAttachmentState.ATTACHMENT_STATE_UNSPECIFIED,
  deleting: ProtoAttachmentState.ATTACHMENT_STATE_UNSPECIFIED,
};

export function attachmentToProto(a: Attachment): ProtoAttachment {
  return {
    attachmentId: a.id,
    chatId: a.chatId,
    uploaderId: a.uploaderId,
    mediaType: a.mediaType,
    sizeBytes: String(a.sizeBytes),
    fileName: a.fileName,
    width: a.width,
    height: a.height,
    hasThumbnail: a.hasThumbnail,
    state: ATTACHMENT_STATES[a.state],
    messageId: a.messageId,
    createTime: a.createTime,
  };
}

function entityToProto(entity: MessageEntity): ProtoMessageEntity {
  return {
    offset: entity.offset,
    length: entity.length,
    type:
      entity.kind === 'mention_all'
        ? MessageEntityType.MESSAGE_ENTITY_TYPE_MENTION_ALL
        : MessageEntityType.MESSAGE_ENTITY_TYPE_MENTION,
    userId: entity.userId,
  };
}

/** A member's settings as of `now`: a mute that has run out is no mute. */
export function settingsToProto(settings: MemberSettings, now: Date): ProtoChatSettings {
  const muted = isMuted(settings, now);
  return {
    muted,
    muteUntil: muted && settings.muteUntil?.getTime() !== MUTE_FOREVER.getTime() ? settings.muteUntil : undefined,
    archived: settings.archived,
  };
}

/** Who an edit mentions that its text before did not: those a notification has not been sent for. */
function newlyMentioned(before: Message, after: Message, memberIds: readonly string[]): string[] {
  const already = new Set(mentionedUserIds(before, memberIds));
  return mentionedUserIds(after, memberIds).filter((id) => !already.has(id));
}

/** The outbox entry of an event: on `chat.events`, keyed by its chat so that a chat's events keep their order. */
export function chatEventEntry(event: ChatEvent): OutboxEntry {
  return { topic: CHAT_EVENTS_TOPIC, envelope: envelopeOf(event) };
}

/** The chat is the aggregate: every event of a chat has its id as key. */
function chatIdOf(event: ChatEvent): string {
  switch (event.kind) {
    case 'chat_created':
      return event.chat.id;
    case 'chat_updated':
    case 'members_changed':
      return event.after.id;
    case 'invitation_created':
      return event.invitation.chatId;
    case 'message_created':
    case 'reaction_changed':
    case 'pin_changed':
      return event.message.chatId;
    case 'message_edited':
    case 'message_deleted':
      return event.after.chatId;
    case 'member_settings_changed':
      return event.chatId;
  }
}

/**
 * One writer for every payload: `finish()` copies the bytes out and keeps its
 * grown buffer, so a busy chat's payloads are not encoded into freshly grown
 * buffers each time. Encoding is synchronous, so it is never shared mid-use.
 */
const writer = MessageCreated.encode({ message: undefined, memberIds: [], mentionedUserIds: [] });
writer.finish();

function envelopeOf(event: ChatEvent): EventEnvelope {
  const envelope = (type: string, payloadType: string, bytes: Uint8Array) =>
    createEnvelope({
      type,
      source: SOURCE,
      key: chatIdOf(event),
      time: event.time,
      requestId: event.requestId,
      payload: packPayload(`${PACKAGE}.${payloadType}`, bytes),
    });
  switch (event.kind) {
    case 'chat_created':
      return envelope(
        'chat.chat.created',
        'ChatCreated',
        ChatCreated.encode({ chat: chatToProto(event.chat) }, writer).finish(),
      );
    case 'chat_updated':
      return envelope(
        'chat.chat.updated',
        'ChatUpdated',
        ChatUpdated.encode({ before: chatToProto(event.before), after: chatToProto(event.after) }, writer).finish(),
      );
    case 'members_changed':
      return envelope(
        'chat.chat.members_changed',
        'ChatMembersChanged',
        ChatMembersChanged.encode(
          {
            before: chatToProto(event.before),
            after: chatToProto(event.after),
            addedUserIds: [...event.added],
            removedUserIds: [...event.removed],
            actorId: event.actorId,
          },
          writer,
        ).finish(),
      );
    case 'invitation_created':
      return envelope(
        'chat.invitation.created',
        'InvitationCreated',
        InvitationCreated.encode(
          { invitation: invitationToProto(event.invitation), inviteeId: event.invitation.inviteeId },
          writer,
        ).finish(),
      );
    case 'message_created':
      return envelope(
        'chat.message.created',
        'MessageCreated',
        MessageCreated.encode(
          {
            message: messageToProto(event.message),
            memberIds: [...event.memberIds],
            mentionedUserIds: mentionedUserIds(event.message, event.memberIds),
          },
          writer,
        ).finish(),
      );
    case 'message_edited':
      return envelope(
        'chat.message.edited',
        'MessageEdited',
        MessageEdited.encode(
          {
            before: messageToProto(event.before),
            after: messageToProto(event.after),
            memberIds: [...event.memberIds],
            mentionedUserIds: newlyMentioned(event.before, event.after, event.memberIds),
          },
          writer,
        ).finish(),
      );
    case 'message_deleted':
      return envelope(
        'chat.message.deleted',
        'MessageDeleted',
        MessageDeleted.encode(
          {
            before: messageToProto(event.before),
            after: messageToProto(event.after),
            memberIds: [...event.memberIds],
            deletedById: event.deletedBy,
          },
          writer,
        ).finish(),
      );
    case 'pin_changed':
      return envelope(
        'chat.message.pin_changed',
        'PinChanged',
        PinChanged.encode(
          {
            change: { message: messageToProto(event.message), userId: event.userId, pinned: event.pinned },
            memberIds: [...event.memberIds],
          },
          writer,
        ).finish(),
      );
    case 'reaction_changed':
      return envelope(
        'chat.message.reaction_changed',
        'ReactionChanged',
        ReactionChanged.encode(
          {
            change: {
              message: messageToProto(event.message),
              userId: event.userId,
              emoji: event.emoji,
              added: event.added,
            },
            memberIds: [...event.memberIds],
          },
          writer,
        ).finish(),
      );
    case 'member_settings_changed':
      return envelope(
        'chat.member.settings_changed',
        'MemberSettingsChanged',
        MemberSettingsChanged.encode(
          { chatId: event.chatId, userId: event.userId, settings: settingsToProto(event.settings, event.time) },
          writer,
        ).finish(),
      );
  }
}
