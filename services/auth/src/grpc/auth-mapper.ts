// Where auth's own values cross between the domain and auth's protobuf messages
// (the user service's answers are read by its client, in clients/).
import { Role as RoleMessage, type TokenPair as TokenPairMessage } from '@messenger/gen/messenger/auth/v1/auth';
import { RevocationReason } from '@messenger/gen/messenger/auth/v1/events';
import type { User } from '@messenger/gen/messenger/user/v1/user';
import type { RevocationReason as DomainRevocationReason, Role } from '../domain/account.ts';
import type { TokenPair } from '../domain/sessions.ts';
import type { Profile } from '../domain/user-profiles.ts';

export function toRoleMessage(role: Role): RoleMessage {
  return role === 'admin' ? RoleMessage.ROLE_ADMIN : RoleMessage.ROLE_USER;
}

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

export function toRevocationReason(reason: DomainRevocationReason): RevocationReason {
  switch (reason) {
    case 'logout':
      return RevocationReason.REVOCATION_REASON_LOGOUT;
    case 'refresh_token_reuse':
      return RevocationReason.REVOCATION_REASON_REFRESH_TOKEN_REUSE;
    case 'role_changed':
      return RevocationReason.REVOCATION_REASON_ROLE_CHANGED;
    case 'user_deleted':
      return RevocationReason.REVOCATION_REASON_USER_DELETED;
    case 'password_reset':
      return RevocationReason.REVOCATION_REASON_PASSWORD_RESET;
    case 'session_limit':
      return RevocationReason.REVOCATION_REASON_SESSION_LIMIT;
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
