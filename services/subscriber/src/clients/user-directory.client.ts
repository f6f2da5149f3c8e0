import { type BatchGetUsersResponse, UserServiceClient } from '@messenger/gen/messenger/user/v1/user';
import { canonicalId } from '@messenger/platform/domain';
import { createOutboundCaller, type OutboundCallerOptions } from '@messenger/platform/grpc';
import { userServiceUnavailable } from '../domain/subscriber-errors.ts';
import type { UserDirectory } from '../domain/user-directory.ts';

/** The user service's address, and this service's own credential: BatchGetUsers is internal. */
export type GrpcUserDirectoryOptions = Pick<OutboundCallerOptions<UserServiceClient>, 'pool' | 'address' | 'tokens'>;

/**
 * Asks the user service's BatchGetUsers, which reports unknown and deleted ids
 * as missing rather than failing. Whatever goes wrong upstream (even its
 * UNAUTHENTICATED for this service's credential) is USER_SERVICE_UNAVAILABLE:
 * not the caller's fault, and they may retry later.
 */
export function grpcUserDirectory(opts: GrpcUserDirectoryOptions): UserDirectory {
  const call = createOutboundCaller({ ...opts, client: UserServiceClient, unavailable: userServiceUnavailable });
  return {
    async exists(userId, requestId) {
      const response = await call<BatchGetUsersResponse>(requestId, (client, md, done) =>
        client.batchGetUsers({ userIds: [userId] }, md, done),
      );
      return response.users.some((u) => canonicalId(u.userId) === canonicalId(userId));
    },
  };
}
