// Chats, members and messages, and their rules. Plain TypeScript: no
// transport, driver or generated code, so every rule is testable on its own.

export type ChatType = 'direct' | 'group';
export type MemberRole = 'owner' | 'admin' | 'member';

/** What a role in a group may be allowed to do. */
export type GroupAction =
  /** Add members (friends join, others are invited). */
  | 'add_members'
  /** Remove another member of a lower role (`outranks`). */
  | 'remove_members'
  /** Change the group's title, description and avatar. */
  | 'change_profile'
  /** Pin and unpin messages. */
  | 'pin'
  /** Delete messages others sent. */
  | 'delete_messages'
  /** Make members admins and admins members again. */
  | 'manage_admins'
  /** Hand the group to another member. */
  | 'transfer_ownership'
  /** Make, list and revoke the group's invite links. */
  | 'manage_invites';

/**
 * The one table of who may do what in a group: every use case that depends
 * on a member's role consults it through `may`. docs/API.md shows it.
 */
export const GROUP_PERMISSIONS: Readonly<Record<GroupAction, readonly MemberRole[]>> = {
  add_members: ['owner', 'admin'],
  remove_members: ['owner', 'admin'],
  change_profile: ['owner', 'admin'],
  pin: ['owner', 'admin'],
  delete_messages: ['owner', 'admin'],
  manage_admins: ['owner'],
  transfer_ownership: ['owner'],
  manage_invites: ['owner', 'admin'],
};

/** Whether a member of this role may take the action; a non-member (undefined) may not. */
export function may(role: MemberRole | undefined, action: GroupAction): boolean {
  return role !== undefined && GROUP_PERMISSIONS[action].includes(role);
}

const RANK: Readonly<Record<MemberRole, number>> = { owner: 2, admin: 1, member: 0 };

/** Whether a member of `role` may remove one of `targetRole`: `remove_members`, and only roles below its own. */
export function mayRemove(role: MemberRole | undefined, targetRole: MemberRole): boolean {
  return role !== undefined && may(role, 'remove_members') && RANK[role] > RANK[targetRole];
}

/** A member with the copy of their profile this service keeps (refreshed from user events). */
export interface Member {
  readonly userId: string;
  readonly role: MemberRole;
  readonly nickname: string;
  readonly avatarUrl: string;
  readonly joinTime: Date;
  /** The profile's `update_time` the copy was taken at: an older event never overwrites a newer copy. */
  readonly profileTime: Date | undefined;
}

export interface Chat {
  readonly id: string;
  readonly type: ChatType;
  /** Empty for a direct chat. */
  readonly title: string;
  /** The group's description; empty when none and for a direct chat. */
  readonly description: string;
  /** The group's picture, an https URL; empty when none and for a direct chat. */
  readonly avatarUrl: string;
  /** Empty for a direct chat. */
  readonly ownerId: string;
  /**
   * A direct chat's pair key (`directKeyOf`), unique: at most one direct chat
   * per pair. Kept after a member's account is deleted. Empty for a group.
   */
  readonly directKey: string;
  /** In joining order. */
  readonly members: readonly Member[];
  readonly createTime: Date;
  /** The newest message's time, or the creation time. */
  readonly lastActivityTime: Date;
  /** The sequence of the newest message; 0 when there is none. */
  readonly lastSequence: number;
  /**
   * Optimistic-concurrency token of the chat's own fields (title, owner,
   * members): 1 when created, +1 per change. Posting a message does not bump it.
   */
  readonly version: number;
}

