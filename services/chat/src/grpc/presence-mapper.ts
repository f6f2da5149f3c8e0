import { type Presence, PresencePrivacy, PresenceState } from '@messenger/gen/messenger/chat/v1/chat';
import { invalidField } from '../domain/chat-errors.ts';
import type { PresencePrivacy as DomainPresencePrivacy, PresenceView } from '../domain/presence.ts';

export function presenceToProto(p: PresenceView): Presence {
  const state =
    p.state === 'online'
      ? PresenceState.PRESENCE_STATE_ONLINE
      : p.state === 'offline'
        ? PresenceState.PRESENCE_STATE_OFFLINE
        : PresenceState.PRESENCE_STATE_HIDDEN;
  return { userId: p.userId, state, lastSeenTime: p.lastSeen };
}

export function privacyToProto(privacy: DomainPresencePrivacy): PresencePrivacy {
  switch (privacy) {
    case 'everyone':
      return PresencePrivacy.PRESENCE_PRIVACY_EVERYONE;
    case 'friends':
      return PresencePrivacy.PRESENCE_PRIVACY_FRIENDS;
    case 'nobody':
      return PresencePrivacy.PRESENCE_PRIVACY_NOBODY;
  }
}

/** Undefined when unspecified (the use case says it must be set). */
export function privacyOf(privacy: PresencePrivacy, field: string): DomainPresencePrivacy | undefined {
  switch (privacy) {
    case PresencePrivacy.PRESENCE_PRIVACY_UNSPECIFIED:
      return undefined;
    case PresencePrivacy.PRESENCE_PRIVACY_EVERYONE:
      return 'everyone';
    case PresencePrivacy.PRESENCE_PRIVACY_FRIENDS:
      return 'friends';
    case PresencePrivacy.PRESENCE_PRIVACY_NOBODY:
      return 'nobody';
    default:
      throw invalidField(field, 'is not a PresencePrivacy');
  }
}
