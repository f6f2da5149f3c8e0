import { randomUUID } from 'node:crypto';
import { DomainError, ErrorKind, type FieldViolation } from '@messenger/platform';
import { type ActivityCursor, type ChatStore, isStoreError } from '../store/chat-store.ts';
import {
  type Actor,
  type Chat,
  type ChatEvent,
  type ChatType,
  canonicalId,
  DEFAULT_MAX_TEXT_LENGTH,
  DEFAULT_MEMBER_CAP,
  DEFAULT_UNREAD_COUNT_CAP,
  directKeyOf,
  isMember,
  MAX_ADD_PER_CALL,
  type Member,
  type Message,
  memberIdsOf,
  memberOf,
  type Profile,
  textProblem,
  titleProblem,
  tombstoneOf,
  uuidProblem,
  withoutMember,
} from './chat.ts';
import type { FriendshipChecker, UserProfiles } from './directories.ts';

export interface ChatLimits {
  /** Members of a group, the owner included. */
  readonly memberCap: number;
  /** Characters (Unicode code points) of a message text. */
  readonly maxTextLength: number;
  /** The highest unread count reported; counting stops there so its cost stays bounded. */
  readonly unreadCountCap: number;
}

export const DEFAULT_LIMITS: ChatLimits = {
  memberCap: DEFAULT_MEMBER_CAP,
  maxTextLength: DEFAULT_MAX_TEXT_LENGTH,
  unreadCountCap: DEFAULT_UNREAD_COUNT_CAP,
};

export interface ChatUseCaseDeps {
  readonly store: ChatStore;
  readonly users: UserProfiles;
  readonly friends: FriendshipChecker;
  readonly limits?: Partial<ChatLimits>;
  /** Called after a change (and its events) is committed, so the outbox relay publishes at once. */
  readonly onCommit?: () => void;
  readonly now?: () => Date;
}

/** Who calls, and the request id the events carry. */
export interface CallMeta {
  readonly actor: Actor;
  readonly requestId: string;
}

export interface CreateChatInput {
  /** Undefined when the caller did not say. */
  readonly type: ChatType | undefined;
  readonly memberIds: readonly string[];
  readonly title: string;
}

export interface PageInput {
  readonly pageSize: number;
  readonly pageToken: string;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Empty on the last page. */
  readonly nextPageToken: string;
}

