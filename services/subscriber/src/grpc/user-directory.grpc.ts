import { type BatchGetUsersResponse, UserServiceClient } from '@messenger/gen/messenger/user/v1/user';
import {
  type ClientPool,
  DomainError,
  ErrorKind,
  outgoingMetadata,
  type ServiceTokenSource,
} from '@messenger/platform';
import type { UserDirectory } from '../domain/user-directory.ts';

export interface GrpcUserDirectoryOptions {
  readonly pool: ClientPool;
  /** host:port of the user service. */
  readonly address: string;
  /** This service's own credential: BatchGetUsers is internal. */
  readonly tokens: ServiceTokenSource;
}

/** Asks the user service's BatchGetUsers, which reports unknown and deleted ids as missing rather than failing. */
export function grpcUserDirectory(opts: GrpcUserDirectoryOptions): UserDirectory {
  return {
    async exists(userId, requestId) {
      let response: BatchGetUsersResponse;
      try {
        const metadata = outgoingMetadata(requestId, await opts.tokens.token());
        const client = opts.pool.get(UserServiceClient, opts.address);
        response = await new Promise((resolve, reject) => {
          client.batchGetUsers({ userIds: [userId] }, metadata, (error, res) => (error ? reject(error) : resolve(res)));
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
      return response.users.some((u) => u.userId.toLowerCase() === userId.toLowerCase());
    },
  };
}