export interface Message {
  readonly id: string;
  readonly chatId: string;
  /** 1, 2, 3, … per chat, without gaps. */
  readonly sequence: number;
  readonly senderId: string;
  readonly clientMessageId: string;
  /** Empty when deleted. */
  readonly text: string;
  readonly createTime: Date;
  readonly editTime: Date | undefined;
  readonly deleted: boolean;
  /** Optimistic-concurrency token: 1 when posted, +1 per edit or deletion. */
  readonly version: number;
  /** For a reply, the message it answers as it was when the reply was sent. */
  readonly replyTo: Quote | undefined;
  /** How many replies answer it; moves with each reply, not with `version`. */
  readonly replyCount: number;
  readonly lastReplyTime: Date | undefined;
  /** Who deleted it (the sender, or a group's owner or admin); empty unless deleted. */
  readonly deletedBy: string;
  /** Set on a system message: the group change it records (its sender is the actor, its text empty). */
  readonly system: SystemEvent | undefined;
  /**
   * The counts of its reactions, one per distinct emoji in the order each
   * was first added; moves with each reaction, not with `version`. Empty
   * for a deleted message.
   */
  readonly reactions: readonly ReactionCount[];
  /** Set while it is pinned to its chat; moves with pinning, not with `version`. A deletion unpins. */
  readonly pin: Pin | undefined;
  /** The mentions in `text` (`mentionsIn`), found when it was sent or edited; empty when deleted. */
  readonly entities: readonly MessageEntity[];
  /** The files sent with it, as they were when sent (state `sent`); empty when deleted. */
  readonly attachments: readonly Attachment[];
}

/**
 * Where an attachment is in its life: reserved (`pending`), its bytes
 * stored (`uploaded`), part of a message (`sent`); then garbage: its
 * message was deleted (`released`), and a collector has claimed it and is
 * removing its bytes (`deleting`).
 */
export type AttachmentState = 'pending' | 'uploaded' | 'sent' | 'released' | 'deleting';

/** A file sent in a chat; its bytes are in the media store under its id. */
export interface Attachment {
  readonly id: string;
  readonly chatId: string;
  readonly uploaderId: string;
  /** For display and downloads; checked by `fileNameProblem`; may be empty. */
  readonly fileName: string;
  readonly createTime: Date;
  readonly state: AttachmentState;
  /** The message it was sent with; empty before. */
  readonly messageId: string;
  /** Known once uploaded: what the media store holds (empty and 0 before). */
  readonly mediaType: string;
  readonly sizeBytes: number;
  /** An image's pixels after its EXIF orientation; 0 for other files. */
  readonly width: number;
  readonly height: number;
  readonly hasThumbnail: boolean;
}

/** The most files one message carries. */
export const MAX_MESSAGE_ATTACHMENTS = 10;
/** The most attachments a user may hold uploaded but not sent (pending ones included). */
export const MAX_UNSENT_ATTACHMENTS = 50;
/** A reservation whose bytes never arrived is garbage after this long. */
export const PENDING_ATTACHMENT_TTL_MS = 60 * 60 * 1000;
/** An upload never sent is garbage after this long. */
export const UNSENT_ATTACHMENT_TTL_MS = 24 * 60 * 60 * 1000;
/** A collector that claimed garbage and did not finish (it crashed) leaves it to the next after this long. */
export const ATTACHMENT_CLAIM_LEASE_MS = 10 * 60 * 1000;

export type SystemEventKind =
  | 'members_added'
  | 'invitation_accepted'
  | 'member_removed'
  | 'member_left'
  | 'role_changed'
  | 'ownership_transferred'
  | 'profile_changed'
  | 'joined_by_link';

/** A group change as its system message records it: who did what to whom, and the new value. */
export interface SystemEvent {
  readonly kind: SystemEventKind;
  /** Who made the change; for `member_left`, `invitation_accepted` and `joined_by_link`, who left or joined. */
  readonly actorId: string;
  /** Those added, removed, given a role or the group; the inviter of an accepted invitation; a link's creator. */
  readonly targetIds: readonly string[];
  /** `role_changed`: the new role. */
  readonly role: MemberRole | undefined;
  /** `profile_changed`: the fields changed, with their new values. */
  readonly profile: Partial<Readonly<Record<ChatField, string>>> | undefined;
}

/** A system event with nothing but its kind, actor and targets. */
export function systemEvent(kind: SystemEventKind, actorId: string, targetIds: readonly string[]): SystemEvent {
  return { kind, actorId, targetIds, role: undefined, profile: undefined };
}

/** Who pinned a message to its chat, and when. */
export interface Pin {
  readonly userId: string;
  readonly time: Date;
}

