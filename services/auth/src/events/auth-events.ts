// What the auth service publishes: envelopes as events.proto documents them.
// Also the proto form of a role, which events and RPC responses share.
import { Role as RoleMessage } from '@messenger/gen/messenger/auth/v1/auth';
import {
  AccountCreated,
  RevocationReason,
  RoleChanged,
  SessionsRevoked,
} from '@messenger/gen/messenger/auth/v1/events';
import { createEnvelope, type OutboxEntry, packPayload } from '@messenger/platform/events';
import type { AuthEvent, RevocationReason as DomainRevocationReason, Role } from '../domain/account.ts';

export const AUTH_EVENTS_TOPIC = 'auth.events';
const SOURCE = 'auth';

export function toRoleMessage(role: Role): RoleMessage {
  return role === 'admin' ? RoleMessage.ROLE_ADMIN : RoleMessage.ROLE_USER;
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

/** The outbox entry of an event: on `auth.events`, keyed by its user. */
export function authEventEntry(event: AuthEvent): OutboxEntry {
  return { topic: AUTH_EVENTS_TOPIC, envelope: toEnvelope(event) };
}

function toEnvelope(event: AuthEvent) {
  switch (event.kind) {
    case 'account_created':
      return createEnvelope({
        type: 'auth.account.created',
        source: SOURCE,
        key: event.account.id,
        time: event.account.createTime,
        requestId: event.requestId,
        payload: packPayload(
          'messenger.auth.v1.AccountCreated',
          AccountCreated.encode({
            userId: event.account.id,
            email: event.account.email,
            role: toRoleMessage(event.account.role),
            oauthProvider: event.oauthProvider,
          }).finish(),
        ),
      });
    case 'role_changed':
      return createEnvelope({
        type: 'auth.account.role_changed',
        source: SOURCE,
        key: event.userId,
        time: event.time,
        requestId: event.requestId,
        payload: packPayload(
          'messenger.auth.v1.RoleChanged',
          RoleChanged.encode({
            userId: event.userId,
            before: toRoleMessage(event.before),
            after: toRoleMessage(event.after),
            changedById: event.changedBy,
          }).finish(),
        ),
      });
    case 'sessions_revoked':
      return createEnvelope({
        type: 'auth.session.revoked',
        source: SOURCE,
        key: event.userId,
        time: event.time,
        requestId: event.requestId,
        payload: packPayload(
          'messenger.auth.v1.SessionsRevoked',
          SessionsRevoked.encode({
            userId: event.userId,
            sessionIds: [...event.sessionIds],
            all: event.all,
            reason: toRevocationReason(event.reason),
          }).finish(),
        ),
      });
  }
}
