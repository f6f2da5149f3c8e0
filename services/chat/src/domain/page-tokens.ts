// Pages of a list and the tokens that continue them. Tokens are opaque to
// callers; inside they name their list (and chat), so a token from another
// list is refused instead of giving a wrong page.
import { throwIfInvalid, violation } from '@messenger/platform/domain';
import { invalidField } from './chat-errors.ts';
import type { ActivityCursor, ChatInviteCursor, InvitationCursor, PinCursor } from './chat-storage.ts';
import type { SearchCursor } from './search.ts';
import { uuidProblem } from './validation.ts';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 100;

export interface PageInput {
  readonly pageSize: number;
  readonly pageToken: string;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Empty on the last page. */
  readonly nextPageToken: string;
}

/** How many items a page holds: 0 asks for the default, more than the maximum gets the maximum. */
export function pageLimit(pageSize: number): number {
  throwIfInvalid([violation('page_size', pageSize < 0 ? 'must not be negative' : undefined)]);
  return pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(pageSize, MAX_PAGE_SIZE);
}

/**
 * A page from a read of `limit + 1` items: the one more than asked tells that
 * another page follows, whose token `tokenAfter` makes from the page's last item.
 */
export function pageOf<T>(found: readonly T[], limit: number, tokenAfter: (last: T) => string): Page<T> {
  const items = found.slice(0, limit);
  const last = items.at(-1);
  return { items, nextPageToken: found.length > limit && last !== undefined ? tokenAfter(last) : '' };
}

export function encodeChatsToken(cursor: ActivityCursor): string {
  return encodeToken(['chats', cursor.lastActivityTime.getTime(), cursor.chatId]);
}

export function decodeChatsToken(token: string): ActivityCursor {
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
  throw invalidField('page_token', 'is not a page token of this list');
}

export function encodeInvitationsToken(cursor: InvitationCursor): string {
  return encodeToken(['invitations', cursor.createTime.getTime(), cursor.chatId]);
}

export function decodeInvitationsToken(token: string): InvitationCursor {
  const parsed = decodeToken(token);
  if (
    parsed?.length === 3 &&
    parsed[0] === 'invitations' &&
    Number.isSafeInteger(parsed[1]) &&
    typeof parsed[2] === 'string' &&
    uuidProblem(parsed[2]) === undefined
  ) {
    return { createTime: new Date(parsed[1] as number), chatId: parsed[2] };
  }
  throw invalidField('page_token', 'is not a page token of this list');
}

export function encodeMessagesToken(chatId: string, beforeSequence: number): string {
  return encodeToken(['messages', chatId, beforeSequence]);
}

export function decodeMessagesToken(token: string, chatId: string): number {
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
  throw invalidField('page_token', 'is not a page token of this chat');
}

export function encodeRepliesToken(chatId: string, parentId: string, afterSequence: number): string {
  return encodeToken(['replies', chatId, parentId, afterSequence]);
}

export function decodeRepliesToken(token: string, chatId: string, parentId: string): number {
  const parsed = decodeToken(token);
  if (
    parsed?.length === 4 &&
    parsed[0] === 'replies' &&
    parsed[1] === chatId &&
    parsed[2] === parentId &&
    Number.isSafeInteger(parsed[3]) &&
    (parsed[3] as number) > 0
  ) {
    return parsed[3] as number;
  }
  throw invalidField('page_token', 'is not a page token of this thread');
}

/** A search's token names its scope (a chat id, or '' for all the caller's chats) and its terms. */
export function encodeSearchToken(scope: string, terms: readonly string[], cursor: SearchCursor): string {
  return encodeToken(['search', scope, terms, cursor.matchedTerms, cursor.createTime.getTime(), cursor.messageId]);
}

export function decodeSearchToken(token: string, scope: string, terms: readonly string[]): SearchCursor {
  const parsed = decodeToken(token);
  if (
    parsed?.length === 6 &&
    parsed[0] === 'search' &&
    parsed[1] === scope &&
    JSON.stringify(parsed[2]) === JSON.stringify(terms) &&
    Number.isSafeInteger(parsed[3]) &&
    (parsed[3] as number) > 0 &&
    Number.isSafeInteger(parsed[4]) &&
    typeof parsed[5] === 'string' &&
    uuidProblem(parsed[5]) === undefined
  ) {
    return { matchedTerms: parsed[3] as number, createTime: new Date(parsed[4] as number), messageId: parsed[5] };
  }
  throw invalidField('page_token', 'is not a page token of this search');
}

export function encodeVersionsToken(chatId: string, messageId: string, beforeVersion: number): string {
  return encodeToken(['versions', chatId, messageId, beforeVersion]);
}

export function decodeVersionsToken(token: string, chatId: string, messageId: string): number {
  const parsed = decodeToken(token);
  if (
    parsed?.length === 4 &&
    parsed[0] === 'versions' &&
    parsed[1] === chatId &&
    parsed[2] === messageId &&
    Number.isSafeInteger(parsed[3]) &&
    (parsed[3] as number) > 0
  ) {
    return parsed[3] as number;
  }
  throw invalidField('page_token', 'is not a page token of this message');
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

export function encodePinsToken(chatId: string, cursor: PinCursor): string {
  return encodeTimeIdToken('pins', chatId, cursor.pinTime, cursor.messageId);
}

export function decodePinsToken(token: string, chatId: string): PinCursor {
  const { time, id } = decodeTimeIdToken(token, 'pins', chatId);
  return { pinTime: time, messageId: id };
}

export function encodeInvitesToken(chatId: string, cursor: ChatInviteCursor): string {
  return encodeTimeIdToken('invites', chatId, cursor.createTime, cursor.inviteId);
}

export function decodeInvitesToken(token: string, chatId: string): ChatInviteCursor {
  const { time, id } = decodeTimeIdToken(token, 'invites', chatId);
  return { createTime: time, inviteId: id };
}

/** A position in one chat's list ordered by a time, then an id (UUID). */
function encodeTimeIdToken(list: string, chatId: string, time: Date, id: string): string {
  return encodeToken([list, chatId, time.getTime(), id]);
}

function decodeTimeIdToken(token: string, list: string, chatId: string): { time: Date; id: string } {
  const parsed = decodeToken(token);
  if (
    parsed?.length === 4 &&
    parsed[0] === list &&
    parsed[1] === chatId &&
    Number.isSafeInteger(parsed[2]) &&
    typeof parsed[3] === 'string' &&
    uuidProblem(parsed[3]) === undefined
  ) {
    return { time: new Date(parsed[2] as number), id: parsed[3] };
  }
  throw invalidField('page_token', 'is not a page token of this chat');
}
