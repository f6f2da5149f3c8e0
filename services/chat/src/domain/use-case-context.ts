// What every part of the chat use cases shares: the dependencies, the
// limits, and the reads that decide what a caller may see.
import { type Actor, canonicalId, retryOnRace, throwIfInvalid, violation } from '@messenger/platform/domain';
import type { MediaContent } from './attachments.ts';
import {
  type Chat,
  DEFAULT_MAX_TEXT_LENGTH,
  DEFAULT_MEMBER_CAP,
  DEFAULT_MEMBER_SETTINGS,
  DEFAULT_UNREAD_COUNT_CAP,
  isMember,
  type MemberSettings,
  type Message,
} from './chat.ts';
import { CHAT_RACE_SUBJECT, chatNotFound, messageNotFound } from './chat-errors.ts';
import type { ChatStorage } from './chat-storage.ts';
import type { FriendshipChecker, UserProfiles } from './directories.ts';
import { NO_READ_RECEIPTS, type ReadReceiptSender } from './read-receipts.ts';
import { uuidProblem } from './validation.ts';

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
  readonly store: ChatStorage;
  readonly users: UserProfiles;
  readonly friends: FriendshipChecker;
  readonly limits?: Partial<ChatLimits>;
  readonly now?: () => Date;
  /** Tells the other members when a read position moves; absent, nobody is told. */
  readonly readReceipts?: ReadReceiptSender;
  /** The media store attachments' bytes are in; absent, no upload can complete. */
  readonly media?: MediaContent;
}

/** Who calls, and the request id the events carry. */
export interface CallMeta {
  readonly actor: Actor;
  readonly requestId: string;
}

export interface UseCaseContext {
  readonly store: ChatStorage;
  readonly users: UserProfiles;
  readonly friends: FriendshipChecker;
  readonly limits: ChatLimits;
  readonly now: () => Date;
  /** The chat if the user is a member; NOT_FOUND otherwise, so chat ids cannot be probed. */
  visibleChat(me: string, chatId: string): Promise<Chat>;
  /** A message of a chat the user is a member of. */
  visibleMessage(me: string, chatId: string, messageId: string): Promise<{ chat: Chat; message: Message }>;
  readonly readReceipts: ReadReceiptSender;
  /** For each chat, in a direct chat the other member's read position (0 when none), 0 in a group. One store read. */
  peerReadsOf(chats: readonly Chat[], me: string): Promise<number[]>;
  /**
   * The member's view of each chat from their read positions (0 when
   * absent). Unread counts take one store read for the chats with unread
   * messages, and unread mentions one more.
   */
  viewsOf(me: string, chats: readonly Chat[], positions: ReadonlyMap<string, number>): Promise<ChatView[]>;
}

/** A chat with one member's own view of it: read position, unread and unread-mention counts, settings. */
export interface ChatView {
  readonly chat: Chat;
  readonly settings: MemberSettings;
  readonly readSequence: number;
  readonly unreadCount: number;
  /** Of the unread messages, those that mention the member (by name or `@all`), up to the same cap. */
  readonly unreadMentionCount: number;
}

export function useCaseContext(deps: ChatUseCaseDeps): UseCaseContext {
  const { store } = deps;
  const limits: ChatLimits = { ...DEFAULT_LIMITS, ...deps.limits };
  const visibleChat = async (me: string, chatId: string): Promise<Chat> => {
    throwIfInvalid([violation('chat_id', uuidProblem(chatId))]);
    const chat = await store.getChat(canonicalId(chatId));
    if (!chat || !isMember(chat, me)) throw chatNotFound();
    return chat;
  };
  return {
    store,
    users: deps.users,
    friends: deps.friends,
    limits,
    now: deps.now ?? (() => new Date()),
    visibleChat,
    async visibleMessage(me, chatId, messageId) {
      throwIfInvalid([violation('chat_id', uuidProblem(chatId)), violation('message_id', uuidProblem(messageId))]);
      const chat = await visibleChat(me, chatId);
      const message = await store.getMessage(chat.id, canonicalId(messageId));
      if (!message) throw messageNotFound();
      return { chat, message };
    },
    async viewsOf(me, chats, positions) {
      const reads = chats.map((chat) => ({
        chat,
        readSequence: Math.min(positions.get(chat.id) ?? 0, chat.lastSequence),
      }));
      const behind = reads.filter((r) => r.readSequence < r.chat.lastSequence);
      const behindPositions = behind.map((r) => ({ chatId: r.chat.id, afterSequence: r.readSequence }));
      const [unread, mentions, settings] = await Promise.all([
        behind.length === 0 ? new Map<string, number>() : store.countUnread(me, behindPositions, limits.unreadCountCap),
        behind.length === 0
          ? new Map<string, number>()
          : store.countUnreadMentions(me, behindPositions, limits.unreadCountCap),
        store.memberSettings(
          me,
          chats.map((c) => c.id),
        ),
      ]);
      return reads.map((r) => ({
        chat: r.chat,
        readSequence: r.readSequence,
        unreadCount: unread.get(r.chat.id) ?? 0,
        unreadMentionCount: mentions.get(r.chat.id) ?? 0,
        settings: settings.get(r.chat.id) ?? DEFAULT_MEMBER_SETTINGS,
      }));
    },
    readReceipts: deps.readReceipts ?? NO_READ_RECEIPTS,
    async peerReadsOf(chats, me) {
      const peers = chats.map((chat) => ({
        chat,
        peer: chat.type === 'direct' ? chat.members.find((m) => m.userId !== me) : undefined,
      }));
      const asked = peers.flatMap(({ chat, peer }) => (peer ? [{ chatId: chat.id, userId: peer.userId }] : []));
      const positions = asked.length === 0 ? [] : await store.readPositionsOf(asked);
      let next = 0;
      return peers.map(({ chat, peer }) => (peer ? Math.min(positions[next++] ?? 0, chat.lastSequence) : 0));
    },
  };
}

/**
 * Runs a read-decide-write attempt on a chat again while a concurrent change
 * of the same chat or message wins the race; ABORTED after the last attempt.
 */
export function retryOnChatRace<T>(attempt: () => Promise<T>): Promise<T> {
  return retryOnRace(attempt, { on: ['conflict'], subject: CHAT_RACE_SUBJECT });
}
