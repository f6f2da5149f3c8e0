import { SessionsRevoked } from '@messenger/gen/messenger/auth/v1/events';
import { payloadTypeName, type Subscription } from '@messenger/platform/events';
import type { Logger } from '@messenger/platform/logger';

export const SESSION_REVOKED = 'auth.session.revoked';

/**
 * `auth.session.revoked` (logout, refresh-token reuse, demotion, deletion):
 * `onRevoked` gets the ended sessions' ids, so this gateway stops honouring
 * their cached verifications and ends their open streams. Every replica
 * needs every such event: broadcast.
 */
export function sessionRevocations(
  onRevoked: (sessionIds: readonly string[]) => void,
  log: Pick<Logger, 'warn'>,
): Subscription {
  return {
    topics: ['auth.events'],
    group: 'api-gateway.sessions',
    delivery: 'broadcast',
    async handle(event) {
      if (event.type !== SESSION_REVOKED) return;
      if (payloadTypeName(event.payload) !== 'messenger.auth.v1.SessionsRevoked' || !event.payload) {
        log.warn({ eventId: event.id }, 'auth.session.revoked without a SessionsRevoked payload; ignored');
        return;
      }
      onRevoked(SessionsRevoked.decode(event.payload.value).sessionIds);
    },
  };
}
