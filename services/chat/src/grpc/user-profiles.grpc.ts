import { type BatchGetUsersResponse, UserServiceClient } from '@messenger/gen/messenger/user/v1/user';
import {
  type ClientPool,
  DomainError,
  ErrorKind,
  outgoingMetadata,
  type ServiceTokenSource,
} from '@messenger/platform';
import type { Profile } from '../domain/chat.ts';
import type { UserProfiles } from '../domain/directories.ts';

export interface GrpcUserProfilesOptions {
  readonly pool: ClientPool;
  /** host:port of the user service. */
  readonly address: string;
  /** This service's own credential: BatchGetUsers is internal. */
  readonly tokens: ServiceTokenSource;
}

/** BatchGetUsers takes at most this many ids per call. */
const BATCH = 100;

/** Asks the user service's BatchGetUsers, which reports unknown and deleted ids as missing rather than failing. */
export function grpcUserProfiles(opts: GrpcUserProfilesOptions): UserProfiles {
  const batchGet = async (userIds: string[], requestId: string): Promise<BatchGetUsersResponse> => {
    try {
      const metadata = outgoingMetadata(requestId, await opts.tokens.token());
      const client = opts.pool.get(UserServiceClient, opts.address);
      return await new Promise((resolve, reject) => {
        client.batchGetUsers({ userIds }, metadata, (error, res) => (error ? reject(error) : resolve(res)));
      });
    } catch (cause) {
      // Whatever went wrong upstream (even its UNAUTHENTICATED for our
      // credential) is not the caller's fault: they may retry later.
      const error = new DomainError(
        ErrorKind.Unavailable,
        'USER_SERVICE_UNAVAILABLE',
        'users cannot be looked up right now; try again shortly',
      );
      error.cause = cause;
      throw error;
    }
  };
  return {
    async getProfiles(userIds, requestId) {
      const ids = [...new Set(userIds)];
      const batches: string[][] = [];
      for (let i = 0; i < ids.length; i += BATCH) batches.push(ids.slice(i, i + BATCH));
      const responses = await Promise.all(batches.map((batch) => batchGet(batch, requestId)));
      const profiles = new Map<string, Profile>();
      for (const user of responses.flatMap((r) => r.users)) {
        const userId = user.userId.toLowerCase();
        profiles.set(userId, {
          userId,
          nickname: user.nickname,
          avatarUrl: user.avatarUrl,
          updateTime: user.updateTime,
        });
      }
      return profiles;
    },
  };
}
