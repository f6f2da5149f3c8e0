import { SubscriberServiceService } from '@messenger/gen/messenger/subscriber/v1/subscriber';
import { type CallContext, type ServiceRegistration, service } from '@messenger/platform/grpc';
import type { CallMeta, FriendshipUseCases } from '../domain/friendship-use-cases.ts';
import {
  actorOf,
  statusFilterOf,
  toBlockedUserMessage,
  toFriendshipMessage,
  toStatusMessage,
} from './friendship-mapper.ts';

/** Thin: decode the request, call one use case, encode the answer. Errors map in the platform. */
export function subscriberServiceHandlers(friendships: FriendshipUseCases): ServiceRegistration {
  const meta = (ctx: CallContext): CallMeta => ({ actor: actorOf(ctx.caller), requestId: ctx.requestId });
  return service(SubscriberServiceService, {
    makeFriend: async (req, ctx) => ({
      friendship: toFriendshipMessage(await friendships.makeFriend(meta(ctx), req.userId)),
    }),
    confirmFriend: async (req, ctx) => ({
      friendship: toFriendshipMessage(await friendships.confirmFriend(meta(ctx), req.userId)),
    }),
    declineFriend: async (req, ctx) => ({
      previousStatus: toStatusMessage(await friendships.declineFriend(meta(ctx), req.userId)),
    }),
    unfriend: async (req, ctx) => ({
      previousStatus: toStatusMessage(await friendships.unfriend(meta(ctx), req.userId)),
    }),
    listFriends: async (req, ctx) => {
      const page = await friendships.listFriends(meta(ctx), {
        status: statusFilterOf(req.status, 'status'),
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return { friendships: page.items.map(toFriendshipMessage), nextPageToken: page.nextPageToken };
    },
    checkFriendship: (req, ctx) => friendships.checkFriendship(meta(ctx), req.userIdA, req.userIdB),
    blockUser: async (req, ctx) => ({
      blockedUser: toBlockedUserMessage(await friendships.blockUser(meta(ctx), req.userId)),
    }),
    unblockUser: async (req, ctx) => ({ unblocked: await friendships.unblockUser(meta(ctx), req.userId) }),
    listBlockedUsers: async (req, ctx) => {
      const page = await friendships.listBlockedUsers(meta(ctx), { pageSize: req.pageSize, pageToken: req.pageToken });
      return { blockedUsers: page.items.map(toBlockedUserMessage), nextPageToken: page.nextPageToken };
    },
    listFriendIds: (req, ctx) =>
      friendships.listFriendIds(meta(ctx), req.userId, { pageSize: req.pageSize, pageToken: req.pageToken }),
  });
}
