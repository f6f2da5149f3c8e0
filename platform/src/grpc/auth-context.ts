import type { Metadata } from '@grpc/grpc-js';
import { Access } from '@messenger/gen/messenger/options/v1/options';
import { DomainError, ErrorKind } from '../domain/errors.ts';

/** Who is making a call, as established from a verified credential. */
export type Caller =
  | { readonly kind: 'anonymous' }
  | {
      readonly kind: 'user';
      readonly userId: string;
      readonly sessionId: string;
      readonly roles: readonly string[];
      /** The verified access token, forwarded on calls made on this user's behalf. */
      readonly token: string;
      /** When that token expires (epoch ms): a call outliving it, such as a stream, ends then. */
      readonly expiresAtMs: number;
    }
  | {
      readonly kind: 'service';
      readonly service: string;
      readonly token: string;
    };

export const ANONYMOUS: Caller = { kind: 'anonymous' };

/**
 * Establishes the caller from request metadata. Implementations verify the
 * credential (signature, expiry, revocation) and throw an `unauthenticated`
 * DomainError for a present but invalid one; no credential is `ANONYMOUS`.
 */
export interface Authenticator {
  authenticate(metadata: Metadata): Promise<Caller>;
}

/** Trusts nobody: every caller is anonymous, so only public methods can be called. */
export const anonymousOnly: Authenticator = {
  authenticate: async () => ANONYMOUS,
};

const ADMIN_ROLE = 'admin';

/**
 * Enforces a method's declared access level and, for an internal method, its
 * declared `callers`. Throws the status the caller should see.
 */
export function authorize(access: Access, caller: Caller, callers: readonly string[] = []): void {
  switch (access) {
    case Access.ACCESS_PUBLIC:
    case Access.ACCESS_INTERNAL_BOOTSTRAP:
      // The handler checks the credential carried in the request itself.
      return;
    case Access.ACCESS_INTERNAL:
      // Least privilege: one service's leaked credential reaches only the
      // internal methods that service needs.
      if (caller.kind === 'service' && callers.includes(caller.service)) return;
      throw caller.kind === 'anonymous' ? unauthenticated() : forbidden();
    case Access.ACCESS_ADMIN:
      if (caller.kind === 'user' && caller.roles.includes(ADMIN_ROLE)) return;
      throw caller.kind === 'anonymous' ? unauthenticated() : forbidden();
    default:
      // ACCESS_AUTHENTICATED and anything undeclared: a signed-in user, or a
      // service acting within the system.
      if (caller.kind !== 'anonymous') return;
      throw unauthenticated();
  }
}

function unauthenticated(): DomainError {
  return new DomainError(ErrorKind.Unauthenticated, 'CREDENTIALS_MISSING', 'a valid access token is required');
}

function forbidden(): DomainError {
  return new DomainError(ErrorKind.PermissionDenied, 'ACCESS_DENIED', 'the caller may not use this method');
}