/** How many members reacted to a message with one emoji. */
export interface ReactionCount {
  readonly emoji: string;
  readonly count: number;
}

/**
 * A marked part of a text. Offsets and lengths count Unicode code points (as
 * every other range over a text does: search highlights, the length limit).
 */
export interface MessageEntity {
  readonly kind: 'mention' | 'mention_all';
  readonly offset: number;
  readonly length: number;
  /** The member mentioned; empty for `mention_all`. */
  readonly userId: string;
}

/** A snapshot of the message a reply answers: edits and deletion of that message leave it alone. */
export interface Quote {
  readonly messageId: string;
  readonly senderId: string;
  /** The first `QUOTE_LENGTH` code points of its text. */
  readonly text: string;
}

/** How much of a message's text a reply quotes, in code points. */
export const QUOTE_LENGTH = 100;

export function quoteOf(message: Message): Quote {
  return { messageId: message.id, senderId: message.senderId, text: [...message.text].slice(0, QUOTE_LENGTH).join('') };
}

/**
 * A group owner's invitation of a user who is not their friend: the user
 * joins only by accepting it. One per (chat, invitee); pending until
 * `expireTime`.
 */
export interface Invitation {
  readonly chatId: string;
  readonly inviteeId: string;
  readonly inviterId: string;
  /** The group's title when the invitation was made, for the invitee's list. */
  readonly title: string;
  readonly createTime: Date;
  readonly expireTime: Date;
}

/** How long an invitation stays pending. */
export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** The most pending invitations one user may have: a bound on what others can pile on them. */
export const MAX_PENDING_INVITATIONS = 100;

export function isPending(invitation: Invitation, now: Date): boolean {
  return invitation.expireTime.getTime() > now.getTime();
}

/**
 * A group's invite link: whoever holds its token may join the group, with
 * no invitation or friendship, while it is usable (`isUsableInvite`). Only
 * the token's hash is stored.
 */
export interface ChatInvite {
  readonly id: string;
  readonly chatId: string;
  /** `inviteTokenHash` of the token: the only form a token is kept in. */
  readonly tokenHash: string;
  /** The owner or admin who made it; it works only while they may still make links. */
  readonly creatorId: string;
  readonly createTime: Date;
  readonly expireTime: Date;
  /** How many users may join with it; 0: no limit. */
  readonly useLimit: number;
  readonly useCount: number;
}

/** How long a link works when its maker names no end, and the furthest end they may name. */
export const INVITE_LINK_DEFAULT_TTL_MS = 7 * 24 * 60 * 60 * 1000;
export const INVITE_LINK_MAX_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** The highest use limit a link may have (0 is none). */
export const MAX_INVITE_LINK_USES = 100_000;
/** The most links one group keeps; spent ones are dropped to make room. */
export const MAX_INVITE_LINKS = 100;

/** Whether a link still lets someone join at `now`: not expired, not used up. */
export function isUsableInvite(invite: ChatInvite, now: Date): boolean {
  return invite.expireTime.getTime() > now.getTime() && !isUsedUp(invite);
}

/** Whether a link has had all the joins its use limit allows. */
export function isUsedUp(invite: ChatInvite): boolean {
  return invite.useLimit > 0 && invite.useCount >= invite.useLimit;
}

/** A profile as the user service reports it, or as a `user.user.updated` event carries it. */
export interface Profile {
  readonly userId: string;
  readonly nickname: string;
  readonly avatarUrl: string;
  readonly updateTime: Date | undefined;
}

