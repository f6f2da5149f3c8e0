import { status as GrpcStatus } from '@grpc/grpc-js';
import { type User, UserServiceClient } from '@messenger/gen/messenger/user/v1/user';
import {
  type ClientPool,
  DomainError,
  ErrorKind,
  fieldViolationsOf,
  isServiceError,
  outgoingMetadata,
  reasonOf,
  type ServiceTokenSource,
} from '@messenger/platform';
import { NICKNAME_TAKEN, type Profile, type UserProfiles } from '../domain/user-profiles.ts';
import { fromUserMessage } from './auth-mapper.ts';

export interface GrpcUserProfilesOptions {
  readonly pool: ClientPool;
  /** host:port of the user service. */
  readonly address: string;
  /** Auth's own service credential (CreateUser is internal), signed locally: auth issues service tokens. */
  readonly tokens: ServiceTokenSource;
}

/** The user service's CreateUser and GetUser, called with auth's service token. */
export function grpcUserProfiles(opts: GrpcUserProfilesOptions): UserProfiles {
  const client = () => opts.pool.get(UserServiceClient, opts.address);
  const metadata = async (requestId: string) => outgoingMetadata(requestId, await opts.tokens.token());

  return {
    async create(userId, nickname, requestId): Promise<Profile> {
      try {
        const md = await metadata(requestId);
        const user = await new Promise<User | undefined>((resolve, reject) =>
          client().createUser({ userId, nickname }, md, (e, r) => (e ? reject(e) : resolve(r.user))),
        );
        if (!user) throw new Error('CreateUser answered without a user');
        return fromUserMessage(user);
      } catch (error) {
        throw translate(error, 'create');
      }
    },

    async get(userId, requestId): Promise<Profile | undefined> {
      try {
        const md = await metadata(requestId);
        const user = await new Promise<User | undefined>((resolve, reject) =>
          client().getUser({ userId }, md, (e, r) => (e ? reject(e) : resolve(r.user))),
        );
        return user && fromUserMessage(user);
      } catch (error) {
        if (isServiceError(error) && error.code === GrpcStatus.NOT_FOUND) return undefined;
        throw translate(error, 'get');
      }
    },
  };
}

/**
 * A taken nickname and a refused nickname are the caller's to fix; whatever
 * else goes wrong upstream (even UNAUTHENTICATED for auth's own credential)
 * is not, and they may retry later.
 */
function translate(error: unknown, op: 'create' | 'get'): DomainError {
  if (isServiceError(error) && op === 'create') {
    if (error.code === GrpcStatus.ALREADY_EXISTS && reasonOf(error) === NICKNAME_TAKEN) {
      return new DomainError(ErrorKind.AlreadyExists, NICKNAME_TAKEN, 'the nickname is taken');
    }
    const nickname = fieldViolationsOf(error).filter((v) => v.field === 'nickname');
    if (error.code === GrpcStatus.INVALID_ARGUMENT && nickname.length > 0) return DomainError.invalid(nickname);
  }
  const unavailable = new DomainError(
    ErrorKind.Unavailable,
    'USER_SERVICE_UNAVAILABLE',
    'profiles cannot be reached right now; try again shortly',
  );
  unavailable.cause = error;
  return unavailable;
}
