// What the chat service publishes: envelopes as events.proto documents them.
import {
  ChatCreated,
  ChatMembersChanged,
  ChatUpdated,
  MessageCreated,
  MessageDeleted,
  MessageEdited,
} from '@messenger/gen/messenger/chat/v1/events';
import { createEnvelope, type OutboxEntry, packPayload } from '@messenger/platform';
import type { ChatEvent } from '../domain/chat.ts';
import { toChatMessage, toMessageMessage } from '../grpc/chat-mapper.ts';

export const CHAT_EVENTS_TOPIC = 'chat.events';
const SOURCE = 'chat';
const PACKAGE = 'messenger.chat.v1';

/** The chat is the aggregate: every event of a chat has its id as key, so they keep their order. */
export function chatIdOfEvent(event: ChatEvent): string {
  switch (event.kind) {
    case 'chat_created':
      return event.chat.id;
    case 'chat_updated':
    case 'members_changed':
      return event.after.id;
    case 'message_created':
      return event.message.chatId;
    case 'message_edited':
    case 'message_deleted':
      return event.after.chatId;
  }
}

/**
 * One writer for every payload: `finish()` copies the bytes out and keeps its
 * grown buffer, so a busy chat's payloads are not encoded into freshly grown
 * buffers each time. Encoding is synchronous, so it is never shared mid-use.
 */
const writer = MessageCreated.encode({ message: undefined, memberIds: [] });
writer.finish();

export function toOutboxEntries(events: readonly ChatEvent[]): OutboxEntry[] {
  return events.map((event) => ({ topic: CHAT_EVENTS_TOPIC, envelope: toEnvelope(event) }));
}

function toEnvelope(event: ChatEvent) {
  const envelope = (type: string, payloadType: string, bytes: Uint8Array) =>
    createEnvelope({
      type,
      source: SOURCE,
      key: chatIdOfEvent(event),
      time: event.time,
      requestId: event.requestId,
      payload: packPayload(`${PACKAGE}.${payloadType}`, bytes),
    });
  switch (event.kind) {
    case 'chat_created':
      return envelope(
        'chat.chat.created',
        'ChatCreated',
        ChatCreated.encode({ chat: toChatMessage(event.chat) }, writer).finish(),
      );
    case 'chat_updated':
      return envelope(
        'chat.chat.updated',
        'ChatUpdated',
        ChatUpdated.encode({ before: toChatMessage(event.before), after: toChatMessage(event.after) }, writer).finish(),
      );
    case 'members_changed':
      return envelope(
        'chat.chat.members_changed',
        'ChatMembersChanged',
        ChatMembersChanged.encode(
          {
            before: toChatMessage(event.before),
            after: toChatMessage(event.after),
            addedUserIds: [...event.added],
            removedUserIds: [...event.removed],
            actorId: event.actorId,
          },
          writer,
        ).finish(),
      );
    case 'message_created':
      return envelope(
        'chat.message.created',
        'MessageCreated',
        MessageCreated.encode(
          { message: toMessageMessage(event.message), memberIds: [...event.memberIds] },
          writer,
        ).finish(),
      );
    case 'message_edited':
      return envelope(
        'chat.message.edited',
        'MessageEdited',
        MessageEdited.encode(
          {
            before: toMessageMessage(event.before),
            after: toMessageMessage(event.after),
            memberIds: [...event.memberIds],
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
            before: toMessageMessage(event.before),
            after: toMessageMessage(event.after),
            memberIds: [...event.memberIds],
            deletedById: event.deletedBy,
          },
          writer,
        ).finish(),
      );
  }
}
