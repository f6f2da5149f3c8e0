import { SessionsRevoked } from '@messenger/gen/messenger/auth/v1/events';
import { payloadTypeName, type Subscription } from '@messenger/platform/events';
import type { Logger } from '@messenger/platform/logger';
import type { SessionEnds } from '../live/session-ends.ts';

/**
 * `auth.session.revoked` (logout, password reset, refresh-token reuse,
 * demotion, deletion) → the ended sessions' open streams on this replica.
 * Broadcast: any replica may hold one of them.
 */
export function sessionRevocationsConsumer(sessions: SessionEnds, log: Pick<Logger, 'warn'>): Subscription {
  return {
    topics: ['auth.events'],
    group: 'chat.sessions',
    delivery: 'broadcast',
    async handle(event) {
      if (event.type !== 'auth.session.revoked') return;
      if (payloadTypeName(event.payload) !== 'messenger.auth.v1.SessionsRevoked' || !event.payload) {
        log.warn({ eventId: event.id }, 'auth.session.revoked without a SessionsRevoked payload; ignored');
        return;
      }
      sessions.revoke(SessionsRevoked.decode(event.payload.value).sessionIds);
    },
  };
}
