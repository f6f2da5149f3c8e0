import {
  type Actor,
  callerId,
  canonicalId,
  DomainError,
  retryOnRace,
  throwIfInvalid,
  violation,
} from '@messenger/platform/domain';
import {
  type Block,
  type Friendship,
  type FriendshipEvent,
  type FriendshipView,
  userIdProblem,
  type ViewStatus,
  viewOf,
} from './friendship.ts';
import { blockKeyOf, type FriendshipStorage, isStoreError, listKeyOf } from './friendship-storage.ts';
import {
  alreadyFriends,
  blockLimit,
  FRIENDSHIP_RACE_SUBJECT,
  friendRequestNotFound,
  incomingRequest,
  ownRequest,
  userNotFound,
  youBlockUser,
} from './subscriber-errors.ts';
import type { UserDirectory } from './user-directory.ts';

export interface FriendshipUseCaseDeps {
  readonly store: FriendshipStorage;
  readonly users: UserDirectory;
  readonly now?: () => Date;
  /** How many users one user may block (default `DEFAULT_MAX_BLOCKS`). */
  readonly maxBlocks?: number;
}

/** Who calls, and the request id the events carry. */
export interface CallMeta {
  readonly actor: Actor;
  readonly requestId: string;
}

export interface ListFriendsInput {
  /** Undefined lists every status. */
  readonly status: ViewStatus | undefined;
  readonly pageSize: number;
  readonly pageToken: string;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Empty on the last page. */
  readonly nextPageToken: string;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 100;
/** ListFriendIds' page size, default and most. */
export const MAX_FRIEND_IDS_PAGE_SIZE = 1000;
/** Enough for any real use; a bound on what one account can store. */
export const DEFAULT_MAX_BLOCKS = 1000;

export type FriendshipUseCases = ReturnType<typeof createFriendshipUseCases>;

export function createFriendshipUseCases(deps: FriendshipUseCaseDeps) {
  const { store, users } = deps;
  const now = deps.now ?? (() => new Date());
  const maxBlocks = deps.maxBlocks ?? DEFAULT_MAX_BLOCKS;

  const confirm = async (pending: Friendship, requestId: string): Promise<Friendship> => {
    const time = now();
    const after: Friendship = { ...pending, state: 'confirmed', updateTime: time, version: pending.version + 1 };
    await store.update(after, [{ kind: 'confirmed', after, time, requestId }]);
    return after;
  };

  const remove = async (before: Friendship, removedBy: string, requestId: string): Promise<void> => {
    const time = now();
    await store.delete(before, before.version, [{ kind: 'removed', before, removedBy, time, requestId }]);
  };

  return {
    /** Sends a request, or confirms the other user's pending request to the caller. */
    async makeFriend(meta: CallMeta, targetId: string): Promise<FriendshipView> {
      const me = callerId(meta.actor);
      const other = otherUserId(me, targetId);
      if (!(await users.exists(other, meta.requestId))) throw userNotFound();
      const blocks = await store.blocksBetween(me, other);
      if (blocks.some((b) => b.blockerId === me)) throw youBlockUser();
      if (blocks.length > 0) {
        // Blocked by the other user: the answer of a new request, but nothing is stored or published.
        const time = now();
        return { userId: other, status: 'outgoing', createTime: time, updateTime: time };
      }
      return retryOnPairRace(async () => {
        const current = await store.get(me, other);
        if (!current) {
          const time = now();
          const created: Friendship = {
            requesterId: me,
            addresseeId: other,
            state: 'pending',
            createTime: time,
            updateTime: time,
            version: 1,
          };
          await store.insert(created, [{ kind: 'requested', after: created, time, requestId: meta.requestId }]);
          return viewOf(created, me);
        }
        if (current.state === 'confirmed' || current.requesterId === me) return viewOf(current, me);
        return viewOf(await confirm(current, meta.requestId), me);
      });
    },

    async confirmFriend(meta: CallMeta, requesterId: string): Promise<FriendshipView> {
      const me = callerId(meta.actor);
      const other = otherUserId(me, requesterId);
      return retryOnPairRace(async () => {
        const current = await store.get(me, other);
        // The caller's own request is not one they can confirm: only its addressee can.
        if (!current || (current.state === 'pending' && current.requesterId === me)) throw friendRequestNotFound();
        if (current.state === 'confirmed') return viewOf(current, me);
        return viewOf(await confirm(current, meta.requestId), me);
      });
    },

    /** Resolves with the status before the call, undefined when there was no request. */
    async declineFriend(meta: CallMeta, requesterId: string): Promise<ViewStatus | undefined> {
      const me = callerId(meta.actor);
      const other = otherUserId(me, requesterId);
      return retryOnPairRace(async () => {
        const current = await store.get(me, other);
        if (!current) return undefined;
        if (current.state === 'confirmed') throw alreadyFriends();
        if (current.requesterId === me) throw ownRequest();
        const time = now();
        await store.delete(current, current.version, [
          { kind: 'declined', before: current, time, requestId: meta.requestId },
        ]);
        return 'incoming';
      });
    },

    /** Ends a friendship or withdraws the caller's request; resolves with the status before, undefined when none. */
    async unfriend(meta: CallMeta, otherId: string): Promise<ViewStatus | undefined> {
      const me = callerId(meta.actor);
      const other = otherUserId(me, otherId);
      return retryOnPairRace(async () => {
        const current = await store.get(me, other);
        if (!current) return undefined;
        const previous = viewOf(current, me).status;
        if (previous === 'incoming') throw incomingRequest();
        await remove(current, me, meta.requestId);
        return previous;
      });
    },

    async listFriends(meta: CallMeta, input: ListFriendsInput): Promise<Page<FriendshipView>> {
      const me = callerId(meta.actor);
      throwIfInvalid([violation('page_size', input.pageSize < 0 ? 'must not be negative' : undefined)]);
      const limit = input.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(input.pageSize, MAX_PAGE_SIZE);
      const after = input.pageToken === '' ? undefined : decodeListToken(input.pageToken, input.status);
      // One more than asked tells whether another page follows.
      const found = await store.listFor(me, input.status, after, limit + 1);
      const items = found.slice(0, limit);
      const last = items.at(-1);
      return {
        items: items.map((f) => viewOf(f, me)),
        nextPageToken: found.length > limit && last ? encodeListToken(input.status, listKeyOf(last)) : '',
      };
    },

    /**
     * For other services; a pending request is not a friendship, unknown
     * users are nobody's friends, and a block between the two outweighs a
     * friendship (blocking ends it; this also covers a crossing write).
     */
    async checkFriendship(
      _meta: CallMeta,
      userIdA: string,
      userIdB: string,
    ): Promise<{ friends: boolean; blocked: boolean }> {
      throwIfInvalid([violation('user_id_a', userIdProblem(userIdA)), violation('user_id_b', userIdProblem(userIdB))]);
      const a = canonicalId(userIdA);
      const b = canonicalId(userIdB);
      if (a === b) return { friends: false, blocked: false };
      const [pair, blocks] = await Promise.all([store.get(a, b), store.blocksBetween(a, b)]);
      return { friends: pair?.state === 'confirmed' && blocks.length === 0, blocked: blocks.length > 0 };
    },

    /**
     * Blocks `blockedId` and ends the pair's record in the same step: the
     * blocked user's request is declined, the caller's withdrawn and a
     * friendship removed, each with its ordinary event so nothing tells the
     * blocked user it was a block. Idempotent: an existing block is returned.
     */
    async blockUser(meta: CallMeta, blockedId: string): Promise<Block> {
      const me = callerId(meta.actor);
      const other = otherUserId(me, blockedId);
      if (!(await users.exists(other, meta.requestId))) throw userNotFound();
      return retryOnPairRace(async () => {
        const ending = await store.get(me, other);
        const time = now();
        const events: FriendshipEvent[] = [];
        if (ending?.state === 'pending' && ending.requesterId === other) {
          events.push({ kind: 'declined', before: ending, time, requestId: meta.requestId });
        } else if (ending) {
          events.push({ kind: 'removed', before: ending, removedBy: me, time, requestId: meta.requestId });
        }
        try {
          const result = await store.block(
            { blockerId: me, blockedId: other, createTime: time },
            ending,
            events,
            maxBlocks,
          );
          return result.block;
        } catch (error) {
          if (isStoreError(error, 'limit')) throw blockLimit(maxBlocks);
          throw error;
        }
      });
    },

    /** Resolves with whether a block was lifted. */
    async unblockUser(meta: CallMeta, blockedId: string): Promise<boolean> {
      const me = callerId(meta.actor);
      return store.unblock(me, otherUserId(me, blockedId));
    },

    async listBlockedUsers(meta: CallMeta, input: { pageSize: number; pageToken: string }): Promise<Page<Block>> {
      const me = callerId(meta.actor);
      throwIfInvalid([violation('page_size', input.pageSize < 0 ? 'must not be negative' : undefined)]);
      const limit = input.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(input.pageSize, MAX_PAGE_SIZE);
      const after = input.pageToken === '' ? undefined : decodeListToken(input.pageToken, BLOCKS_FILTER);
      const found = await store.listBlocks(me, after, limit + 1);
      const items = found.slice(0, limit);
      const last = items.at(-1);
      return {
        items,
        nextPageToken: found.length > limit && last ? encodeListToken(BLOCKS_FILTER, blockKeyOf(last)) : '',
      };
    },

    /**
     * `user.user.deleted`: removes every friendship and request of the user,
     * publishing `removed` for each. Idempotent: the event id is stored with
     * the removals, so a redelivery of the event changes and publishes
     * nothing. Resolves with how many records were removed.
     */
    async removeAllOf(userId: string, requestId: string, eventId: string): Promise<number> {
      const id = canonicalId(userId);
      const time = now();
      const result = await store.removeAllOf(id, eventId, time, (removed) =>
        removed.map((before) => ({ kind: 'removed', before, removedBy: id, time, requestId })),
      );
      return result.removed;
    },

    /**
     * For other services: the ids of `userId`'s confirmed friends, paged
     * like ListFriends (most recently changed first) but with larger pages,
     * since a caller usually wants them all. A block ends a friendship, so
     * none of them is blocked.
     */
    async listFriendIds(
      _meta: CallMeta,
      userId: string,
      input: { pageSize: number; pageToken: string },
    ): Promise<{ userIds: string[]; nextPageToken: string }> {
      throwIfInvalid([
        violation('user_id', userIdProblem(userId)),
        violation('page_size', input.pageSize < 0 ? 'must not be negative' : undefined),
      ]);
      const id = canonicalId(userId);
      const limit =
        input.pageSize === 0 ? MAX_FRIEND_IDS_PAGE_SIZE : Math.min(input.pageSize, MAX_FRIEND_IDS_PAGE_SIZE);
      const after = input.pageToken === '' ? undefined : decodeListToken(input.pageToken, 'confirmed');
      const found = await store.listFor(id, 'confirmed', after, limit + 1);
      const items = found.slice(0, limit);
      const last = items.at(-1);
      return {
        userIds: items.map((f) => viewOf(f, id).userId),
        nextPageToken: found.length > limit && last ? encodeListToken('confirmed', listKeyOf(last)) : '',
      };
    },
  };
}

function otherUserId(me: string, given: string): string {
  throwIfInvalid([violation('user_id', userIdProblem(given))]);
  const other = canonicalId(given);
  if (other === me)
    throw DomainError.invalid([{ field: 'user_id', description: 'must be another user than the caller' }]);
  return other;
}

/**
 * A lost race (the other side inserted the pair first, or changed it) is
 * retried from a fresh read, so two crossing requests end as one friendship.
 */
function retryOnPairRace<T>(attempt: () => Promise<T>): Promise<T> {
  return retryOnRace(attempt, { on: ['conflict', 'duplicate'], subject: FRIENDSHIP_RACE_SUBJECT });
}

// The page token is opaque to callers; inside it names the filter it belongs
// to, so a token from another filter is refused instead of giving a wrong page.
/** The filter a ListBlockedUsers token names, so a ListFriends token is refused there and the other way round. */
const BLOCKS_FILTER = 'blocks';

function encodeListToken(status: ViewStatus | typeof BLOCKS_FILTER | undefined, listKey: string): string {
  return Buffer.from(JSON.stringify([status ?? '', listKey])).toString('base64url');
}

function decodeListToken(token: string, status: ViewStatus | typeof BLOCKS_FILTER | undefined): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    Array.isArray(parsed) &&
    parsed.length === 2 &&
    parsed[0] === (status ?? '') &&
    typeof parsed[1] === 'string' &&
    parsed[1] !== ''
  ) {
    return parsed[1];
  }
  throw DomainError.invalid([{ field: 'page_token', description: 'is not a page token of this list' }]);
}
