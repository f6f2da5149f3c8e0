import { SessionsRevoked } from '@messenger/gen/messenger/auth/v1/events';
import { type EventBus, type Logger, payloadTypeName, type SubscriptionHandle } from '@messenger/platform';
import type { TokenGate } from './auth.ts';
import type { StreamRegistry } from './streaming.ts';

export const SESSION_REVOKED = 'auth.session.revoked';

/**
 * `auth.session.revoked` (logout, refresh-token reuse, demotion, deletion):
 * this gateway stops honouring the sessions' cached verifications and ends
 * their open streams. Every replica needs every such event: broadcast.
 */
export function subscribeSessionRevocations(
  bus: EventBus,
  tokens: TokenGate,
  streams: StreamRegistry,
  log: Logger,
): Promise<SubscriptionHandle> {
  return bus.subscribe({
    topics: ['auth.events'],
    group: 'api-gateway.sessions',
    delivery: 'broadcast',
    async handle(event) {
      if (event.type !== SESSION_REVOKED) return;
      if (payloadTypeName(event.payload) !== 'messenger.auth.v1.SessionsRevoked' || !event.payload) {
        log.warn({ eventId: event.id }, 'auth.session.revoked without a SessionsRevoked payload; ignored');
        return;
      }
      const revoked = SessionsRevoked.decode(event.payload.value);
      tokens.revokeSessions(revoked.sessionIds);
      streams.endSessions(revoked.sessionIds);
    },
  });
}
