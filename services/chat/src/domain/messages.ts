// Messages: posting, reading, editing and deleting them, and read positions.
import { randomUUID } from 'node:crypto';
import { callerId, canonicalId, throwIfInvalid, violation } from '@messenger/platform/domain';
import { attachmentIdsProblems, attachmentsToSend } from './attachments.ts';
import {
  type Chat,
  groupRoleOf,
  type Message,
  type MessageVersion,
  may,
  memberIdsOf,
  messageCreated,
  quoteOf,
  tombstoneOf,
} from './chat.ts';
import {
  chatNotFound,
  invalidField,
  messageDeleted,
  messageNotFound,
  notFriends,
  notSender,
  systemMessage,
} from './chat-errors.ts';
import { mentionsIn } from './mentions.ts';
import {
  decodeMessagesToken,
  decodeRepliesToken,
  decodeSearchToken,
  decodeVersionsToken,
  encodeMessagesToken,
  encodeRepliesToken,
  encodeSearchToken,
  encodeVersionsToken,
  type Page,
  type PageInput,
  pageLimit,
  pageOf,
} from './page-tokens.ts';
import { highlightsOf, queryProblem, type SearchResult, searchTermsOf } from './search.ts';
import { type CallMeta, retryOnChatRace, type UseCaseContext } from './use-case-context.ts';
import { textProblem, uuidProblem } from './validation.ts';

export interface SendMessageInput {
  readonly chatId: string;
  readonly clientMessageId: string;
  readonly text: string;
  /** Empty or absent when the message replies to none. */
  readonly replyToMessageId?: string;
  /** The caller's unsent uploads to the chat to send with it; with some, the text may be empty. */
  readonly attachmentIds?: readonly string[];
}

export interface SearchInput extends PageInput {
  readonly query: string;
  /** Empty to search every chat the caller is a member of. */
  readonly chatId: string;
}

/** How many chat ids one read of the caller's chats takes when a search covers them all. */
const CHAT_ID_BATCH = 1000;

