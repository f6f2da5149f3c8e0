// Members' emoji reactions on messages: adding and removing one, and which
// of a page of messages' reactions are the caller's.
import { callerId, canonicalId, throwIfInvalid, violation } from '@messenger/platform/domain';
import { MAX_REACTION_EMOJI, type Message, memberIdsOf } from './chat.ts';
import { messageNotFound, reactionLimit, reactionOnDeleted } from './chat-errors.ts';
import type { CallMeta, UseCaseContext } from './use-case-context.ts';
import { emojiProblem, uuidProblem } from './validation.ts';

/** A message as one member reads it: with the emoji they reacted with themselves. */
export interface ReadMessage {
  readonly message: Message;
  readonly myReactions: ReadonlySet<string>;
}

const NONE: ReadonlySet<string> = new Set();

export function messageReactionUseCases(ctx: UseCaseContext) {
  const { store, now } = ctx;

  /** The caller's reactions on the messages: one read for the ones that have reactions, none otherwise. */
  const readAs = async (me: string, messages: readonly Message[]): Promise<ReadMessage[]> => {
    const reacted = messages.filter((m) => m.reactions.length > 0).map((m) => m.id);
    const mine = reacted.length === 0 ? new Map<string, string[]>() : await store.reactionsBy(me, reacted);
    return messages.map((message) => {
      const emoji = mine.get(message.id);
      return { message, myReactions: emoji ? new Set(emoji) : NONE };
    });
  };

  /** Adds (`add`) or removes the caller's reaction with `emoji`; either is a no-op when already so. */
  const setReaction = async (
    meta: CallMeta,
    chatId: string,
    messageId: string,
    emoji: string,
    add: boolean,
  ): Promise<ReadMessage> => {
    const me = callerId(meta.actor);
    throwIfInvalid([
      violation('chat_id', uuidProblem(chatId)),
      violation('message_id', uuidProblem(messageId)),
      violation('emoji', emojiProblem(emoji)),
    ]);
    const chat = await ctx.visibleChat(me, chatId);
    const result = await store.setReaction(
      { chatId: chat.id, messageId: canonicalId(messageId), userId: me, emoji, add },
      MAX_REACTION_EMOJI,
      (message) => ({
        kind: 'reaction_changed',
        message,
        userId: me,
        emoji,
        added: add,
        memberIds: memberIdsOf(chat),
        time: now(),
        requestId: meta.requestId,
      }),
    );
    switch (result.kind) {
      case 'not_found':
        throw messageNotFound();
      case 'deleted':
        throw reactionOnDeleted();
      case 'limit':
        throw reactionLimit(MAX_REACTION_EMOJI);
      default: {
        const [read] = await readAs(me, [result.message]);
        return read as ReadMessage;
      }
    }
  };

  return {
    /** The messages as the caller reads them; every message read goes through here. */
    readMessagesAs(meta: CallMeta, messages: readonly Message[]): Promise<ReadMessage[]> {
      return readAs(callerId(meta.actor), messages);
    },
    addReaction: (meta: CallMeta, chatId: string, messageId: string, emoji: string) =>
      setReaction(meta, chatId, messageId, emoji, true),
    removeReaction: (meta: CallMeta, chatId: string, messageId: string, emoji: string) =>
      setReaction(meta, chatId, messageId, emoji, false),
  };
}
