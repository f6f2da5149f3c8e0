// Every failure the chat service reports, one constructor per reason, so a
// reason always comes with the same kind and the same message. The platform
// adds INVALID_ARGUMENT (`throwIfInvalid`, or `invalidField` below),
// CONCURRENT_CHANGE (`retryOnRace`, with `CHAT_RACE_SUBJECT`) and
// USER_CALLER_REQUIRED (`callerId`).
import { DomainError, ErrorKind } from '@messenger/platform/domain';
import type { GroupAction } from './chat.ts';

export const ChatErrorReason = {
  ChatNotFound: 'CHAT_NOT_FOUND',
  MessageNotFound: 'MESSAGE_NOT_FOUND',
  MemberNotFound: 'MEMBER_NOT_FOUND',
  InvitationNotFound: 'INVITATION_NOT_FOUND',
  InviteLinkNotFound: 'INVITE_LINK_NOT_FOUND',
  InviteLinkLimit: 'INVITE_LINK_LIMIT',
  AttachmentNotFound: 'ATTACHMENT_NOT_FOUND',
  AttachmentLimit: 'ATTACHMENT_LIMIT',
  AttachmentNotUploaded: 'ATTACHMENT_NOT_UPLOADED',
  TooManyInvitations: 'TOO_MANY_INVITATIONS',
  UserNotFound: 'USER_NOT_FOUND',
  NotFriends: 'NOT_FRIENDS',
  DirectChat: 'DIRECT_CHAT',
  MemberCap: 'MEMBER_CAP',
  MessageDeleted: 'MESSAGE_DELETED',
  NotPermitted: 'NOT_PERMITTED',
  OwnerRole: 'OWNER_ROLE',
  SystemMessage: 'SYSTEM_MESSAGE',
  ReactionLimit: 'REACTION_LIMIT',
  PinNotAllowed: 'PIN_NOT_ALLOWED',
  PinLimit: 'PIN_LIMIT',
  NotSender: 'NOT_SENDER',
  StreamTooSlow: 'STREAM_TOO_SLOW',
  SessionEnded: 'SESSION_ENDED',
  TokenExpired: 'TOKEN_EXPIRED',
  ShuttingDown: 'SHUTTING_DOWN',
  UserServiceUnavailable: 'USER_SERVICE_UNAVAILABLE',
  SubscriberServiceUnavailable: 'SUBSCRIBER_SERVICE_UNAVAILABLE',
} as const;
export type ChatErrorReason = (typeof ChatErrorReason)[keyof typeof ChatErrorReason];

const R = ChatErrorReason;

/** What keeps changing when a change of a chat or message gives up on concurrent writers (`retryOnRace`'s subject). */
export const CHAT_RACE_SUBJECT = 'the chat';

/** A chat that does not exist and one the caller is not a member of look the same, so ids cannot be probed. */
export function chatNotFound(): DomainError {
  return new DomainError(ErrorKind.NotFound, R.ChatNotFound, 'no such chat');
}

export function messageNotFound(): DomainError {
  return new DomainError(ErrorKind.NotFound, R.MessageNotFound, 'no such message in this chat');
}

export function memberNotFound(): DomainError {
  return new DomainError(ErrorKind.NotFound, R.MemberNotFound, 'this user is not a member of the chat');
}

/** No invitation, a lapsed one, or one to a chat that is gone: all look the same. */
export function invitationNotFound(): DomainError {
  return new DomainError(ErrorKind.NotFound, R.InvitationNotFound, 'no pending invitation to this chat');
}

/**
 * An invite link that does not exist, was revoked, expired, was used up, or
 * whose creator may no longer make links: one answer, so a token holder
 * learns nothing but that it does not work.
 */
export function inviteLinkNotFound(): DomainError {
  return new DomainError(ErrorKind.NotFound, R.InviteLinkNotFound, 'this invite link does not work');
}

/** An attachment that does not exist, is not in this chat, or that the caller may not see yet: all look the same. */
export function attachmentNotFound(): DomainError {
  return new DomainError(ErrorKind.NotFound, R.AttachmentNotFound, 'no such attachment in this chat');
}

/** The caller holds as many uploads not yet sent as anyone may. */
export function attachmentLimit(max: number): DomainError {
  return new DomainError(
    ErrorKind.ResourceExhausted,
    R.AttachmentLimit,
    `at most ${max} uploads may wait to be sent; send or wait for older ones to expire`,
  );
}

/** CompleteAttachment before the media store holds the bytes. */
export function attachmentNotUploaded(): DomainError {
  return new DomainError(
    ErrorKind.FailedPrecondition,
    R.AttachmentNotUploaded,
    'no content was stored for this attachment',
  );
}

/** A group already keeps as many usable invite links as allowed. */
export function inviteLinkLimit(max: number): DomainError {
  return new DomainError(
    ErrorKind.ResourceExhausted,
    R.InviteLinkLimit,
    `a group has at most ${max} invite links in use; revoke one first`,
  );
}

/** An invitee already has as many pending invitations as anyone may. */
export function tooManyInvitations(max: number): DomainError {
  return new DomainError(
    ErrorKind.ResourceExhausted,
    R.TooManyInvitations,
    `a user has at most ${max} pending invitations; this one has no room for more`,
  );
}