export function messageUseCases(ctx: UseCaseContext) {
  const { store, friends, limits, now } = ctx;

  /** Every chat the user is a member of. */
  const chatIdsOf = async (userId: string): Promise<string[]> => {
    const ids: string[] = [];
    for (;;) {
      const batch = await store.chatIdsOf(userId, ids.at(-1), CHAT_ID_BATCH);
      ids.push(...batch);
      if (batch.length < CHAT_ID_BATCH) return ids;
    }
  };

  return {
    /** Posts a message, or returns the one this client message id already posted. */
    async sendMessage(meta: CallMeta, input: SendMessageInput): Promise<Message> {
      const me = callerId(meta.actor);
      const replyToId = input.replyToMessageId ?? '';
      const attachmentIds = input.attachmentIds ?? [];
      throwIfInvalid([
        violation('chat_id', uuidProblem(input.chatId)),
        violation('client_message_id', uuidProblem(input.clientMessageId)),
        violation(
          'text',
          attachmentIds.length > 0 && input.text === '' ? undefined : textProblem(input.text, limits.maxTextLength),
        ),
        violation('reply_to_message_id', replyToId === '' ? undefined : uuidProblem(replyToId)),
        ...attachmentIdsProblems(attachmentIds).map((p) => violation(p.field, p.description)),
      ]);
      const chat = await ctx.visibleChat(me, input.chatId);
      // Messages are never removed (deletion leaves a tombstone), so the parent read here is still there when the post commits.
      const parent = replyToId === '' ? undefined : await store.getMessage(chat.id, canonicalId(replyToId));
      if (replyToId !== '' && !parent) throw messageNotFound();
      if (parent?.deleted) throw messageDeleted();
      const other = chat.type === 'direct' ? chat.members.find((m) => m.userId !== me)?.userId : undefined;
      // A block ends the pair's friendship, so the refusal reads as the one a
      // new direct chat with a non-friend gets: it does not name the block.
      if (other !== undefined && (await friends.relation(me, other, meta.requestId)).blocked) throw notFriends();
      const draft = {
        id: randomUUID(),
        chatId: canonicalId(input.chatId),
        senderId: me,
        clientMessageId: canonicalId(input.clientMessageId),
        text: input.text,
        createTime: now(),
        replyTo: parent && quoteOf(parent),
        entities: mentionsIn(input.text, chat),
        attachments: attachmentIds.length === 0 ? [] : await attachmentsToSend(store, me, chat, attachmentIds),
      };
      const result = await store.appendMessage(draft, (message, memberIds) =>
        messageCreated(message, memberIds, meta.requestId),
      );
      if (result.kind === 'not_member') throw chatNotFound();
      if (result.kind === 'attachment_gone') {
        const i = attachmentIds.findIndex((id) => canonicalId(id) === result.attachmentId);
        throw invalidField(`attachment_ids[${i}]`, 'is not a file you uploaded to this chat and have not sent');
      }
      return result.message;
    },

    async listMessages(meta: CallMeta, chatId: string, input: PageInput): Promise<Page<Message>> {
      const me = callerId(meta.actor);
      const limit = pageLimit(input.pageSize);
      const chat = await ctx.visibleChat(me, chatId);
      const before = input.pageToken === '' ? undefined : decodeMessagesToken(input.pageToken, chat.id);
      const found = await store.listMessages(chat.id, before, limit + 1);
      return pageOf(found, limit, (last) => encodeMessagesToken(chat.id, last.sequence));
    },

    /** A message's thread: its replies, oldest first. */
    async listReplies(meta: CallMeta, chatId: string, messageId: string, input: PageInput): Promise<Page<Message>> {
      const limit = pageLimit(input.pageSize);
      const { chat, message } = await ctx.visibleMessage(callerId(meta.actor), chatId, messageId);
      const after = input.pageToken === '' ? undefined : decodeRepliesToken(input.pageToken, chat.id, message.id);
      const found = await store.listReplies(chat.id, message.id, after, limit + 1);
      return pageOf(found, limit, (last) => encodeRepliesToken(chat.id, message.id, last.sequence));
    },

    async getMessage(meta: CallMeta, chatId: string, messageId: string): Promise<Message> {
      return (await ctx.visibleMessage(callerId(meta.actor), chatId, messageId)).message;
    },

    async editMessage(meta: CallMeta, chatId: string, messageId: string, text: string): Promise<Message> {
      const me = callerId(meta.actor);
      throwIfInvalid([violation('text', textProblem(text, limits.maxTextLength))]);
      return retryOnChatRace(async () => {
        const { chat, message } = await ctx.visibleMessage(me, chatId, messageId);
        if (message.senderId !== me) throw notSender();
        if (message.system) throw systemMessage();
        if (message.deleted) throw messageDeleted();
        if (message.text === text) return message;
        const time = now();
        const after: Message = {
          ...message,
          text,
          editTime: time,
          version: message.version + 1,
          entities: mentionsIn(text, chat),
        };
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
        return after;
      });
    },

    /** Leaves a tombstone naming who deleted; the sender, or a role that may delete others' messages. Deleting a tombstone returns it. */
    async deleteMessage(meta: CallMeta, chatId: string, messageId: string): Promise<Message> {
      const me = callerId(meta.actor);
      return retryOnChatRace(async () => {
        const { chat, message } = await ctx.visibleMessage(me, chatId, messageId);
        if (message.senderId !== me && !may(groupRoleOf(chat, me), 'delete_messages')) throw notSender();
        if (message.deleted) return message;
        const after = tombstoneOf(message, me);
        await store.updateMessage(after, [
          {
            kind: 'message_deleted',
            before: message,
            after,
            memberIds: memberIdsOf(chat),
            deletedBy: me,
            time: now(),
            requestId: meta.requestId,
          },
        ]);
        return after;
      });
    },

    /**
     * Messages of the chat, or of every chat the caller is a member of now,
     * whose text has words of the query: most distinct query words first,
     * then newest. Membership is read at each call, so a user who left a
     * chat no longer finds its messages.
     */
    async searchMessages(meta: CallMeta, input: SearchInput): Promise<Page<SearchResult>> {
      const me = callerId(meta.actor);
      throwIfInvalid([
        violation('query', queryProblem(input.query)),
        violation('chat_id', input.chatId === '' ? undefined : uuidProblem(input.chatId)),
      ]);
      const limit = pageLimit(input.pageSize);
      const terms = searchTermsOf(input.query);
      const chatIds = input.chatId === '' ? await chatIdsOf(me) : [(await ctx.visibleChat(me, input.chatId)).id];
      const scope = input.chatId === '' ? '' : canonicalId(input.chatId);
      const after = input.pageToken === '' ? undefined : decodeSearchToken(input.pageToken, scope, terms);
      const found = await store.searchMessages(chatIds, terms, after, limit + 1);
      const page = pageOf(found, limit, (last) =>
        encodeSearchToken(scope, terms, {
          matchedTerms: last.matchedTerms,
          createTime: last.message.createTime,
          messageId: last.message.id,
        }),
      );
      return {
        items: page.items.map((hit) => ({ ...hit, highlights: highlightsOf(hit.message.text, terms) })),
        nextPageToken: page.nextPageToken,
      };
    },

    /** The kept earlier texts of a message, newest first. */
    async listMessageVersions(
      meta: CallMeta,
      chatId: string,
      messageId: string,
      input: PageInput,
    ): Promise<Page<MessageVersion>> {
      const limit = pageLimit(input.pageSize);
      const { chat, message } = await ctx.visibleMessage(callerId(meta.actor), chatId, messageId);
      const before = input.pageToken === '' ? undefined : decodeVersionsToken(input.pageToken, chat.id, message.id);
      const found = await store.listMessageVersions(chat.id, message.id, before, limit + 1);
      return pageOf(found, limit, (last) => encodeVersionsToken(chat.id, message.id, last.version));
    },

    async markRead(
      meta: CallMeta,
      chatId: string,
      upToSequence: number,
    ): Promise<{ readSequence: number; unreadCount: number; unreadMentionCount: number }> {
      const me = callerId(meta.actor);
      throwIfInvalid([
        violation('chat_id', uuidProblem(chatId)),
        violation(
          'up_to_sequence',
          !Number.isInteger(upToSequence) || upToSequence < 1 ? 'must be 1 or more' : undefined,
        ),
      ]);
      const chat = await ctx.visibleChat(me, chatId);
      const before = (await store.readPositions(me, [chat.id])).get(chat.id) ?? 0;
      // Beyond the newest message is lowered to it, so a client cannot pre-mark messages not yet sent.
      const readSequence = await store.markRead(chat.id, me, Math.min(upToSequence, chat.lastSequence));
      if (readSequence > before) {
        ctx.readReceipts.moved(chat, {
          chatId: chat.id,
          userId: me,
          readSequence,
          time: ctx.now(),
          recipientIds: memberIdsOf(chat).filter((id) => id !== me),
        });
      }
      const [view] = await ctx.viewsOf(me, [chat], new Map([[chat.id, readSequence]]));
      return { readSequence, unreadCount: view?.unreadCount ?? 0, unreadMentionCount: view?.unreadMentionCount ?? 0 };
    },

    /** A direct chat's other member's read position, as the caller may see it (0 in a group). */
    async peerReadSequence(meta: CallMeta, chat: Chat): Promise<number> {
      const [position] = await ctx.peerReadsOf([chat], callerId(meta.actor));
      return position ?? 0;
    },
  };
}
