// The user profile and its rules. Plain TypeScript: no transport, driver or
// generated code, so every rule is testable on its own.
import { canonicalId, type ServiceActor, type UserActor } from '@messenger/platform/domain';

export interface UserProfile {
  readonly id: string;
  /** As typed; uniqueness is on `normalizeNickname(nickname)`. */
  readonly nickname: string;
  readonly about: string;
  readonly avatarUrl: string;
  readonly createTime: Date;
  readonly updateTime: Date;
  /** Optimistic-concurrency token: 1 when created, +1 on every change. */
  readonly version: number;
}

/** The profile fields a caller may change, by their proto names (as in `update_mask`). */
export type UserField = 'nickname' | 'about' | 'avatar_url';
export const USER_FIELDS: readonly UserField[] = ['nickname', 'about', 'avatar_url'];

/** What a state change publishes; the store writes it in the same atomic step as the change. */
export type UserEvent =
  | { readonly kind: 'created'; readonly user: UserProfile; readonly requestId: string }
  | {
      readonly kind: 'updated';
      readonly before: UserProfile;
      readonly after: UserProfile;
      readonly changed: readonly UserField[];
      readonly requestId: string;
    }
  | { readonly kind: 'deleted'; readonly before: UserProfile; readonly requestId: string };

/** Who acts, as far as the rules care: the platform's actor, with whether a user is an admin. */
export type Actor = (UserActor & { readonly admin: boolean }) | ServiceActor;

export const NICKNAME_MIN = 3;
export const NICKNAME_MAX = 32;
export const ABOUT_MAX = 500;
export const AVATAR_URL_MAX = 2048;

const NICKNAME = /^[A-Za-z0-9_.]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The key nicknames are unique and searched by: `Alice` and `alice` are the same nickname. */
export function normalizeNickname(nickname: string): string {
  return nickname.toLowerCase();
}

/** Each `…Problem` function returns why a value is invalid, or undefined when it is valid. */
export function userIdProblem(id: string): string | undefined {
  if (id === '') return 'is required';
  return UUID.test(id) ? undefined : 'must be a UUID';
}

export function nicknameProblem(nickname: string): string | undefined {
  if (nickname === '') return 'is required';
  if (nickname.length < NICKNAME_MIN || nickname.length > NICKNAME_MAX || !NICKNAME.test(nickname)) {
    return `must be ${NICKNAME_MIN}-${NICKNAME_MAX} characters of letters a-z, digits 0-9, "_" and "."`;
  }
  return undefined;
}

export function aboutProblem(about: string): string | undefined {
  // Code points, not UTF-16 units, so an emoji counts as one character.
  return [...about].length > ABOUT_MAX ? `must be at most ${ABOUT_MAX} characters` : undefined;
}

/** An avatar uploaded to this messenger: served by its gateway, so named by path on the same origin. */
const UPLOADED_AVATAR_PREFIX = '/v1/media/avatars/';

export function uploadedAvatarPath(avatarId: string): string {
  return `${UPLOADED_AVATAR_PREFIX}${canonicalId(avatarId)}`;
}

export function isUploadedAvatar(url: string): boolean {
  return url.startsWith(UPLOADED_AVATAR_PREFIX);
}

export function avatarUrlProblem(url: string): string | undefined {
  if (url === '') return undefined;
  if (url.length > AVATAR_URL_MAX) return `must be at most ${AVATAR_URL_MAX} characters`;
  if (isUploadedAvatar(url)) return undefined;
  const parsed = URL.parse(url);
  if (parsed === null || parsed.protocol !== 'https:' || parsed.hostname === '') {
    return 'must be an absolute https:// URL or the path of an uploaded avatar';
  }
  return undefined;
}

/**
 * `current` is the profile's avatar: an uploaded one may be kept, never
 * named anew, since only the upload route sets one (for the profile it was
 * uploaded for, which is what lets the gateway delete it once replaced).
 */
export function uploadedAvatarProblem(url: string, current: string): string | undefined {
  if (!isUploadedAvatar(url) || url === current) return undefined;
  return 'names an uploaded avatar other than the current one; upload it with PUT /v1/users/me/avatar';
}

/** A nickname search prefix: 1-32 characters of the nickname alphabet. */
export function searchQueryProblem(query: string): string | undefined {
  if (query === '') return 'is required';
  if (query.length > NICKNAME_MAX || !NICKNAME.test(query)) {
    return `must be 1-${NICKNAME_MAX} characters of letters a-z, digits 0-9, "_" and "."`;
  }
  return undefined;
}