/** What a change publishes; the store writes it in the same atomic step as the change. */
export type ChatEvent =
  | { readonly kind: 'chat_created'; readonly chat: Chat; readonly time: Date; readonly requestId: string }
  | {
      readonly kind: 'chat_updated';
      readonly before: Chat;
      readonly after: Chat;
      readonly time: Date;
      readonly requestId: string;
    }
  | {
      readonly kind: 'members_changed';
      readonly before: Chat;
      readonly after: Chat;
      readonly added: readonly string[];
      readonly removed: readonly string[];
      readonly actorId: string;
      readonly time: Date;
      readonly requestId: string;
    }
  | {
      readonly kind: 'invitation_created';
      readonly invitation: Invitation;
      readonly time: Date;
      readonly requestId: string;
    }
  | {
      readonly kind: 'message_created';
      readonly message: Message;
      readonly memberIds: readonly string[];
      readonly time: Date;
      readonly requestId: string;
    }
  | {
      readonly kind: 'message_edited';
      readonly before: Message;
      readonly after: Message;
      readonly memberIds: readonly string[];
      readonly time: Date;
      readonly requestId: string;
    }
  | {
      readonly kind: 'member_settings_changed';
      readonly chatId: string;
      readonly userId: string;
      readonly settings: MemberSettings;
      readonly time: Date;
      readonly requestId: string;
    }
  | {
      readonly kind: 'message_deleted';
      readonly before: Message;
      readonly after: Message;
      readonly memberIds: readonly string[];
      readonly deletedBy: string;
      readonly time: Date;
      readonly requestId: string;
    }
  | {
      readonly kind: 'pin_changed';
      /** The message after the change. */
      readonly message: Message;
      readonly userId: string;
      readonly pinned: boolean;
      readonly memberIds: readonly string[];
      readonly time: Date;
      readonly requestId: string;
    }
  | {
      readonly kind: 'reaction_changed';
      /** The message after the change. */
      readonly message: Message;
      readonly userId: string;
      readonly emoji: string;
      readonly added: boolean;
      readonly memberIds: readonly string[];
      readonly time: Date;
      readonly requestId: string;
    };

/** The group profile fields UpdateChat may change, by their proto names (as in `update_mask`). */
export type ChatField = 'title' | 'description' | 'avatar_url';
export const CHAT_FIELDS: readonly ChatField[] = ['title', 'description', 'avatar_url'];

export const DEFAULT_MEMBER_CAP = 1000;
export const DEFAULT_MAX_TEXT_LENGTH = 4096;
export const DEFAULT_UNREAD_COUNT_CAP = 1000;

/** The key of the one direct chat a pair may have: both ids in ascending order. */
export function directKeyOf(a: string, b: string): string {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}

export function memberIdsOf(chat: Chat): string[] {
  return chat.members.map((m) => m.userId);
}

export function isMember(chat: Chat, userId: string): boolean {
  return chat.members.some((m) => m.userId === userId);
}

export function memberOf(chat: Chat, userId: string): Member | undefined {
  return chat.members.find((m) => m.userId === userId);
}

/** The user's role in a group; undefined in a direct chat (no roles there) or when not a member. */
export function groupRoleOf(chat: Chat, userId: string): MemberRole | undefined {
  return chat.type === 'group' ? memberOf(chat, userId)?.role : undefined;
}

/** The group with the member's role changed. */
export function withRole(chat: Chat, userId: string, role: 'admin' | 'member'): Chat {
  return {
    ...chat,
    members: chat.members.map((m) => (m.userId === userId ? { ...m, role } : m)),
    version: chat.version + 1,
  };
}

/** The group handed to `heirId`: they become owner, the owner until now an admin. */
export function withOwner(chat: Chat, heirId: string): Chat {
  return {
    ...chat,
    ownerId: heirId,
    members: chat.members.map((m) =>
      m.userId === heirId ? { ...m, role: 'owner' } : m.userId === chat.ownerId ? { ...m, role: 'admin' } : m,
    ),
    version: chat.version + 1,
  };
}

/** A new member, with the copy of their profile when the user service had one. */
export function memberFrom(userId: string, profile: Profile | undefined, role: MemberRole, joinTime: Date): Member {
  return {
    userId,
    role,
    nickname: profile?.nickname ?? '',
    avatarUrl: profile?.avatarUrl ?? '',
    joinTime,
    profileTime: profile?.updateTime,
  };
}

/** Whether a profile should replace a member's copy: newer, and actually different. */
export function isNewerProfile(profile: Profile, member: Member): boolean {
  if (member.profileTime && profile.updateTime && member.profileTime >= profile.updateTime) return false;
  return member.nickname !== profile.nickname || member.avatarUrl !== profile.avatarUrl;
}

