// Events of `chat.events` and `subscriber.events` as live updates: who gets
// each one and what it says to each of them.
import type { Chat, ChatMemberRemoved, Message, Update } from '@messenger/gen/messenger/chat/v1/chat';
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
import {
  FriendConfirmed,
  FriendDeclined,
  FriendRemoved,
  FriendRequested,
} from '@messenger/gen/messenger/subscriber/v1/events';
import { FriendshipStatus } from '@messenger/gen/messenger/subscriber/v1/subscriber';
import type { HubEvent } from '../live/update-hub.ts';

/** The `kind` of an Update, without its id and time. */
export type UpdateKind = Omit<Update, 'updateId' | 'time'>;

/** What the hub keeps of an event: built once, rendered per recipient. */
export type LiveUpdate =
  | { readonly kind: 'same'; readonly update: UpdateKind }
  /** The removed user's own stream gets it without the chat they no longer see. */
  | { readonly kind: 'member_removed'; readonly removed: ChatMemberRemoved }
  | {
      readonly kind: 'friendship';
      readonly requesterId: string;
      readonly addresseeId: string;
      readonly state: 'requested' | 'confirmed' | 'none';
    }
  /** An event no stream is told about; kept only so the stream's position moves past it. */
  | { readonly kind: 'none' };

export const LIVE_UPDATE_TOPICS = ['chat.events', 'subscriber.events'] as const;

/** The hub's view of an envelope; an unknown or undecodable event has no recipients. */
export function toHubEvent(envelope: EventEnvelope): HubEvent<LiveUpdate> {
  const base = { eventId: envelope.id, time: envelope.time ?? new Date() };
  try {
    const decoded = decode(envelope);
    if (decoded) return { ...base, ...decoded };
  } catch {
    // A payload that does not decode is nobody's update; the stream moves past it.
  }
  return { ...base, recipients: [], payload: { kind: 'none' } };
}

/** The update one recipient gets. */
export function renderUpdate(payload: LiveUpdate, userId: string): UpdateKind {
  switch (payload.kind) {
    case 'same':
      return payload.update;
    case 'member_removed':
      return {
        memberRemoved: payload.removed.userId === userId ? { ...payload.removed, chat: undefined } : payload.removed,
      };
    case 'friendship': {
      const mine = payload.requesterId === userId;
      const status =
        payload.state === 'confirmed'
          ? FriendshipStatus.FRIENDSHIP_STATUS_CONFIRMED
          : payload.state === 'requested'
            ? mine
              ? FriendshipStatus.FRIENDSHIP_STATUS_OUTGOING
              : FriendshipStatus.FRIENDSHIP_STATUS_INCOMING
            : FriendshipStatus.FRIENDSHIP_STATUS_UNSPECIFIED;
      return { friendshipChanged: { userId: mine ? payload.addresseeId : payload.requesterId, status } };
    }
    case 'none':
      return {};
  }
}

type Decoded = Pick<HubEvent<LiveUpdate>, 'recipients' | 'payload'>;

function decode(envelope: EventEnvelope): Decoded | undefined {
  const bytes = envelope.payload?.value;
  if (!bytes) return undefined;
  const same = (recipients: readonly string[], update: UpdateKind): Decoded => ({
    recipients,
    payload: { kind: 'same', update },
  });
  switch (envelope.type) {
    case 'chat.chat.created': {
      const chat = ChatCreated.decode(bytes).chat;
      return chat && same(memberIds(chat), { chatCreated: chat });
    }
    case 'chat.chat.updated': {
      const after = ChatUpdated.decode(bytes).after;
      return after && same(memberIds(after), { chatUpdated: after });
    }
    case 'chat.chat.members_changed': {
      const changed = ChatMembersChanged.decode(bytes);
      if (!changed.after) return undefined;
      if (changed.addedUserIds.length > 0) {
        return same(memberIds(changed.after), {
          memberAdded: { chat: changed.after, userIds: changed.addedUserIds, addedById: changed.actorId },
        });
      }
      const removed = changed.removedUserIds[0];
      if (removed === undefined) return undefined;
      return {
        // Everyone who was in it, the removed user included.
        recipients: changed.before ? memberIds(changed.before) : [...memberIds(changed.after), removed],
        payload: {
          kind: 'member_removed',
          removed: { chatId: changed.after.chatId, userId: removed, removedById: changed.actorId, chat: changed.after },
        },
      };
    }
    case 'chat.invitation.created': {
      // Only the invitee: the owner knows from their own answer.
      const { invitation, inviteeId } = InvitationCreated.decode(bytes);
      return invitation && same([inviteeId], { invitationReceived: invitation });
    }
    case 'chat.message.created': {
      const { message, memberIds: ids } = MessageCreated.decode(bytes);
      return message && same(ids, { messageCreated: message });
    }
    case 'chat.message.edited': {
      const { after, memberIds: ids } = MessageEdited.decode(bytes);
      return after && same(ids, { messageEdited: after satisfies Message });
    }
    case 'chat.message.deleted': {
      const { after, memberIds: ids } = MessageDeleted.decode(bytes);
      return after && same(ids, { messageDeleted: after });
    }
    case 'chat.message.reaction_changed': {
      const { change, memberIds: ids } = ReactionChanged.decode(bytes);
      return change && same(ids, { reactionChanged: change });
    }
    case 'chat.message.pin_changed': {
      const { change, memberIds: ids } = PinChanged.decode(bytes);
      return change && same(ids, { pinChanged: change });
    }
    case 'chat.member.settings_changed': {
      // Only the member: nobody else sees their settings.
      const { chatId, userId, settings } = MemberSettingsChanged.decode(bytes);
      return same([userId], { chatSettingsChanged: { chatId, settings } });
    }
    case 'subscriber.friendship.requested':
      return friendship(FriendRequested.decode(bytes), 'requested');
    case 'subscriber.friendship.confirmed':
      return friendship(FriendConfirmed.decode(bytes), 'confirmed');
    case 'subscriber.friendship.declined':
      return friendship(FriendDeclined.decode(bytes), 'none');
    case 'subscriber.friendship.removed':
      return friendship(FriendRemoved.decode(bytes), 'none');
    default:
      return undefined;
  }
}

function friendship(
  pair: { requesterId: string; addresseeId: string },
  state: 'requested' | 'confirmed' | 'none',
): Decoded {
  return {
    recipients: [pair.requesterId, pair.addresseeId],
    payload: { kind: 'friendship', requesterId: pair.requesterId, addresseeId: pair.addresseeId, state },
  };
}

function memberIds(chat: Chat): string[] {
  return chat.members.map((m) => m.userId);
}
