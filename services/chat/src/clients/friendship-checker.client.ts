import {
  type CheckFriendshipResponse,
  type ListFriendIdsResponse,
  SubscriberServiceClient,
} from '@messenger/gen/messenger/subscriber/v1/subscriber';
import { createOutboundCaller, type OutboundCallerOptions } from '@messenger/platform/grpc';
import { subscriberServiceUnavailable } from '../domain/chat-errors.ts';
import type { FriendshipChecker } from '../domain/directories.ts';

/** The subscriber service's address, and this service's own credential: CheckFriendship and ListFriendIds are internal. */
export type GrpcFriendshipCheckerOptions = Pick<
  OutboundCallerOptions<SubscriberServiceClient>,
  'pool' | 'address' | 'tokens'
>;

/** Asks the subscriber service's CheckFriendship and ListFriendIds. */
export function grpcFriendshipChecker(opts: GrpcFriendshipCheckerOptions): FriendshipChecker {
  const call = createOutboundCaller({
    ...opts,
    client: SubscriberServiceClient,
    unavailable: subscriberServiceUnavailable,
  });
  return {
    async relation(userIdA, userIdB, requestId) {
      const { friends, blocked } = await call<CheckFriendshipResponse>(requestId, (client, metadata, done) =>
        client.checkFriendship({ userIdA, userIdB }, metadata, done),
      );
      return { friends, blocked };
    },
    async friendIds(userId, requestId) {
      const ids: string[] = [];
      let pageToken = '';
      do {
        const page = await call<ListFriendIdsResponse>(requestId, (client, metadata, done) =>
          client.listFriendIds({ userId, pageSize: 0, pageToken }, metadata, done),
        );
        ids.push(...page.userIds);
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      return ids;
    },
  };
}