/** The chat with the user's profile copy replaced by `profile`. */
export function withProfile(chat: Chat, userId: string, profile: Profile): Chat {
  return {
    ...chat,
    members: chat.members.map((m) =>
      m.userId === userId
        ? { ...m, nickname: profile.nickname, avatarUrl: profile.avatarUrl, profileTime: profile.updateTime }
        : m,
    ),
    version: chat.version + 1,
  };
}

/** What a removal leaves: the chat without the user, the longest-standing member promoted if the owner left. */
export function withoutMember(chat: Chat, userId: string): Chat {
  const members = chat.members.filter((m) => m.userId !== userId);
  if (chat.type !== 'group' || chat.ownerId !== userId) {
    return { ...chat, members, version: chat.version + 1 };
  }
  const heir = members[0];
  return {
    ...chat,
    ownerId: heir?.userId ?? '',
    members: members.map((m, i) => (i === 0 ? { ...m, role: 'owner' } : m)),
    version: chat.version + 1,
  };
}

export function tombstoneOf(message: Message, deletedBy: string): Message {
  return {
    ...message,
    text: '',
    deleted: true,
    deletedBy,
    version: message.version + 1,
    reactions: [],
    pin: undefined,
    entities: [],
    attachments: [],
  };
}

/** The event of a message just posted, for the members of its chat at that moment. */
export function messageCreated(message: Message, memberIds: readonly string[], requestId: string): ChatEvent {
  return { kind: 'message_created', message, memberIds, time: message.createTime, requestId };
}

/** A text a message had before an edit replaced it. */
export interface MessageVersion {
  /** The message's `version` while it had this text. */
  readonly version: number;
  readonly text: string;
  /** When the message got this text: its post, or the edit to it. */
  readonly time: Date;
  /** When the next edit replaced it. */
  readonly replaceTime: Date;
}

/** How many earlier texts a message keeps: an edit beyond drops the oldest. */
export const MAX_KEPT_VERSIONS = 20;

/** What an edit at `replaceTime` keeps of the message it replaces. */
export function versionOf(before: Message, replaceTime: Date): MessageVersion {
  return { version: before.version, text: before.text, time: before.editTime ?? before.createTime, replaceTime };
}

/** The most distinct emoji one message may have reactions with: what a message carries stays small. */
export const MAX_REACTION_EMOJI = 20;

/**
 * The counts after one member's reaction with `emoji` was added (+1) or
 * removed (-1): a new emoji goes last, an emoji no one reacts with any more
 * leaves, and the others keep their place.
 */
export function withReaction(reactions: readonly ReactionCount[], emoji: string, delta: 1 | -1): ReactionCount[] {
  const counted = reactions.some((r) => r.emoji === emoji) ? reactions : [...reactions, { emoji, count: 0 }];
  return counted.map((r) => (r.emoji === emoji ? { emoji, count: r.count + delta } : r)).filter((r) => r.count > 0);
}

/** The most messages one chat may have pinned: a pinned list is a short list. */
export const MAX_PINS = 50;

/**
 * Whether a member may pin and unpin messages in a chat: either member of a
 * direct chat; in a group, the roles the permission table lets `pin`.
 */
export function mayPin(chat: Chat, member: Member): boolean {
  return chat.type === 'direct' || may(member.role, 'pin');
}

/** One member's own settings of a chat; nobody else sees them. */
export interface MemberSettings {
  /** Muted until then (`MUTE_FOREVER`: with no end); undefined when never muted or unmuted. */
  readonly muteUntil: Date | undefined;
  readonly archived: boolean;
}

/** A member's settings before they change any. */
export const DEFAULT_MEMBER_SETTINGS: MemberSettings = { muteUntil: undefined, archived: false };

/** The latest time a Date holds: a mute with no end. */
export const MUTE_FOREVER = new Date(8.64e15);

export function isMuted(settings: MemberSettings, now: Date): boolean {
  return settings.muteUntil !== undefined && settings.muteUntil.getTime() > now.getTime();
}