/** A chat as one member sees it in their list. */
export interface ChatSummary {
  readonly chat: Chat;
  readonly lastMessage: Message | undefined;
  readonly unreadCount: number;
  readonly readSequence: number;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 100;
/** A change that keeps losing races to concurrent changes of the same chat gives up after this many tries. */
const MAX_ATTEMPTS = 5;
/** Chats of a user handled per step when a user event touches all of them. */
const WALK_BATCH = 100;

export type ChatUseCases = ReturnType<typeof createChatUseCases>;

export function createChatUseCases(deps: ChatUseCaseDeps) {
  const { store, users, friends } = deps;
  const limits: ChatLimits = { ...DEFAULT_LIMITS, ...deps.limits };
  const now = deps.now ?? (() => new Date());
  const onCommit = deps.onCommit ?? (() => {});

  /** The chat if the user is a member; NOT_FOUND otherwise, so chat ids cannot be probed. */
  const visibleChat = async (me: string, chatId: string): Promise<Chat> => {
    throwIfInvalid([violation('chat_id', uuidProblem(chatId))]);
    const chat = await store.getChat(canonicalId(chatId));
    if (!chat || !isMember(chat, me)) throw chatNotFound();
    return chat;
  };

  const visibleMessage = async (me: string, chatId: string, messageId: string) => {
    throwIfInvalid([violation('chat_id', uuidProblem(chatId)), violation('message_id', uuidProblem(messageId))]);
    const chat = await visibleChat(me, chatId);
    const message = await store.getMessage(chat.id, canonicalId(messageId));
    if (!message) throw new DomainError(ErrorKind.NotFound, 'MESSAGE_NOT_FOUND', 'no such message in this chat');
    return { chat, message };
  };

  /** Profiles of `required` (NOT_FOUND unless all exist) and of `extra` when it exists (the caller's own). */
  const profilesOf = async (required: readonly string[], requestId: string, field: string, extra?: string) => {
    const profiles = await users.getProfiles(extra === undefined ? required : [extra, ...required], requestId);
    const missing = required.filter((id) => !profiles.has(id));
    if (missing.length > 0) {
      throw new DomainError(ErrorKind.NotFound, 'USER_NOT_FOUND', `${field}: no user with id ${missing.join(', ')}`);
    }
    return profiles;
  };

  const unreadOf = async (chat: Chat, me: string, readSequence: number): Promise<number> =>
    readSequence >= chat.lastSequence ? 0 : store.countUnread(chat.id, me, readSequence, limits.unreadCountCap);

  const updateChat = async (after: Chat, events: ChatEvent[]) => {
    await store.updateChat(after, events);
    onCommit();
  };

  return {
    limits,

    /** Creates a direct chat (or returns the pair's existing one) or a group owned by the caller. */
    async createChat(meta: CallMeta, input: CreateChatInput): Promise<Chat> {
      const me = callerId(meta.actor);
      const others = otherMemberIds(me, input.memberIds, 'member_ids');
      if (input.type === undefined) throw DomainError.invalid([{ field: 'type', description: 'is required' }]);
      const time = now();

      if (input.type === 'direct') {
        throwIfInvalid([
          violation(
            'member_ids',
            others.length !== 1 ? 'must name exactly one other user for a direct chat' : undefined,
          ),
          violation('title', input.title !== '' ? 'must be empty for a direct chat' : undefined),
        ]);
        const other = others[0] as string;
        const directKey = directKeyOf(me, other);
        const existing = await store.findDirectChat(directKey);
        if (existing && isMember(existing, me)) return existing;
        const profiles = await profilesOf([other], meta.requestId, 'member_ids', me);
        if (!(await friends.areFriends(me, other, meta.requestId))) {
          throw new DomainError(
            ErrorKind.FailedPrecondition,
            'NOT_FRIENDS',
            'a direct chat needs the other user to be your confirmed friend',
          );
        }
        const chat: Chat = {
          id: randomUUID(),
          type: 'direct',
          title: '',
          ownerId: '',
          directKey,
          members: [
            memberFrom(me, profiles.get(me), 'member', time),
            memberFrom(other, profiles.get(other), 'member', time),
          ],
          createTime: time,
          lastActivityTime: time,
          lastSequence: 0,
          version: 1,
        };
        try {
          await store.createChat(chat, [{ kind: 'chat_created', chat, time, requestId: meta.requestId }]);
        } catch (error) {
          // Both users created it at once: the other call's chat is the pair's.
          if (!isStoreError(error, 'duplicate')) throw error;
          const winner = await store.findDirectChat(directKey);
          if (winner && isMember(winner, me)) return winner;
          throw error;
        }
        onCommit();
        return chat;
      }

      throwIfInvalid([
        violation(
          'member_ids',
          others.length < 1 || others.length > limits.memberCap - 1
            ? `must name 1-${limits.memberCap - 1} other users for a group`
            : undefined,
        ),
        violation('title', titleProblem(input.title)),
      ]);
      const profiles = await profilesOf(others, meta.requestId, 'member_ids', me);
      const chat: Chat = {
        id: randomUUID(),
        type: 'group',
        title: input.title,
        ownerId: me,
        directKey: '',
        members: [
          memberFrom(me, profiles.get(me), 'owner', time),
          ...others.map((id) => memberFrom(id, profiles.get(id), 'member', time)),
        ],
        createTime: time,
        lastActivityTime: time,
        lastSequence: 0,
        version: 1,
      };
      await store.createChat(chat, [{ kind: 'chat_created', chat, time, requestId: meta.requestId }]);
      onCommit();
      return chat;
    },

    async listChats(meta: CallMeta, input: PageInput): Promise<Page<ChatSummary>> {
      const me = callerId(meta.actor);
      const limit = pageLimit(input.pageSize);
      const after = input.pageToken === '' ? undefined : decodeChatsToken(input.pageToken);
      // One more than asked tells whether another page follows.
      const found = await store.listChatsOf(me, after, limit + 1);
      const chats = found.slice(0, limit);
      const [positions, lastMessages] = await Promise.all([
        store.readPositions(
          me,
          chats.map((c) => c.id),
        ),
        store.messagesAt(
          chats.filter((c) => c.lastSequence > 0).map((c) => ({ chatId: c.id, sequence: c.lastSequence })),
        ),
      ]);
      const lastByChat = new Map(lastMessages.map((m) => [m.chatId, m]));
      const items = await Promise.all(
        chats.map(async (chat) => {
          const readSequence = Math.min(positions.get(chat.id) ?? 0, chat.lastSequence);
          return {
            chat,
            lastMessage: lastByChat.get(chat.id),
            readSequence,
            unreadCount: await unreadOf(chat, me, readSequence),
          };
        }),
      );
      const last = chats.at(-1);
      return {
        items,
        nextPageToken:
          found.length > limit && last
            ? encodeChatsToken({ lastActivityTime: last.lastActivityTime, chatId: last.id })
            : '',
      };
    },

    async getChat(meta: CallMeta, chatId: string): Promise<Chat> {
      return visibleChat(callerId(meta.actor), chatId);
    },

    /** Adds users to a group (owner only); those already in it are skipped. */
    async addMembers(meta: CallMeta, chatId: string, memberIds: readonly string[]): Promise<Chat> {
      const me = callerId(meta.actor);
      const ids = uniqueIds(memberIds, 'member_ids');
      throwIfInvalid([
        violation(
          'member_ids',
          ids.length < 1 || ids.length > MAX_ADD_PER_CALL ? `must name 1-${MAX_ADD_PER_CALL} users` : undefined,
        ),
      ]);
      const checked = (chat: Chat) => {
        if (chat.type !== 'group') {
          throw new DomainError(ErrorKind.FailedPrecondition, 'DIRECT_CHAT', 'the members of a direct chat are fixed');
        }
        if (chat.ownerId !== me) {
          throw new DomainError(ErrorKind.PermissionDenied, 'NOT_OWNER', "only the group's owner may add members");
        }
        const toAdd = ids.filter((id) => !isMember(chat, id));
        if (chat.members.length + toAdd.length > limits.memberCap) {
          throw new DomainError(
            ErrorKind.FailedPrecondition,
            'MEMBER_CAP',
            `a group has at most ${limits.memberCap} members`,
          );
        }
        return toAdd;
      };
      const first = await visibleChat(me, chatId);
      const candidates = checked(first);
      if (candidates.length === 0) return first;
      const profiles = await profilesOf(candidates, meta.requestId, 'member_ids');
      return retryOnRace(async () => {
        const chat = await visibleChat(me, chatId);
        const toAdd = checked(chat);
        if (toAdd.length === 0) return chat;
        const time = now();
        const after: Chat = {
          ...chat,
          members: [...chat.members, ...toAdd.map((id) => memberFrom(id, profiles.get(id), 'member', time))],
          version: chat.version + 1,
        };
        await updateChat(after, [
          {
            kind: 'members_changed',
            before: chat,
            after,
            added: toAdd,
            removed: [],
            actorId: me,
            time,
            requestId: meta.requestId,
          },
        ]);
        return after;
      });
    },

    /** The owner removes anyone; a member removes themself (leaves). An owner who leaves hands over. */
    async removeMember(meta: CallMeta, chatId: string, userId: string): Promise<void> {
      const me = callerId(meta.actor);
      throwIfInvalid([violation('chat_id', uuidProblem(chatId)), violation('user_id', uuidProblem(userId))]);
      const target = canonicalId(userId);
      await retryOnRace(async () => {
        const chat = await visibleChat(me, chatId);
        if (chat.type !== 'group') {
          throw new DomainError(ErrorKind.FailedPrecondition, 'DIRECT_CHAT', 'the members of a direct chat are fixed');
        }
        if (!isMember(chat, target)) {
          throw new DomainError(ErrorKind.NotFound, 'MEMBER_NOT_FOUND', 'this user is not a member of the chat');
        }
        if (target !== me && chat.ownerId !== me) {
          throw new DomainError(
            ErrorKind.PermissionDenied,
            'NOT_OWNER',
            "only the group's owner may remove other members",
          );
        }
        const time = now();
        const after = withoutMember(chat, target);
        await updateChat(after, [
          {
            kind: 'members_changed',
            before: chat,
            after,
            added: [],
            removed: [target],
            actorId: me,
            time,
            requestId: meta.requestId,
          },
        ]);
      });
    },

    /** Posts a message, or returns the one this client message id already posted. */
    async sendMessage(
      meta: CallMeta,
      input: { readonly chatId: string; readonly clientMessageId: string; readonly text: string },
    ): Promise<Message> {
      const me = callerId(meta.actor);
      throwIfInvalid([
        violation('chat_id', uuidProblem(input.chatId)),
        violation('client_message_id', uuidProblem(input.clientMessageId)),
        violation('text', textProblem(input.text, limits.maxTextLength)),
      ]);
      const result = await store.appendMessage({
        id: randomUUID(),
        chatId: canonicalId(input.chatId),
        senderId: me,
        clientMessageId: canonicalId(input.clientMessageId),
        text: input.text,
        createTime: now(),
        requestId: meta.requestId,
      });
      if (result.kind === 'not_member') throw chatNotFound();
      if (result.kind === 'created') onCommit();
      return result.message;
    },

    async listMessages(meta: CallMeta, chatId: string, input: PageInput): Promise<Page<Message>> {
      const me = callerId(meta.actor);
      const limit = pageLimit(input.pageSize);
      const chat = await visibleChat(me, chatId);
      const before = input.pageToken === '' ? undefined : decodeMessagesToken(input.pageToken, chat.id);
      const found = await store.listMessages(chat.id, before, limit + 1);
      const items = found.slice(0, limit);
      const last = items.at(-1);
      return {
        items,
        nextPageToken: found.length > limit && last ? encodeMessagesToken(chat.id, last.sequence) : '',
      };
    },

    async getMessage(meta: CallMeta, chatId: string, messageId: string): Promise<Message> {
      return (await visibleMessage(callerId(meta.actor), chatId, messageId)).message;
    },

    async editMessage(meta: CallMeta, chatId: string, messageId: string, text: string): Promise<Message> {
      const me = callerId(meta.actor);
      throwIfInvalid([violation('text', textProblem(text, limits.maxTextLength))]);
      return retryOnRace(async () => {
        const { chat, message } = await visibleMessage(me, chatId, messageId);
        if (message.senderId !== me) {
          throw new DomainError(ErrorKind.PermissionDenied, 'NOT_SENDER', 'only the sender may edit a message');
        }
        if (message.deleted) {
          throw new DomainError(ErrorKind.FailedPrecondition, 'MESSAGE_DELETED', 'a deleted message cannot be edited');
        }
        if (message.text === text) return message;
        const time = now();
        const after: Message = { ...message, text, editTime: time, version: message.version + 1 };
        await store.updateMessage(after, [
          {
            kind: 'message_edited',
            before: message,
            after,
            memberIds: memberIdsOf(chat),
            time,
            requestId: meta.requestId,
          },
        ]);
        onCommit();
        return after;
      });
    },

    /** Leaves a tombstone; the sender or a group's owner may. Deleting a tombstone returns it. */
    async deleteMessage(meta: CallMeta, chatId: string, messageId: string): Promise<Message> {
      const me = callerId(meta.actor);
      return retryOnRace(async () => {
        const { chat, message } = await visibleMessage(me, chatId, messageId);
        if (message.senderId !== me && !(chat.type === 'group' && chat.ownerId === me)) {
          throw new DomainError(
            ErrorKind.PermissionDenied,
            'NOT_SENDER',
            "only the sender or the group's owner may delete a message",
          );
        }
        if (message.deleted) return message;
        const time = now();
        const after = tombstoneOf(message);
        await store.updateMessage(after, [
          {
            kind: 'message_deleted',
            before: message,
            after,
            memberIds: memberIdsOf(chat),
            deletedBy: me,
            time,
            requestId: meta.requestId,
          },
        ]);
        onCommit();
        return after;
      });
    },

    async markRead(
      meta: CallMeta,
      chatId: string,
      upToSequence: number,
    ): Promise<{ readSequence: number; unreadCount: number }> {
      const me = callerId(meta.actor);
      throwIfInvalid([
        violation('chat_id', uuidProblem(chatId)),
        violation(
          'up_to_sequence',
          !Number.isInteger(upToSequence) || upToSequence < 1 ? 'must be 1 or more' : undefined,
        ),
      ]);
      const chat = await visibleChat(me, chatId);
      // Beyond the newest message is lowered to it, so a client cannot pre-mark messages not yet sent.
      const readSequence = await store.markRead(chat.id, me, Math.min(upToSequence, chat.lastSequence));
      return { readSequence, unreadCount: await unreadOf(chat, me, readSequence) };
    },

    /**
     * `user.user.updated`: refreshes the copy of the profile in each of the
     * user's chats, publishing `chat.chat.updated` for each chat changed.
     * Idempotent: a copy already as new as the event is left alone.
     */
    async refreshProfile(profile: Profile, requestId: string): Promise<number> {
      const userId = canonicalId(profile.userId);
      let changed = 0;
      let afterId: string | undefined;
      for (;;) {
        const ids = await store.chatIdsOf(userId, afterId, WALK_BATCH);
        for (const id of ids) {
          const done = await retryOnRace(async () => {
            const chat = await store.getChat(id);
            const member = chat && memberOf(chat, userId);
            if (!chat || !member || !isNewer(profile, member)) return false;
            const after: Chat = {
              ...chat,
              members: chat.members.map((m) =>
                m.userId === userId
                  ? { ...m, nickname: profile.nickname, avatarUrl: profile.avatarUrl, profileTime: profile.updateTime }
                  : m,
              ),
              version: chat.version + 1,
            };
            await updateChat(after, [{ kind: 'chat_updated', before: chat, after, time: now(), requestId }]);
            return true;
          });
          if (done) changed++;
        }
        if (ids.length < WALK_BATCH) return changed;
        afterId = ids.at(-1);
      }
    },

    /**
     * `user.user.deleted`: removes the user from every chat (an owner hands
     * over as when leaving), publishing `chat.chat.members_changed` for each.
     * Idempotent: a repeat finds no chat left to leave.
     */
    async removeUser(userId: string, requestId: string): Promise<number> {
      const id = canonicalId(userId);
      let removed = 0;
      let afterId: string | undefined;
      for (;;) {
        const ids = await store.chatIdsOf(id, afterId, WALK_BATCH);
        for (const chatId of ids) {
          const done = await retryOnRace(async () => {
            const chat = await store.getChat(chatId);
            if (!chat || !isMember(chat, id)) return false;
            const time = now();
            const after = withoutMember(chat, id);
            await updateChat(after, [
              { kind: 'members_changed', before: chat, after, added: [], removed: [id], actorId: id, time, requestId },
            ]);
            return true;
          });
          if (done) removed++;
        }
        if (ids.length < WALK_BATCH) return removed;
        afterId = ids.at(-1);
      }
    },
  };
}

function memberFrom(userId: string, profile: Profile | undefined, role: Member['role'], joinTime: Date): Member {
  return {
    userId,
    role,
    nickname: profile?.nickname ?? '',
    avatarUrl: profile?.avatarUrl ?? '',
    joinTime,
    profileTime: profile?.updateTime,
  };
}

/** Whether an event's profile should replace a member's copy: newer, and actually different. */
function isNewer(profile: Profile, member: Member): boolean {
  if (member.profileTime && profile.updateTime && member.profileTime >= profile.updateTime) return false;
  return member.nickname !== profile.nickname || member.avatarUrl !== profile.avatarUrl;
}

/** These methods act for a signed-in user; a service credential has no side to act on. */
function callerId(actor: Actor): string {
  if (actor.kind === 'user') return canonicalId(actor.userId);
  throw new DomainError(ErrorKind.PermissionDenied, 'USER_CALLER_REQUIRED', 'this method acts for a signed-in user');
}

function chatNotFound(): DomainError {
  return new DomainError(ErrorKind.NotFound, 'CHAT_NOT_FOUND', 'no such chat');
}

/** Valid, canonical and de-duplicated, in first-seen order. */
function uniqueIds(ids: readonly string[], field: string): string[] {
  throwIfInvalid(ids.map((id, i) => violation(`${field}[${i}]`, uuidProblem(id))));
  return [...new Set(ids.map(canonicalId))];
}

/** The other members named: the caller's own id counts as given already. */
function otherMemberIds(me: string, ids: readonly string[], field: string): string[] {
  return uniqueIds(ids, field).filter((id) => id !== me);
}

function pageLimit(pageSize: number): number {
  throwIfInvalid([violation('page_size', pageSize < 0 ? 'must not be negative' : undefined)]);
  return pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(pageSize, MAX_PAGE_SIZE);
}

async function retryOnRace<T>(attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isStoreError(error, 'conflict')) throw error;
      if (n >= MAX_ATTEMPTS) {
        throw new DomainError(ErrorKind.Aborted, 'CONCURRENT_CHANGE', 'the chat kept changing; try again');
      }
    }
  }
}

