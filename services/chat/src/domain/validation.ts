// Checks of request values. Each `…Problem` function returns why a value is
// invalid, or undefined when it is valid, for the platform's `violation`.
import { canonicalId, type FieldViolation, throwIfInvalid, violation } from '@messenger/platform/domain';
import { CHAT_FIELDS } from './chat.ts';

export const TITLE_MAX = 128;
export const DESCRIPTION_MAX = 500;
export const AVATAR_URL_MAX = 2048;
/** AddChatMembers takes at most this many ids per call. */
export const MAX_ADD_PER_CALL = 100;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function uuidProblem(id: string): string | undefined {
  if (id === '') return 'is required';
  return UUID.test(id) ? undefined : 'must be a UUID';
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

export function descriptionProblem(description: string): string | undefined {
  return [...description].length > DESCRIPTION_MAX ? `must be at most ${DESCRIPTION_MAX} characters` : undefined;
}

/** Empty (no picture) or an absolute https URL: a group picture is fetched by every member's client. */
export function avatarUrlProblem(url: string): string | undefined {
  if (url === '') return undefined;
  if (url.length > AVATAR_URL_MAX) return `must be at most ${AVATAR_URL_MAX} characters`;
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  return parsed?.protocol === 'https:' && parsed.hostname !== '' ? undefined : 'must be an absolute https:// URL';
}

/** Between `min` and `max` ids, or the problem, worded for `what` ("users", "other users for a group"). */
export function countProblem(ids: readonly string[], min: number, max: number, what: string): string | undefined {
  return ids.length < min || ids.length > max ? `must name ${min}-${max} ${what}` : undefined;
}

/** Valid, canonical and de-duplicated, in first-seen order. */
export function uniqueIds(ids: readonly string[], field: string): string[] {
  throwIfInvalid(ids.map((id, i) => violation(`${field}[${i}]`, uuidProblem(id))));
  return [...new Set(ids.map(canonicalId))];
}

/** The other members named: the caller's own id counts as given already. */
export function otherMemberIds(me: string, ids: readonly string[], field: string): string[] {
  return uniqueIds(ids, field).filter((id) => id !== me);
}

/** A group profile change: the mask names known fields, and each named value keeps its field's rules. */
export function profileUpdateViolations(
  paths: readonly string[],
  values: { readonly title: string; readonly description: string; readonly avatarUrl: string } | undefined,
): (FieldViolation | undefined)[] {
  if (paths.length === 0) return [violation('update_mask', `must name at least one of ${CHAT_FIELDS.join(', ')}`)];
  const unknown = paths.filter((p) => !(CHAT_FIELDS as readonly string[]).includes(p));
  if (unknown.length > 0) {
    return [
      violation('update_mask', `names unknown fields (${unknown.join(', ')}); allowed: ${CHAT_FIELDS.join(', ')}`),
    ];
  }
  if (!values) return [violation('chat', 'is required')];
  return [
    paths.includes('title') ? violation('chat.title', titleProblem(values.title)) : undefined,
    paths.includes('description') ? violation('chat.description', descriptionProblem(values.description)) : undefined,
    paths.includes('avatar_url') ? violation('chat.avatar_url', avatarUrlProblem(values.avatarUrl)) : undefined,
  ];
}

/** The most code points a reaction's emoji may have: room for joined sequences such as a family with skin tones. */
export const EMOJI_MAX_LENGTH = 16;
/**
 * Every code point an emoji may be built of: pictographs, skin-tone
 * modifiers, regional-indicator (flag) letters, the zero-width joiner,
 * variation selector 16, the keycap mark, tag characters (subdivision
 * flags), and a digit, `#` or `*` only where a keycap follows.
 */
const EMOJI =
  /^(?:\p{Extended_Pictographic}|\p{Emoji_Modifier}|\p{Regional_Indicator}|[\u200D\uFE0F\u20E3\u{E0020}-\u{E007F}]|[0-9#*](?=\uFE0F?\u20E3))+$/u;
/** What makes it more than joiners and selectors: a pictograph, a flag letter or a keycap. */
const EMOJI_BASE = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20E3/u;

export function emojiProblem(emoji: string): string | undefined {
  if (emoji === '') return 'is required';
  if ([...emoji].length > EMOJI_MAX_LENGTH) return `must be at most ${EMOJI_MAX_LENGTH} characters`;
  return EMOJI.test(emoji) && EMOJI_BASE.test(emoji) ? undefined : 'must be an emoji';
}
