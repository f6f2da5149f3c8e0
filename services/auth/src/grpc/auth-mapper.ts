// Where auth's own values cross between the domain and auth's protobuf messages
// (the user service's answers are read by its client, in clients/). The proto
// form of a role, which events and RPC responses share, is in events/auth-events.ts.
import { Role as RoleMessage, type TokenPair as TokenPairMessage } from '@messenger/gen/messenger/auth/v1/auth';
import type { User } from '@messenger/gen/messenger/user/v1/user';
import type { Role } from '../domain/account.ts';
import type { TokenPair } from '../domain/sessions.ts';
import type { Profile } from '../domain/user-profiles.ts';

/** Undefined for ROLE_UNSPECIFIED and unknown values: the caller reports them. */
export function fromRoleMessage(role: RoleMessage): Role | undefined {
  switch (role) {
    case RoleMessage.ROLE_USER:
      return 'user';
    case RoleMessage.ROLE_ADMIN:
      return 'admin';
    default:
      return undefined;
  }
}

export function toTokenPairMessage(pair: TokenPair): TokenPairMessage {
  return {
    accessToken: pair.accessToken,
    refreshToken: pair.refreshToken,
    accessTokenExpiresAt: pair.accessTokenExpiresAt,
    refreshTokenExpiresAt: pair.refreshTokenExpiresAt,
    tokenType: 'Bearer',
  };
}

export function toUserMessage(profile: Profile): User {
  return {
    userId: profile.id,
    nickname: profile.nickname,
    about: profile.about,
    avatarUrl: profile.avatarUrl,
    createTime: profile.createTime,
    updateTime: profile.updateTime,
  };
}
