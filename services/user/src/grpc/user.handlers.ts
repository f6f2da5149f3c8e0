import { UserServiceService } from '@messenger/gen/messenger/user/v1/user';
import { type CallContext, type ServiceRegistration, service } from '@messenger/platform/grpc';
import type { CallMeta, UserUseCases } from '../domain/user-use-cases.ts';
import { toUserMessage } from '../events/user-events.ts';
import { actorOf } from './user-mapper.ts';

/** Thin: decode the request, call one use case, encode the answer. Errors map in the platform. */
export function userServiceHandlers(users: UserUseCases): ServiceRegistration {
  const meta = (ctx: CallContext): CallMeta => ({ actor: actorOf(ctx.caller), requestId: ctx.requestId });
  return service(UserServiceService, {
    createUser: async (req, ctx) => ({ user: toUserMessage(await users.createUser(meta(ctx), req)) }),
    getUser: async (req, ctx) => ({ user: toUserMessage(await users.getUser(meta(ctx), req.userId)) }),
    batchGetUsers: async (req, ctx) => {
      const { users: found, missingUserIds } = await users.batchGetUsers(meta(ctx), req.userIds);
      return { users: found.map(toUserMessage), missingUserIds };
    },
    updateUser: async (req, ctx) => {
      const updated = await users.updateUser(meta(ctx), {
        userId: req.userId,
        paths: req.updateMask ?? [],
        values: req.user,
      });
      return { user: toUserMessage(updated) };
    },
    setUploadedAvatar: async (req, ctx) => ({ user: toUserMessage(await users.setUploadedAvatar(meta(ctx), req)) }),
    deleteUser: async (req, ctx) => {
      await users.deleteUser(meta(ctx), req.userId);
      return {};
    },
    searchUsers: async (req, ctx) => {
      const page = await users.searchUsers(meta(ctx), req);
      return { users: page.items.map(toUserMessage), nextPageToken: page.nextPageToken };
    },
  });
}
