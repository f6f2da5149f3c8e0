import { type BatchGetUsersResponse, UserServiceClient } from '@messenger/gen/messenger/user/v1/user';
import { createOutboundCaller, type OutboundCallerOptions } from '@messenger/platform/grpc';
import type { Profile } from '../domain/chat.ts';
import { userServiceUnavailable } from '../domain/chat-errors.ts';
import type { UserProfiles } from '../domain/directories.ts';

/** The user service's address, and this service's own credential: BatchGetUsers is internal. */
export type GrpcUserProfilesOptions = Pick<OutboundCallerOptions<UserServiceClient>, 'pool' | 'address' | 'tokens'>;

/** BatchGetUsers takes at most this many ids per call. */
const BATCH = 100;

/** Asks the user service's BatchGetUsers, which reports unknown and deleted ids as missing rather than failing. */
export function grpcUserProfiles(opts: GrpcUserProfilesOptions): UserProfiles {
  const call = createOutboundCaller({ ...opts, client: UserServiceClient, unavailable: userServiceUnavailable });
  return {
    async getProfiles(userIds, requestId) {
      const ids = [...new Set(userIds)];
      const batches: string[][] = [];
      for (let i = 0; i < ids.length; i += BATCH) batches.push(ids.slice(i, i + BATCH));
      const responses = await Promise.all(
        batches.map((batch) =>
          call<BatchGetUsersResponse>(requestId, (client, metadata, done) =>
            client.batchGetUsers({ userIds: batch }, metadata, done),
          ),
        ),
      );
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
