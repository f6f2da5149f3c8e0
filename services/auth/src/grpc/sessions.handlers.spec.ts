// gRPC integration of sessions and roles: RefreshToken, Logout and
// SetUserRole, on the real auth and user services, called with real tokens.
import { randomUUID } from 'node:crypto';
import { Metadata, status } from '@grpc/grpc-js';
import { type LoginResponse, type RegisterResponse, Role } from '@messenger/gen/messenger/auth/v1/auth';
import { RevocationReason, RoleChanged, SessionsRevoked } from '@messenger/gen/messenger/auth/v1/events';
import { reasonOf } from '@messenger/platform/grpc';
import {
  type AuthFixture,
  bearer,
  call,
  claimsOf,
  failure,
  LISTED_EMAILS,
  payloadOf,
  sessionOf,
  startAuthFixture,
  violations,
} from '../testing/auth-fixture.ts';

describe('AuthService sessions and roles over gRPC', () => {
  let f: AuthFixture;

  beforeAll(async () => {
    f = await startAuthFixture();
  });
  afterAll(async () => {
    await f.close();
  });

  describe('RefreshToken', () => {
    it('rotates: a new pair for the same session, with the current role', async () => {
      const res = await f.register();
      const next = await f.refresh(res.tokens);
      expect(next.tokens?.refreshToken).not.toBe(res.tokens?.refreshToken);
      expect(sessionOf(next.tokens)).toBe(sessionOf(res.tokens));
      expect(claimsOf(next.tokens?.accessToken ?? '')).toMatchObject({ sub: res.user?.userId, roles: ['user'] });
      const again = await f.refresh(next.tokens);
      expect(sessionOf(again.tokens)).toBe(sessionOf(res.tokens));
    });

    it('treats a rotated token presented again as theft and ends the session everywhere', async () => {
      const res = await f.register();
      const next = await f.refresh(res.tokens);
      expect(await f.accepted(next.tokens)).toBe(true);
      const reused = await failure(f.refresh(res.tokens));
      expect([reused.code, reasonOf(reused)]).toEqual([status.UNAUTHENTICATED, 'REFRESH_TOKEN_REUSED']);
      // The thief's pair and the owner's pair are both dead.
      const rotatedToo = await failure(f.refresh(next.tokens));
      expect([rotatedToo.code, reasonOf(rotatedToo)]).toEqual([status.UNAUTHENTICATED, 'REFRESH_TOKEN_INVALID']);
      expect(await f.accepted(next.tokens)).toBe(false);
      const event = payloadOf(await f.revokedEvent(sessionOf(res.tokens)), SessionsRevoked.decode);
      expect(event).toEqual({
        userId: res.user?.userId,
        sessionIds: [sessionOf(res.tokens)],
        all: false,
        reason: RevocationReason.REVOCATION_REASON_REFRESH_TOKEN_REUSE,
      });
    });

    it('gives at most one new token to two simultaneous refreshes with the same token', async () => {
      const res = await f.register();
      const results = await Promise.allSettled([f.refresh(res.tokens), f.refresh(res.tokens)]);
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(lost.reason.code).toBe(status.UNAUTHENTICATED);
    });

    it('refuses unknown, malformed and missing tokens', async () => {
      for (const refreshToken of ['x'.repeat(43), 'not a token', `${'A'.repeat(43)}=`]) {
        const refused = await failure(call(f.client, f.client.refreshToken, { refreshToken }));
        expect([refused.code, reasonOf(refused)]).toEqual([status.UNAUTHENTICATED, 'REFRESH_TOKEN_INVALID']);
      }
      expect(await violations(call(f.client, f.client.refreshToken, { refreshToken: '' }))).toEqual(['refresh_token']);
    });
  });

  describe('Logout', () => {
    it('ends this session: its access token is refused at once by every verifier, its refresh token too', async () => {
      const who = f.unique('bye');
      const registered = await f.register(who);
      const other = await f.login(who.email);
      const res = await call(f.client, f.client.logout, { allSessions: false }, bearer(f, registered.tokens));
      expect(res.revokedSessionCount).toBe(1);
      // Right after: another service sharing the revocation list, and the user service itself.
      expect(await f.accepted(registered.tokens)).toBe(false);
      const byUserService = await failure(
        call(f.users, f.users.getUser, { userId: registered.user?.userId ?? '' }, bearer(f, registered.tokens)),
      );
      expect([byUserService.code, reasonOf(byUserService)]).toEqual([status.UNAUTHENTICATED, 'TOKEN_REVOKED']);
      const refreshed = await failure(f.refresh(registered.tokens));
      expect(refreshed.code).toBe(status.UNAUTHENTICATED);
      // The other device is still signed in.
      expect(await f.accepted(other.tokens)).toBe(true);
      await f.refresh(other.tokens);
      const event = payloadOf(await f.revokedEvent(sessionOf(registered.tokens)), SessionsRevoked.decode);
      expect([event.all, event.reason]).toEqual([false, RevocationReason.REVOCATION_REASON_LOGOUT]);
      // Logging out with the dead token again is refused by the platform.
      const again = await failure(
        call(f.client, f.client.logout, { allSessions: false }, bearer(f, registered.tokens)),
      );
      expect(again.code).toBe(status.UNAUTHENTICATED);
    });

    it('ends every session of the caller', async () => {
      const who = f.unique('all');
      const registered = await f.register(who);
      const a = await f.login(who.email);
      const b = await f.login(who.email);
      const bystander = await f.register();
      const res = await call(f.client, f.client.logout, { allSessions: true }, bearer(f, a.tokens));
      expect(res.revokedSessionCount).toBe(3);
      for (const tokens of [registered.tokens, a.tokens, b.tokens]) {
        expect(await f.accepted(tokens)).toBe(false);
        expect((await failure(f.refresh(tokens))).code).toBe(status.UNAUTHENTICATED);
      }
      expect(await f.accepted(bystander.tokens)).toBe(true);
      const event = payloadOf(await f.revokedEvent(sessionOf(b.tokens)), SessionsRevoked.decode);
      expect(event.all).toBe(true);
      expect([...event.sessionIds].sort()).toEqual(
        [sessionOf(registered.tokens), sessionOf(a.tokens), sessionOf(b.tokens)].sort(),
      );
    });

    it('needs a user access token', async () => {
      const anonymous = await failure(call(f.client, f.client.logout, { allSessions: false }));
      expect(anonymous.code).toBe(status.UNAUTHENTICATED);
      // A caller-supplied user id is never an identity.
      const claimed = new Metadata();
      claimed.set('x-user-id', randomUUID());
      const byHeader = await failure(call(f.client, f.client.logout, { allSessions: true }, claimed));
      expect(byHeader.code).toBe(status.UNAUTHENTICATED);
      const forged = await failure(call(f.client, f.client.logout, { allSessions: false }, f.auth.bearer('a.b.c')));
      expect(forged.code).toBe(status.UNAUTHENTICATED);
      const service = await failure(
        call(f.client, f.client.logout, { allSessions: false }, f.auth.bearer(await f.auth.serviceToken('chat'))),
      );
      expect([service.code, reasonOf(service)]).toEqual([status.PERMISSION_DENIED, 'USER_TOKEN_REQUIRED']);
    });
  });

  describe('SetUserRole', () => {
    let root: RegisterResponse | LoginResponse;
    beforeAll(async () => {
      // An admin by the admin list: registered and verified.
      root = await f.root();
    });
    const setRole = (userId: string, role: Role, tokens = root.tokens) =>
      call(f.client, f.client.setUserRole, { userId, role }, bearer(f, tokens));

    it('promotes at the next refresh, and demotion ends every session', async () => {
      const ann = await f.register();
      const userId = ann.user?.userId ?? '';
      const promoted = await setRole(userId, Role.ROLE_ADMIN);
      expect(promoted).toEqual({ userId, role: Role.ROLE_ADMIN, previousRole: Role.ROLE_USER });
      const changed = await f.waitForEvent((e) => e.type === 'auth.account.role_changed' && e.key === userId);
      expect(payloadOf(changed, RoleChanged.decode)).toEqual({
        userId,
        before: Role.ROLE_USER,
        after: Role.ROLE_ADMIN,
        changedById: root.user?.userId,
      });
      // The token in hand keeps its role until it is refreshed.
      expect(claimsOf(ann.tokens?.accessToken ?? '').roles).toEqual(['user']);
      const refreshed = await f.refresh(ann.tokens);
      expect(claimsOf(refreshed.tokens?.accessToken ?? '').roles).toEqual(['admin']);
      // Setting the same role again changes nothing.
      await expect(setRole(userId, Role.ROLE_ADMIN)).resolves.toEqual({
        userId,
        role: Role.ROLE_ADMIN,
        previousRole: Role.ROLE_ADMIN,
      });

      const demoted = await setRole(userId, Role.ROLE_USER, refreshed.tokens);
      expect(demoted.previousRole).toBe(Role.ROLE_ADMIN);
      expect(await f.accepted(refreshed.tokens)).toBe(false);
      expect((await failure(f.refresh(refreshed.tokens))).code).toBe(status.UNAUTHENTICATED);
      const event = payloadOf(await f.revokedEvent(sessionOf(ann.tokens)), SessionsRevoked.decode);
      expect([event.all, event.reason]).toEqual([true, RevocationReason.REVOCATION_REASON_ROLE_CHANGED]);
      expect(
        f.events.filter((e) => e.type === 'auth.account.role_changed' && e.key === userId).map((e) => e.id),
      ).toHaveLength(2);
    });

    it('is for admins only', async () => {
      const ann = await f.register();
      const request = { userId: ann.user?.userId ?? '', role: Role.ROLE_ADMIN };
      const byUser = await failure(call(f.client, f.client.setUserRole, request, bearer(f, ann.tokens)));
      expect(byUser.code).toBe(status.PERMISSION_DENIED);
      const byService = await failure(
        call(f.client, f.client.setUserRole, request, f.auth.bearer(await f.auth.serviceToken('chat'))),
      );
      expect(byService.code).toBe(status.PERMISSION_DENIED);
      const anonymous = await failure(call(f.client, f.client.setUserRole, request));
      expect(anonymous.code).toBe(status.UNAUTHENTICATED);
    });

    it('keeps a demoted admin of the admin list demoted at every later sign-in', async () => {
      const listed = LISTED_EMAILS[1];
      const registered = await f.register({ email: listed });
      const userId = registered.user?.userId ?? '';
      // Verifying the listed email is what makes the account an admin, once.
      const verified = await f.verifyEmail(registered.tokens, listed);
      expect([verified.userId, verified.role]).toEqual([userId, Role.ROLE_ADMIN]);
      const promoted = await f.waitForEvent((e) => e.type === 'auth.account.role_changed' && e.key === userId);
      expect(payloadOf(promoted, RoleChanged.decode)).toEqual({
        userId,
        before: Role.ROLE_USER,
        after: Role.ROLE_ADMIN,
        changedById: '',
      });
      expect(claimsOf((await f.login(listed)).tokens?.accessToken ?? '').roles).toEqual(['admin']);

      await setRole(userId, Role.ROLE_USER);
      for (let i = 0; i < 2; i++) {
        const again = await f.login(listed);
        expect(claimsOf(again.tokens?.accessToken ?? '').roles).toEqual(['user']);
        expect(claimsOf((await f.refresh(again.tokens)).tokens?.accessToken ?? '').roles).toEqual(['user']);
      }
      await expect(f.store.getAccount(userId)).resolves.toMatchObject({ role: 'user', emailVerified: true });
      // And the verification cannot be replayed to promote it again.
      const replay = await failure(
        call(f.client, f.client.requestEmailVerification, {}, bearer(f, (await f.login(listed)).tokens)),
      );
      expect([replay.code, reasonOf(replay)]).toEqual([status.FAILED_PRECONDITION, 'EMAIL_ALREADY_VERIFIED']);
      expect(f.events.filter((e) => e.type === 'auth.account.role_changed' && e.key === userId)).toHaveLength(2);
    });

    it('answers NOT_FOUND, INVALID_ARGUMENT, and FAILED_PRECONDITION for the last admin', async () => {
      const missing = await failure(setRole(randomUUID(), Role.ROLE_ADMIN));
      expect([missing.code, reasonOf(missing)]).toEqual([status.NOT_FOUND, 'ACCOUNT_NOT_FOUND']);
      expect(await violations(setRole('nope', Role.ROLE_UNSPECIFIED))).toEqual(['user_id', 'role']);
      const last = await failure(setRole(root.user?.userId ?? '', Role.ROLE_USER));
      expect([last.code, reasonOf(last)]).toEqual([status.FAILED_PRECONDITION, 'LAST_ADMIN']);
      expect(await f.accepted(root.tokens)).toBe(true);
    });
  });

  describe('the session cap', () => {
    let capped: AuthFixture;
    beforeAll(async () => {
      capped = await startAuthFixture({ maxSessionsPerUser: 3 });
    });
    afterAll(async () => {
      await capped?.close();
    });

    it('ends the least recently used session when a sign-in goes past it', async () => {
      const who = capped.unique('cap');
      const first = await capped.register(who);
      const second = await capped.login(who.email);
      const third = await capped.login(who.email);
      // The first session is used again, so the second becomes the least recently used.
      const firstRefreshed = await capped.refresh(first.tokens);
      const fourth = await capped.login(who.email);

      expect(await capped.accepted(second.tokens)).toBe(false);
      expect((await failure(capped.refresh(second.tokens))).code).toBe(status.UNAUTHENTICATED);
      for (const tokens of [firstRefreshed.tokens, third.tokens, fourth.tokens]) {
        expect(await capped.accepted(tokens)).toBe(true);
      }
      await expect(capped.store.activeSessionIds(first.user?.userId ?? '', new Date())).resolves.toHaveLength(3);
      const event = payloadOf(await capped.revokedEvent(sessionOf(second.tokens)), SessionsRevoked.decode);
      expect(event).toEqual({
        userId: first.user?.userId,
        sessionIds: [sessionOf(second.tokens)],
        all: false,
        reason: RevocationReason.REVOCATION_REASON_SESSION_LIMIT,
      });
    });
  });
});
