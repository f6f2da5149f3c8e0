import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import {
  type CreateUserResponse,
  type GetUserResponse,
  type User,
  UserServiceClient,
} from '@messenger/gen/messenger/user/v1/user';
import { DomainError } from '@messenger/platform/domain';
import {
  createOutboundCaller,
  fieldViolationsOf,
  isServiceError,
  type OutboundCallerOptions,
  reasonOf,
} from '@messenger/platform/grpc';
import { AuthErrorReason, nicknameTaken, userServiceUnavailable } from '../domain/auth-errors.ts';
import type { Profile, UserProfiles } from '../domain/user-profiles.ts';

/** The user service's address, and auth's own credential (signed locally: auth issues service tokens). */
export type GrpcUserProfilesOptions = Pick<OutboundCallerOptions<UserServiceClient>, 'pool' | 'address' | 'tokens'>;

/**
 * The user service's CreateUser and GetUser (CreateUser is internal), called
 * with auth's service token. A taken or refused nickname is the caller's to
 * fix; whatever else goes wrong upstream is USER_SERVICE_UNAVAILABLE, and they
 * may retry later.
 */
export function grpcUserProfiles(opts: GrpcUserProfilesOptions): UserProfiles {
  const call = createOutboundCaller({ ...opts, client: UserServiceClient, unavailable: userServiceUnavailable });

  return {
    async create(userId, nickname, requestId): Promise<Profile> {
      let response: CreateUserResponse;
      try {
        response = await call<CreateUserResponse>(requestId, (client, md, done) =>
          client.createUser({ userId, nickname }, md, done),
        );
      } catch (error) {
        throw nicknameRefusal(upstreamOf(error)) ?? error;
      }
      if (!response.user) {
        const error = userServiceUnavailable();
        error.cause = new Error('CreateUser answered without a user');
        throw error;
      }
      return profileOf(response.user);
    },

    async get(userId, requestId): Promise<Profile | undefined> {
      try {
        const { user } = await call<GetUserResponse>(requestId, (client, md, done) =>
          client.getUser({ userId }, md, done),
        );
        return user && profileOf(user);
      } catch (error) {
        if (upstreamOf(error)?.code === GrpcStatus.NOT_FOUND) return undefined;
        throw error;
      }
    },
  };
}

/** The user service's own answer behind the unavailable error the caller gets, when there was one. */
function upstreamOf(error: unknown): ServiceError | undefined {
  const cause = error instanceof DomainError ? error.cause : undefined;
  return isServiceError(cause) ? cause : undefined;
}

/** NICKNAME_TAKEN, or INVALID_ARGUMENT naming `nickname`, passed on as auth's own. */
function nicknameRefusal(upstream: ServiceError | undefined): DomainError | undefined {
  if (upstream?.code === GrpcStatus.ALREADY_EXISTS && reasonOf(upstream) === AuthErrorReason.NicknameTaken) {
    return nicknameTaken();
  }
  const nickname = upstream ? fieldViolationsOf(upstream).filter((v) => v.field === 'nickname') : [];
  if (upstream?.code === GrpcStatus.INVALID_ARGUMENT && nickname.length > 0) return DomainError.invalid(nickname);
  return undefined;
}

function profileOf(user: User): Profile {
  return {
    id: user.userId,
    nickname: user.nickname,
    about: user.about,
    avatarUrl: user.avatarUrl,
    createTime: user.createTime ?? new Date(0),
    updateTime: user.updateTime ?? new Date(0),
  };
}
