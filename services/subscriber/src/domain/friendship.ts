// Friendships and their rules. Plain TypeScript: no transport, driver or generated code.

/** One record per unordered pair of users: a pending request or a confirmed friendship. */
export interface Friendship {
  /** Who asked first. */
  readonly requesterId: string;
  /** Who was asked; the only one who may confirm or decline. */
  readonly addresseeId: string;
  readonly state: 'pending' | 'confirmed';
  /** When the request was sent. */
  readonly createTime: Date;
  /** When the state last changed (the confirmation time, for friends). */
  readonly updateTime: Date;
  /** Optimistic-concurrency token: 1 when created, +1 on every change. */
  readonly version: number;
}

/**
 * One user (the blocker) blocking another. Private to the blocker: no event
 * announces it, and the blocked user is never told.
 */
export interface Block {
  readonly blockerId: string;
  readonly blockedId: string;
  readonly createTime: Date;
}

/** A friendship as one of its two users sees it. */
export type ViewStatus = 'confirmed' | 'incoming' | 'outgoing';
export const VIEW_STATUSES: readonly ViewStatus[] = ['confirmed', 'incoming', 'outgoing'];

export interface FriendshipView {
  /** The other user. */
  readonly userId: string;
  readonly status: ViewStatus;
  readonly createTime: Date;
  readonly updateTime: Date;
}

/** What a change publishes; the store writes it in the same atomic step as the change. */
export type FriendshipEvent =
  | { readonly kind: 'requested'; readonly after: Friendship; readonly time: Date; readonly requestId: string }
  | { readonly kind: 'confirmed'; readonly after: Friendship; readonly time: Date; readonly requestId: string }
  | { readonly kind: 'declined'; readonly before: Friendship; readonly time: Date; readonly requestId: string }
  | {
      readonly kind: 'removed';
      readonly before: Friendship;
      /** One of the two users, or the deleted user when removal follows a deletion. */
      readonly removedBy: string;
      readonly time: Date;
      readonly requestId: string;
    };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function userIdProblem(id: string): string | undefined {
  if (id === '') return 'is required';
  return UUID.test(id) ? undefined : 'must be a UUID';
}

/** The pair's id and event key: both ids in ascending order joined by `:`, as events.proto specifies. */
export function pairIdOf(a: string, b: string): string {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}

export function pairIdOfFriendship(f: Friendship): string {
  return pairIdOf(f.requesterId, f.addresseeId);
}

export function statusSeenBy(f: Friendship, viewerId: string): ViewStatus {
  if (f.state === 'confirmed') return 'confirmed';
  return f.requesterId === viewerId ? 'outgoing' : 'incoming';
}

export function viewOf(f: Friendship, viewerId: string): FriendshipView {
  return {
    userId: f.requesterId === viewerId ? f.addresseeId : f.requesterId,
    status: statusSeenBy(f, viewerId),
    createTime: f.createTime,
    updateTime: f.updateTime,
  };
}
