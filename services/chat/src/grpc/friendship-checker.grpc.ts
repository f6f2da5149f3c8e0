import {
  type CheckFriendshipResponse,
  SubscriberServiceClient,
} from '@messenger/gen/messenger/subscriber/v1/subscriber';
import {
  type ClientPool,
  DomainError,
  ErrorKind,
  outgoingMetadata,
  type ServiceTokenSource,
} from '@messenger/platform';
import type { FriendshipChecker } from '../domain/directories.ts';

export interface GrpcFriendshipCheckerOptions {
  readonly pool: ClientPool;
  /** host:port of the subscriber service. */
  readonly address: string;
  /** This service's own credential: CheckFriendship is internal. */
  readonly tokens: ServiceTokenSource;
}

/** Asks the subscriber service's CheckFriendship. */
export function grpcFriendshipChecker(opts: GrpcFriendshipCheckerOptions): FriendshipChecker {
  return {
    async areFriends(userIdA, userIdB, requestId) {
      let response: CheckFriendshipResponse;
      try {
        const metadata = outgoingMetadata(requestId, await opts.tokens.token());
        const client = opts.pool.get(SubscriberServiceClient, opts.address);
        response = await new Promise((resolve, reject) => {
          client.checkFriendship({ userIdA, userIdB }, metadata, (error, res) =>
            error ? reject(error) : resolve(res),
          );
        });
      } catch (cause) {
        const error = new DomainError(
          ErrorKind.Unavailable,
          'SUBSCRIBER_SERVICE_UNAVAILABLE',
          'friendships cannot be checked right now; try again shortly',
        );
        error.cause = cause;
        throw error;
      }
      return response.friends;
    },
  };
}
