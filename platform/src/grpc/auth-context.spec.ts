import { Access } from '@messenger/gen/messenger/options/v1/options';
import { ANONYMOUS, authorize, type Caller } from './auth-context.ts';

const user: Caller = { kind: 'user', userId: 'u', sessionId: 's', roles: [], token: 't', expiresAtMs: 0 };
const admin: Caller = { ...user, roles: ['admin'] };
const service: Caller = { kind: 'service', service: 'chat', token: 't' };

/** The gRPC status kind each caller gets per access level; undefined = allowed. */
function outcome(access: Access, caller: Caller): string | undefined {
  try {
    authorize(access, caller, ['chat']);
    return undefined;
  } catch (error) {
    return (error as { kind: string }).kind;
  }
}

describe('authorize', () => {
  it.each([
    // access, anonymous, user, admin, service
    [Access.ACCESS_PUBLIC, undefined, undefined, undefined, undefined],
    [Access.ACCESS_INTERNAL_BOOTSTRAP, undefined, undefined, undefined, undefined],
    [Access.ACCESS_AUTHENTICATED, 'unauthenticated', undefined, undefined, undefined],
    [Access.ACCESS_UNSPECIFIED, 'unauthenticated', undefined, undefined, undefined],
    [Access.ACCESS_ADMIN, 'unauthenticated', 'permission_denied', undefined, 'permission_denied'],
    [Access.ACCESS_INTERNAL, 'unauthenticated', 'permission_denied', 'permission_denied', undefined],
  ] as const)('access %i: anonymous %s, user %s, admin %s, service %s', (access, a, u, ad, s) => {
    expect([
      outcome(access, ANONYMOUS),
      outcome(access, user),
      outcome(access, admin),
      outcome(access, service),
    ]).toEqual([a, u, ad, s]);
  });
});

it('admits to an internal method only the services its policy lists', () => {
  const subscriber: Caller = { kind: 'service', service: 'subscriber', token: 't' };
  expect(() => authorize(Access.ACCESS_INTERNAL, subscriber, ['chat', 'subscriber'])).not.toThrow();
  expect(() => authorize(Access.ACCESS_INTERNAL, subscriber, ['auth'])).toThrow(
    expect.objectContaining({ kind: 'permission_denied' }),
  );
  expect(() => authorize(Access.ACCESS_INTERNAL, subscriber, [])).toThrow(
    expect.objectContaining({ kind: 'permission_denied' }),
  );
});