/** Users named in `field` that the user service does not know. */
export function userNotFound(field: string, userIds: readonly string[]): DomainError {
  return new DomainError(ErrorKind.NotFound, R.UserNotFound, `${field}: no user with id ${userIds.join(', ')}`);
}

export function notFriends(): DomainError {
  return new DomainError(
    ErrorKind.FailedPrecondition,
    R.NotFriends,
    'a direct chat needs the other user to be your confirmed friend',
  );
}

export function directChat(): DomainError {
  return new DomainError(ErrorKind.FailedPrecondition, R.DirectChat, 'the members of a direct chat are fixed');
}

export function memberCap(cap: number): DomainError {
  return new DomainError(ErrorKind.FailedPrecondition, R.MemberCap, `a group has at most ${cap} members`);
}

export function messageDeleted(): DomainError {
  return new DomainError(ErrorKind.FailedPrecondition, R.MessageDeleted, 'a deleted message cannot be edited');
}

const ACTION_WORDS: Readonly<Record<GroupAction, string>> = {
  add_members: 'add members',
  remove_members: 'remove this member',
  change_profile: "change the group's profile",
  pin: 'pin messages',
  delete_messages: "delete others' messages",
  manage_admins: 'make or unmake admins',
  transfer_ownership: 'transfer ownership',
  manage_invites: 'manage invite links',
};

/** The caller's role in the group may not take the action (the permission table, `may` and `outranks`). */
export function notPermitted(action: GroupAction): DomainError {
  return new DomainError(
    ErrorKind.PermissionDenied,
    R.NotPermitted,
    `your role in this group may not ${ACTION_WORDS[action]}`,
  );
}

/** A reaction on a tombstone: deletion dropped its reactions and it takes no new ones. */
export function reactionOnDeleted(): DomainError {
  return new DomainError(ErrorKind.FailedPrecondition, R.MessageDeleted, 'a deleted message takes no reactions');
}

/** A new emoji on a message that already has reactions with the most distinct emoji allowed. */
export function reactionLimit(max: number): DomainError {
  return new DomainError(
    ErrorKind.FailedPrecondition,
    R.ReactionLimit,
    `a message has reactions with at most ${max} distinct emoji; react with one it already has`,
  );
}

/** Pinning or unpinning in a group by a member whose role may not (`mayPin`). */
export function pinNotAllowed(): DomainError {
  return new DomainError(
    ErrorKind.PermissionDenied,
    R.PinNotAllowed,
    'your role in this group may not pin or unpin messages',
  );
}

export function pinOnDeleted(): DomainError {
  return new DomainError(ErrorKind.FailedPrecondition, R.MessageDeleted, 'a deleted message cannot be pinned');
}

/** A chat already has the most pinned messages allowed. */
export function pinLimit(max: number): DomainError {
  return new DomainError(
    ErrorKind.FailedPrecondition,
    R.PinLimit,
    `a chat has at most ${max} pinned messages; unpin one first`,
  );
}

/** The owner's role changes only by handing the group over. */
export function ownerRole(): DomainError {
  return new DomainError(
    ErrorKind.FailedPrecondition,
    R.OwnerRole,
    "the owner's role changes only by transferring ownership",
  );
}

/** A system message records a change the server made: nobody rewrites it. */
export function systemMessage(): DomainError {
  return new DomainError(ErrorKind.FailedPrecondition, R.SystemMessage, 'a system message cannot be edited');
}

/** Editing someone else's message, or deleting it without a role that may. */
export function notSender(): DomainError {
  return new DomainError(
    ErrorKind.PermissionDenied,
    R.NotSender,
    "only the sender may edit a message; the sender or a group's owner or admins may delete it",
  );
}

/** The session of a stream's caller was revoked (logout, password reset, …) while the stream was open. */
export function sessionEnded(): DomainError {
  return new DomainError(ErrorKind.Unauthenticated, R.SessionEnded, 'the session ended; sign in again');
}

/** The access token a stream was opened with expired while it was open. */
export function tokenExpired(): DomainError {
  return new DomainError(
    ErrorKind.Unauthenticated,
    R.TokenExpired,
    'the access token expired; reconnect with a fresh one and resume_after set to the last update id',
  );
}

export function streamTooSlow(): DomainError {
  return new DomainError(
    ErrorKind.Aborted,
    R.StreamTooSlow,
    'updates were read too slowly; reconnect with resume_after set to the last update id',
  );
}

export function shuttingDown(): DomainError {
  return new DomainError(ErrorKind.Unavailable, R.ShuttingDown, 'the server is shutting down; reconnect');
}

export function userServiceUnavailable(): DomainError {
  return new DomainError(
    ErrorKind.Unavailable,
    R.UserServiceUnavailable,
    'users cannot be looked up right now; try again shortly',
  );
}

export function subscriberServiceUnavailable(): DomainError {
  return new DomainError(
    ErrorKind.Unavailable,
    R.SubscriberServiceUnavailable,
    'friendships cannot be checked right now; try again shortly',
  );
}

/** One invalid request field; several at once go through the platform's `throwIfInvalid`. */
export function invalidField(field: string, description: string): DomainError {
  return DomainError.invalid([{ field, description }]);
}
