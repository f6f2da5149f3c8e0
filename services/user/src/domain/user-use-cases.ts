import {
  canonicalId,
  DomainError,
  type FieldViolation,
  retryOnRace,
  throwIfInvalid,
  violation,
} from '@messenger/platform/domain';
import {
  type Actor,
  aboutProblem,
  avatarUrlProblem,
  nicknameProblem,
  normalizeNickname,
  searchQueryProblem,
  USER_FIELDS,
  type UserField,
  type UserProfile,
  uploadedAvatarPath,
  uploadedAvatarProblem,
  userIdProblem,
} from './user.ts';
import { nicknameTaken, notProfileOwner, PROFILE_RACE_SUBJECT, userExists, userNotFound } from './user-errors.ts';
import { isStoreError, type NicknameKey, type UserStorage } from './user-storage.ts';

export interface UserUseCaseDeps {
  readonly store: UserStorage;
  readonly now?: () => Date;
}

/** Who calls, and the request id the events carry. */
export interface CallMeta {
  readonly actor: Actor;
  readonly requestId: string;
}

export interface ProfileValues {
  readonly nickname: string;
  readonly about: string;
  readonly avatarUrl: string;
}

export interface UpdateUserInput {
  readonly userId: string;
  /** Proto field names from `update_mask`. */
  readonly paths: readonly string[];
  /** Undefined when the request carried no `user`. */
  readonly values: ProfileValues | undefined;
}

export interface SearchUsersInput {
  readonly query: string;
  readonly pageSize: number;
  readonly pageToken: string;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Empty on the last page. */
  readonly nextPageToken: string;
}

export const MAX_BATCH = 100;
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 100;

export type UserUseCases = ReturnType<typeof createUserUseCases>;

export function createUserUseCases(deps: UserUseCaseDeps) {
  const { store } = deps;
  const now = deps.now ?? (() => new Date());

  const getExisting = async (id: string): Promise<UserProfile> => {
    const user = await store.get(id);
    if (!user) throw userNotFound();
    return user;
  };

  /**
   * Writes the fields of `values` that differ from the stored profile, read
   * afresh on each attempt; `check` sees that profile first and may refuse.
   */
  const change = (
    meta: CallMeta,
    id: string,
    values: Partial<Record<UserField, string>>,
    check: (before: UserProfile) => void = () => {},
  ): Promise<UserProfile> =>
    retryOnConflict(async () => {
      const before = await getExisting(id);
      check(before);
      const wanted: Record<UserField, string> = {
        nickname: values.nickname ?? before.nickname,
        about: values.about ?? before.about,
        avatar_url: values.avatar_url ?? before.avatarUrl,
      };
      const current: Record<UserField, string> = {
        nickname: before.nickname,
        about: before.about,
        avatar_url: before.avatarUrl,
      };
      const changed = USER_FIELDS.filter((f) => wanted[f] !== current[f]);
      // Nothing to change: no write, no event, update_time kept.
      if (changed.length === 0) return before;
      const after: UserProfile = {
        ...before,
        nickname: wanted.nickname,
        about: wanted.about,
        avatarUrl: wanted.avatar_url,
        updateTime: now(),
        version: before.version + 1,
      };
      try {
        await store.update(after, [{ kind: 'updated', before, after, changed, requestId: meta.requestId }]);
      } catch (error) {
        throw isStoreError(error, 'duplicate') ? nicknameTaken() : error;
      }
      return after;
    });

  return {
    async createUser(meta: CallMeta, input: { userId: string; nickname: string }): Promise<UserProfile> {
      throwIfInvalid([
        violation('user_id', userIdProblem(input.userId)),
        violation('nickname', nicknameProblem(input.nickname)),
      ]);
      const time = now();
      const user: UserProfile = {
        id: canonicalId(input.userId),
        nickname: input.nickname,
        about: '',
        avatarUrl: '',
        createTime: time,
        updateTime: time,
        version: 1,
      };
      try {
        await store.insert(user, [{ kind: 'created', user, requestId: meta.requestId }]);
      } catch (error) {
        if (!isStoreError(error, 'duplicate')) throw error;
        const existing = await store.get(user.id);
        // Auth retrying a registration: the same id and nickname get the profile back unchanged.
        if (existing?.nickname === user.nickname) return existing;
        throw existing ? userExists() : nicknameTaken();
      }
      return user;
    },

    async getUser(_meta: CallMeta, userId: string): Promise<UserProfile> {
      throwIfInvalid([violation('user_id', userIdProblem(userId))]);
      return getExisting(canonicalId(userId));
    },

    async batchGetUsers(
      _meta: CallMeta,
      userIds: readonly string[],
    ): Promise<{ users: UserProfile[]; missingUserIds: string[] }> {
      if (userIds.length === 0 || userIds.length > MAX_BATCH) {
        throw DomainError.invalid([{ field: 'user_ids', description: `must hold 1-${MAX_BATCH} ids` }]);
      }
      throwIfInvalid(userIds.map((id, i) => violation(`user_ids[${i}]`, userIdProblem(id))));
      const ids = [...new Set(userIds.map(canonicalId))];
      const found = new Map((await store.getMany(ids)).map((u) => [u.id, u]));
      return {
        users: ids.flatMap((id) => found.get(id) ?? []),
        missingUserIds: ids.filter((id) => !found.has(id)),
      };
    },

    async updateUser(meta: CallMeta, input: UpdateUserInput): Promise<UserProfile> {
      const id = canonicalId(input.userId);
      assertMayChange(meta.actor, id);
      throwIfInvalid([violation('user_id', userIdProblem(input.userId)), ...updateViolations(input)]);
      const fields = new Set(input.paths as UserField[]);
      const values = input.values as ProfileValues;
      const named = (field: UserField, value: string) => (fields.has(field) ? { [field]: value } : {});
      return change(
        meta,
        id,
        {
          ...named('nickname', values.nickname),
          ...named('about', values.about),
          ...named('avatar_url', values.avatarUrl),
        },
        (before) => {
          if (!fields.has('avatar_url')) return;
          throwIfInvalid([violation('user.avatar_url', uploadedAvatarProblem(values.avatarUrl, before.avatarUrl))]);
        },
      );
    },

    /** The upload route's: the avatar the gateway stored for this user becomes their profile's. */
    async setUploadedAvatar(meta: CallMeta, input: { userId: string; avatarId: string }): Promise<UserProfile> {
      throwIfInvalid([
        violation('user_id', userIdProblem(input.userId)),
        // Avatar ids are UUIDs too.
        violation('avatar_id', userIdProblem(input.avatarId)),
      ]);
      return change(meta, canonicalId(input.userId), { avatar_url: uploadedAvatarPath(input.avatarId) });
    },

    async deleteUser(meta: CallMeta, userId: string): Promise<void> {
      const id = canonicalId(userId);
      assertMayChange(meta.actor, id);
      throwIfInvalid([violation('user_id', userIdProblem(userId))]);
      await retryOnConflict(async () => {
        const before = await getExisting(id);
        await store.delete(id, before.version, [{ kind: 'deleted', before, requestId: meta.requestId }]);
      });
    },

    async searchUsers(_meta: CallMeta, input: SearchUsersInput): Promise<Page<UserProfile>> {
      throwIfInvalid([
        violation('query', searchQueryProblem(input.query)),
        violation('page_size', input.pageSize < 0 ? 'must not be negative' : undefined),
      ]);
      const prefix = normalizeNickname(input.query);
      const limit = input.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(input.pageSize, MAX_PAGE_SIZE);
      const after = input.pageToken === '' ? undefined : decodeSearchToken(input.pageToken, prefix);
      // One more than asked tells whether another page follows.
      const found = await store.searchByNickname(prefix, after, limit + 1);
      const items = found.slice(0, limit);
      const last = items.at(-1);
      return {
        items,
        nextPageToken:
          found.length > limit && last
            ? encodeSearchToken(prefix, { nicknameLower: normalizeNickname(last.nickname), id: last.id })
            : '',
      };
    },
  };
}

