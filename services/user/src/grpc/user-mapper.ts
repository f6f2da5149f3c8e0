// Where callers cross into the domain. The proto form of a profile, which
// events and RPC responses share, is in events/user-events.ts.
import type { Caller } from '@messenger/platform/grpc';
import type { Actor } from '../domain/user.ts';

const ADMIN_ROLE = 'admin';

/** The platform has already refused anonymous callers of every method this service serves. */
export function actorOf(caller: Caller): Actor {
  switch (caller.kind) {
    case 'user':
      return { kind: 'user', userId: caller.userId, admin: caller.roles.includes(ADMIN_ROLE) };
    case 'service':
      return { kind: 'service', service: caller.service };
    default:
      throw new Error('anonymous caller reached a handler that requires authentication');
  }
}