// Page tokens are opaque to callers; inside they name their list (and chat),
// so a token from another list is refused instead of giving a wrong page.
function encodeChatsToken(cursor: ActivityCursor): string {
  return encodeToken(['chats', cursor.lastActivityTime.getTime(), cursor.chatId]);
}

function decodeChatsToken(token: string): ActivityCursor {
  const parsed = decodeToken(token);
  if (
    parsed?.length === 3 &&
    parsed[0] === 'chats' &&
    Number.isSafeInteger(parsed[1]) &&
    typeof parsed[2] === 'string' &&
    uuidProblem(parsed[2]) === undefined
  ) {
    return { lastActivityTime: new Date(parsed[1] as number), chatId: parsed[2] };
  }
  throw DomainError.invalid([{ field: 'page_token', description: 'is not a page token of this list' }]);
}

function encodeMessagesToken(chatId: string, beforeSequence: number): string {
  return encodeToken(['messages', chatId, beforeSequence]);
}

function decodeMessagesToken(token: string, chatId: string): number {
  const parsed = decodeToken(token);
  if (
    parsed?.length === 3 &&
    parsed[0] === 'messages' &&
    parsed[1] === chatId &&
    Number.isSafeInteger(parsed[2]) &&
    (parsed[2] as number) > 0
  ) {
    return parsed[2] as number;
  }
  throw DomainError.invalid([{ field: 'page_token', description: 'is not a page token of this chat' }]);
}

function encodeToken(parts: readonly unknown[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

function decodeToken(token: string): unknown[] | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    return Array.isArray(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function violation(field: string, problem: string | undefined): FieldViolation | undefined {
  return problem === undefined ? undefined : { field, description: problem };
}

function throwIfInvalid(candidates: readonly (FieldViolation | undefined)[]): void {
  const violations = candidates.filter((v): v is FieldViolation => v !== undefined);
  if (violations.length > 0) throw DomainError.invalid(violations);
}
