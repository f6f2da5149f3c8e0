// Checks of request values. Each `…Problem` function returns why a value is
// invalid, or undefined when it is valid, for the platform's `violation`.
import { canonicalId, throwIfInvalid, violation } from '@messenger/platform/domain';

export const TITLE_MAX = 128;
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
