// Mentions: `@nickname` of a member and `@all` in a group, found once in a
// message's text when it is sent or edited and kept on the message as
// entities, so a later nickname change or departure never changes what an
// old message mentions.
import type { Chat, Message, MessageEntity } from './chat.ts';

/** The word after `@` that means every member, in a group only. */
const ALL = 'all';
/** The nickname alphabet (the user service's): a mention is a run of these after `@`. */
const NICKNAME_CHAR = /[A-Za-z0-9_.]/;

/**
 * The mentions in `text` of the chat's current members. An `@` counts only
 * at the start of the text or after a character that cannot be part of a
 * nickname or address (so `a@b.c` is no mention). The longest member
 * nickname (case-insensitive) the run of nickname characters after it starts
 * with wins, provided only dots follow it in the run: `@ann.` mentions ann,
 * `@anna` mentions anna rather than ann, `@annabel` mentions nobody unless a
 * member is annabel. Every occurrence is an entity; unknown names are plain
 * text.
 */
export function mentionsIn(text: string, chat: Chat): MessageEntity[] {
  if (!text.includes('@')) return [];
  const byNickname = new Map<string, string>();
  for (const m of chat.members) if (m.nickname !== '') byNickname.set(m.nickname.toLowerCase(), m.userId);
  const chars = [...text];
  const entities: MessageEntity[] = [];
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] !== '@') continue;
    const before = chars[i - 1];
    if (before !== undefined && (before === '@' || NICKNAME_CHAR.test(before))) continue;
    let end = i + 1;
    while (end < chars.length && NICKNAME_CHAR.test(chars[end] as string)) end++;
    const run = chars.slice(i + 1, end).join('');
    const found = longestMention(run, chat.type === 'group', byNickname);
    if (!found) continue;
    entities.push({ kind: found.kind, offset: i, length: found.length + 1, userId: found.userId });
    i += found.length;
  }
  return entities;
}

function longestMention(run: string, isGroup: boolean, byNickname: ReadonlyMap<string, string>) {
  const lower = run.toLowerCase();
  for (let length = lower.length; length > 0; length--) {
    if (!/^\.*$/.test(lower.slice(length))) continue;
    const name = lower.slice(0, length);
    if (isGroup && name === ALL) return { kind: 'mention_all' as const, length, userId: '' };
    const userId = byNickname.get(name);
    if (userId !== undefined) return { kind: 'mention' as const, length, userId };
  }
  return undefined;
}

/** Whether the message mentions the user: by name, or with `@all`. */
export function mentions(message: Pick<Message, 'entities'>, userId: string): boolean {
  return message.entities.some((e) => e.kind === 'mention_all' || e.userId === userId);
}

/** The members a message mentions, each once, in first-mention order; never its sender. */
export function mentionedUserIds(
  message: Pick<Message, 'entities' | 'senderId'>,
  memberIds: readonly string[],
): string[] {
  const ids = new Set<string>();
  for (const e of message.entities) {
    if (e.kind === 'mention_all') for (const id of memberIds) ids.add(id);
    else ids.add(e.userId);
  }
  ids.delete(message.senderId);
  return [...ids];
}

/** What `mentionKeysOf` gives for `@all`: no user id looks like it. */
export const MENTION_ALL_KEY = '*';

/**
 * Who a message's text mentions, as stores index it for counting unread
 * mentions: `MENTION_ALL_KEY` alone when it has `@all` (it covers every
 * name), else each mentioned user id once. So a message matches a user's
 * id or the key at most once.
 */
export function mentionKeysOf(message: Pick<Message, 'entities'>): string[] {
  if (message.entities.some((e) => e.kind === 'mention_all')) return [MENTION_ALL_KEY];
  return [...new Set(message.entities.map((e) => e.userId))];
}
