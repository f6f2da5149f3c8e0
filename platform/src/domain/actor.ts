import { DomainError, ErrorKind } from './errors.ts';

/** Who acts, as far as the rules care: a signed-in user, or another service with its own credential. */
export type Actor = UserActor | ServiceActor;
export interface UserActor {
  readonly kind: 'user';
  readonly userId: string;
}
export interface ServiceActor {
  readonly kind: 'service';
  readonly service: string;
}

/** Ids are compared and stored in their canonical lowercase form. */
export function canonicalId(id: string): string {
  return id.toLowerCase();
}

/**
 * The acting user's canonical id, for methods that act for a signed-in user:
 * a service credential has no side to act on, so it is refused.
 */
export function callerId(actor: Actor): string {
  if (actor.kind === 'user') return canonicalId(actor.userId);
  throw new DomainError(ErrorKind.PermissionDenied, 'USER_CALLER_REQUIRED', 'this method acts for a signed-in user');
}
