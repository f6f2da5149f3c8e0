// Pinned messages: pinning, unpinning, and a chat's pinned list.
import { callerId, canonicalId, throwIfInvalid, violation } from '@messenger/platform/domain';
import { MAX_PINS, type Message, mayPin, memberIdsOf, memberOf } from './chat.ts';
import { messageNotFound, pinLimit, pinNotAllowed, pinOnDeleted } from './chat-errors.ts';
import { decodePinsToken, encodePinsToken, type Page, type PageInput, pageLimit, pageOf } from './page-tokens.ts';
import type { CallMeta, UseCaseContext } from './use-case-context.ts';
import { uuidProblem } from './validation.ts';

export function pinUseCases(ctx: UseCaseContext) {
  const { store, now } = ctx;

  const setPin = async (meta: CallMeta, chatId: string, messageId: string, pin: boolean): Promise<Message> => {
    const me = callerId(meta.actor);
    throwIfInvalid([violation('chat_id', uuidProblem(chatId)), violation('message_id', uuidProblem(messageId))]);
    const chat = await ctx.visibleChat(me, chatId);
    const member = memberOf(chat, me);
    if (!member || !mayPin(chat, member)) throw pinNotAllowed();
    const time = now();
    const result = await store.setPin(
      { chatId: chat.id, messageId: canonicalId(messageId), userId: me, pin, time },
      MAX_PINS,
      (message) => ({
        kind: 'pin_changed',
        message,
        userId: me,
        pinned: pin,
        memberIds: memberIdsOf(chat),
        time,
        requestId: meta.requestId,
      }),
    );
    switch (result.kind) {
      case 'not_found':
        throw messageNotFound();
      case 'deleted':
        throw pinOnDeleted();
      case 'limit':
        throw pinLimit(MAX_PINS);
      default:
        return result.message;
    }
  };

  return {
    /** Pins a message; pinning a pinned one returns it as it is. */
    pinMessage: (meta: CallMeta, chatId: string, messageId: string) => setPin(meta, chatId, messageId, true),
    /** Unpins a message; unpinning one not pinned returns it as it is. */
    unpinMessage: (meta: CallMeta, chatId: string, messageId: string) => setPin(meta, chatId, messageId, false),

    /** The chat's pinned messages, most recently pinned first. */
    async listPinnedMessages(meta: CallMeta, chatId: string, input: PageInput): Promise<Page<Message>> {
      const limit = pageLimit(input.pageSize);
      const chat = await ctx.visibleChat(callerId(meta.actor), chatId);
      const after = input.pageToken === '' ? undefined : decodePinsToken(input.pageToken, chat.id);
      const found = await store.listPins(chat.id, after, limit + 1);
      return pageOf(found, limit, (last) =>
        encodePinsToken(chat.id, { pinTime: last.pin?.time ?? new Date(0), messageId: last.id }),
      );
    },
  };
}
