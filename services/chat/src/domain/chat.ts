// Chats, members and messages, and their rules. Plain TypeScript: no
// transport, driver or generated code, so every rule is testable on its own.

export type ChatType = 'direct' | 'group';
export type MemberRole = 'owner' | 'member';

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
      readonly kind: 'message_deleted';
      readonly before: Message;
      readonly after: Message;
      readonly memberIds: readonly string[];
      readonly deletedBy: string;
      readonly time: Date;
      readonly requestId: string;
    };

/** Who acts, as far as the rules care. */
export type Actor =
  | { readonly kind: 'user'; readonly userId: string }
  | { readonly kind: 'service'; readonly service: string };

export const TITLE_MAX = 128;
export const DEFAULT_MEMBER_CAP = 1000;
export const DEFAULT_MAX_TEXT_LENGTH = 4096;
export const DEFAULT_UNREAD_COUNT_CAP = 1000;
/** AddChatMembers takes at most this many ids per call. */
export const MAX_ADD_PER_CALL = 100;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Each `…Problem` function returns why a value is invalid, or undefined when it is valid. */
export function uuidProblem(id: string): string | undefined {
  if (id === '') return 'is required';
  return UUID.test(id) ? undefined : 'must be a UUID';
}

/** Ids are compared and stored in their canonical lowercase form. */
export function canonicalId(id: string): string {
  return id.toLowerCase();
}

export function textProblem(text: string, maxLength: number): string | undefined {
  if (text === '') return 'is required';
  if ([...text].length > maxLength) return `must be at most ${maxLength} characters`;
  if (text.trim() === '') return 'must not be only whitespace';
  return undefined;
}

export function titleProblem(title: string): string | undefined {
  if (title === '') return 'is required for a group';
  if ([...title].length > TITLE_MAX) return `must be at most ${TITLE_MAX} characters`;
  if (title.trim() === '') return 'must not be blank';
  return undefined;
}

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

export function tombstoneOf(message: Message): Message {
  return { ...message, text: '', deleted: true, version: message.version + 1 };
}
