// What the auth service publishes: envelopes as events.proto documents them.
import { AccountCreated, RoleChanged, SessionsRevoked } from '@messenger/gen/messenger/auth/v1/events';
import { createEnvelope, type OutboxEntry, packPayload } from '@messenger/platform/events';
import type { AuthEvent } from '../domain/account.ts';
import { toRevocationReason, toRoleMessage } from '../grpc/auth-mapper.ts';

export const AUTH_EVENTS_TOPIC = 'auth.events';
const SOURCE = 'auth';

export function toOutboxEntries(events: readonly AuthEvent[]): OutboxEntry[] {
  return events.map((event) => ({ topic: AUTH_EVENTS_TOPIC, envelope: toEnvelope(event) }));
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