/** Only the owner or an admin changes a profile; a service credential alone does not make one either. */
function assertMayChange(actor: Actor, userId: string): void {
  if (actor.kind === 'user' && (actor.admin || canonicalId(actor.userId) === userId)) return;
  throw notProfileOwner();
}

function updateViolations(input: UpdateUserInput): (FieldViolation | undefined)[] {
  if (input.paths.length === 0) {
    return [violation('update_mask', `must name at least one of ${USER_FIELDS.join(', ')}`)];
  }
  const unknown = input.paths.filter((p) => !(USER_FIELDS as readonly string[]).includes(p));
  if (unknown.length > 0) {
    return [
      violation('update_mask', `names unknown fields (${unknown.join(', ')}); allowed: ${USER_FIELDS.join(', ')}`),
    ];
  }
  const values = input.values;
  if (!values) return [violation('user', 'is required')];
  return [
    input.paths.includes('nickname')
      ? violation('user.nickname', values.nickname === '' ? 'cannot be cleared' : nicknameProblem(values.nickname))
      : undefined,
    input.paths.includes('about') ? violation('user.about', aboutProblem(values.about)) : undefined,
    input.paths.includes('avatar_url') ? violation('user.avatar_url', avatarUrlProblem(values.avatarUrl)) : undefined,
  ];
}

/** Each attempt reads the profile afresh; a write from a stale read conflicts and is tried again. */
function retryOnConflict<T>(attempt: () => Promise<T>): Promise<T> {
  return retryOnRace(attempt, { on: ['conflict'], subject: PROFILE_RACE_SUBJECT });
}

// The page token is opaque to callers; inside it names the search it belongs
// to, so a token from another query is refused instead of giving a wrong page.
function encodeSearchToken(prefix: string, after: NicknameKey): string {
  return Buffer.from(JSON.stringify([prefix, after.nicknameLower, after.id])).toString('base64url');
}

function decodeSearchToken(token: string, prefix: string): NicknameKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    Array.isArray(parsed) &&
    parsed.length === 3 &&
    parsed.every((p) => typeof p === 'string') &&
    parsed[0] === prefix &&
    (parsed[1] as string).startsWith(prefix)
  ) {
    return { nicknameLower: parsed[1] as string, id: parsed[2] as string };
  }
  throw DomainError.invalid([{ field: 'page_token', description: 'is not a page token of this search' }]);
}
