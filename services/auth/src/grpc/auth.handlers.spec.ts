// gRPC integration: the real auth service and the real user service on
// loopback ports, called with real tokens.
import { randomUUID } from 'node:crypto';
import { Metadata, status } from '@grpc/grpc-js';
import {
  type AuthServiceClient,
  type LoginResponse,
  type RegisterResponse,
  Role,
  type TokenPair,
} from '@messenger/gen/messenger/auth/v1/auth';
import {
  AccountCreated,
  RevocationReason,
  RoleChanged,
  SessionsRevoked,
} from '@messenger/gen/messenger/auth/v1/events';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import {
  authServiceJwksSource,
  createLocalJwksSource,
  createTokenAuthenticator,
  MAX_TOKEN_TTL_SECONDS,
  reasonOf,
} from '@messenger/platform';
import { TEST_AUDIENCE, TEST_ISSUER, TEST_SERVICE_AUDIENCE } from '@messenger/platform/testing';
import {
  type AuthFixture,
  bearer,
  CHAT_SECRET,
  call,
  claimsOf,
  failure,
  ROOT_EMAIL,
  startAuthFixture,
  violations,
} from '../testing/auth-fixture.ts';

describe('AuthService over gRPC', () => {
  let f: AuthFixture;
  let client: AuthServiceClient;

  beforeAll(async () => {
    f = await startAuthFixture();
    client = f.client;
  });
  afterAll(async () => {
    await f.close();
  });

  const password = 'correct horse battery';
  const register = async (over: Partial<{ email: string; password: string; nickname: string }> = {}) => {
    const res: RegisterResponse = await call(client, client.register, { ...f.unique(), password, ...over });
    return res;
  };
  const login = (email: string, pw = password): Promise<LoginResponse> =>
    call(client, client.login, { email, password: pw });
  const refresh = (tokens: TokenPair | undefined) =>
    call(client, client.refreshToken, { refreshToken: tokens?.refreshToken ?? '' });
  const payloadOf = <T>(event: EventEnvelope, decode: (b: Uint8Array) => T): T =>
    decode(event.payload?.value ?? new Uint8Array());
  const revokedEvent = (sessionId: string) =>
    f.waitForEvent(
      (e) => e.type === 'auth.session.revoked' && payloadOf(e, SessionsRevoked.decode).sessionIds.includes(sessionId),
      `auth.session.revoked of ${sessionId}`,
    );
  const sessionOf = (tokens: TokenPair | undefined) => claimsOf(tokens?.accessToken ?? '').sid as string;
  /** Whether another service, sharing the revocation list, still accepts the token. */
  const accepted = async (tokens: TokenPair | undefined): Promise<boolean> => {
    const other = createTokenAuthenticator({
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      serviceAudience: TEST_SERVICE_AUDIENCE,
      jwks: createLocalJwksSource(f.auth.ring),
      revocations: f.auth.revocations,
    });
    return other.verifyAccessToken(tokens?.accessToken ?? '').then(
      () => true,
      () => false,
    );
  };

  describe('Register', () => {
    it('creates the account and its profile and signs it in', async () => {
      const { email, nickname } = f.unique('ann');
      const res = await register({ email: `  ${email.toUpperCase()} `, nickname });
      expect(res.user).toMatchObject({ nickname, about: '', avatarUrl: '' });
      const userId = res.user?.userId ?? '';
      const tokens = res.tokens as TokenPair;
      expect(tokens.tokenType).toBe('Bearer');
      expect(tokens.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const claims = claimsOf(tokens.accessToken);
      expect(claims).toMatchObject({ sub: userId, roles: ['user'], iss: TEST_ISSUER, aud: TEST_AUDIENCE });
      expect((claims.exp as number) - (claims.iat as number)).toBeLessThanOrEqual(MAX_TOKEN_TTL_SECONDS);
      expect(tokens.accessTokenExpiresAt?.getTime()).toBe((claims.exp as number) * 1000);
      expect(tokens.refreshTokenExpiresAt?.getTime()).toBeGreaterThan(Date.now() + 29 * 24 * 3600 * 1000);
      await expect(f.auth.authenticator.verifyAccessToken(tokens.accessToken)).resolves.toMatchObject({ userId });

      // The profile is the user service's.
      const profile = await call(f.users, f.users.getUser, { userId }, bearer(f, tokens));
      expect(profile.user).toEqual(res.user);
      const created = await f.waitForEvent((e) => e.type === 'auth.account.created' && e.key === userId);
      expect(payloadOf(created, AccountCreated.decode)).toEqual({
        userId,
        email: email.toUpperCase(),
        role: Role.ROLE_USER,
        oauthProvider: '',
      });
      // The email is unique case-insensitively and signs in in any case.
      await expect(login(email.toLowerCase())).resolves.toMatchObject({ user: { userId } });
    });

    it('refuses a taken email, before creating any profile', async () => {
      const first = f.unique('dup');
      await register(first);
      const second = f.unique('dup2');
      const taken = await failure(register({ email: first.email.toUpperCase(), nickname: second.nickname }));
      expect([taken.code, reasonOf(taken)]).toEqual([status.ALREADY_EXISTS, 'EMAIL_TAKEN']);
      // The nickname was not used up by the refused registration.
      await register(second);
    });

    it('refuses a taken nickname and leaves no credential behind', async () => {
      const holder = f.unique('holder');
      await register(holder);
      const { email } = f.unique('victim');
      const taken = await failure(register({ email, nickname: holder.nickname.toUpperCase() }));
      expect([taken.code, reasonOf(taken)]).toEqual([status.ALREADY_EXISTS, 'NICKNAME_TAKEN']);
      const noAccount = await failure(login(email));
      expect(noAccount.code).toBe(status.UNAUTHENTICATED);
      // The email is free: the same person registers with another nickname.
      await register({ email, nickname: f.unique('victim').nickname });
    });

    it.each([
      ['an email without @', { email: 'ann.example.com' }, ['email']],
      ['an email with a space', { email: 'ann smith@example.com' }, ['email']],
      ['an email of 255 characters', { email: `${'a'.repeat(243)}@example.com` }, ['email']],
      ['a 7-character password', { password: '1234567' }, ['password']],
      ['a 129-character password', { password: '👍'.repeat(129) }, ['password']],
      ['a nickname with a space', { nickname: 'no way' }, ['nickname']],
      ['a 2-character nickname', { nickname: 'ab' }, ['nickname']],
      ['nothing at all', { email: '', password: '', nickname: '' }, ['email', 'password', 'nickname']],
    ])('refuses %s with INVALID_ARGUMENT naming the field', async (_label, over, fields) => {
      expect(await violations(register(over))).toEqual(fields);
    });

    it('accepts passwords of 8 and of 128 characters (code points)', async () => {
      await register({ password: '👍'.repeat(8) });
      const res = await register({ password: '👍'.repeat(128) });
      expect(res.tokens?.accessToken).toBeTruthy();
    });

    it('makes an account listed in AUTH_ADMIN_EMAILS an admin', async () => {
      const res = await register({ email: ROOT_EMAIL.toUpperCase() });
      expect(claimsOf(res.tokens?.accessToken ?? '').roles).toEqual(['admin']);
      const created = await f.waitForEvent((e) => e.type === 'auth.account.created' && e.key === res.user?.userId);
      expect(payloadOf(created, AccountCreated.decode).role).toBe(Role.ROLE_ADMIN);
    });
  });

  describe('Login', () => {
    it('signs in with the right password, opening a new session each time', async () => {
      const who = f.unique('login');
      const registered = await register(who);
      const a = await login(who.email);
      const b = await login(who.email.toUpperCase());
      expect(a.user).toEqual(registered.user);
      expect(new Set([sessionOf(registered.tokens), sessionOf(a.tokens), sessionOf(b.tokens)]).size).toBe(3);
    });

    it('gives a wrong password and an unknown email the same answer, in similar time', async () => {
      const who = f.unique('enum');
      await register(who);
      const timed = async (email: string, pw: string) => {
        const started = performance.now();
        const error = await failure(login(email, pw));
        return { error, ms: performance.now() - started };
      };
      // Warm both paths once, then compare medians of a few tries each.
      await timed(who.email, 'wrong password');
      await timed(f.unique().email, password);
      const wrong: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 3; i++) {
        const w = await timed(who.email, 'wrong password');
        const u = await timed(f.unique('nobody').email, password);
        expect([w.error.code, reasonOf(w.error), w.error.details]).toEqual([
          u.error.code,
          reasonOf(u.error),
          u.error.details,
        ]);
        expect(w.error.code).toBe(status.UNAUTHENTICATED);
        wrong.push(w.ms);
        unknown.push(u.ms);
      }
      const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[1] as number;
      const ratio = median(unknown) / median(wrong);
      expect(ratio).toBeGreaterThan(0.5);
      expect(ratio).toBeLessThan(2);
    });

    it('requires both fields', async () => {
      expect(await violations(login('', ''))).toEqual(['email', 'password']);
    });
  });

  describe('RefreshToken', () => {
    it('rotates: a new pair for the same session, with the current role', async () => {
      const res = await register();
      const next = await refresh(res.tokens);
      expect(next.tokens?.refreshToken).not.toBe(res.tokens?.refreshToken);
      expect(sessionOf(next.tokens)).toBe(sessionOf(res.tokens));
      expect(claimsOf(next.tokens?.accessToken ?? '')).toMatchObject({ sub: res.user?.userId, roles: ['user'] });
      const again = await refresh(next.tokens);
      expect(sessionOf(again.tokens)).toBe(sessionOf(res.tokens));
    });

    it('treats a rotated token presented again as theft and ends the session everywhere', async () => {
      const res = await register();
      const next = await refresh(res.tokens);
      expect(await accepted(next.tokens)).toBe(true);
      const reused = await failure(refresh(res.tokens));
      expect([reused.code, reasonOf(reused)]).toEqual([status.UNAUTHENTICATED, 'REFRESH_TOKEN_REUSED']);
      // The thief's pair and the owner's pair are both dead.
      const rotatedToo = await failure(refresh(next.tokens));
      expect([rotatedToo.code, reasonOf(rotatedToo)]).toEqual([status.UNAUTHENTICATED, 'REFRESH_TOKEN_INVALID']);
      expect(await accepted(next.tokens)).toBe(false);
      const event = payloadOf(await revokedEvent(sessionOf(res.tokens)), SessionsRevoked.decode);
      expect(event).toEqual({
        userId: res.user?.userId,
        sessionIds: [sessionOf(res.tokens)],
        all: false,
        reason: RevocationReason.REVOCATION_REASON_REFRESH_TOKEN_REUSE,
      });
    });

    it('gives at most one new token to two simultaneous refreshes with the same token', async () => {
      const res = await register();
      const results = await Promise.allSettled([refresh(res.tokens), refresh(res.tokens)]);
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(lost.reason.code).toBe(status.UNAUTHENTICATED);
    });

    it('refuses unknown, malformed and missing tokens', async () => {
      for (const refreshToken of ['x'.repeat(43), 'not a token', `${'A'.repeat(43)}=`]) {
        const refused = await failure(call(client, client.refreshToken, { refreshToken }));
        expect([refused.code, reasonOf(refused)]).toEqual([status.UNAUTHENTICATED, 'REFRESH_TOKEN_INVALID']);
      }
      expect(await violations(call(client, client.refreshToken, { refreshToken: '' }))).toEqual(['refresh_token']);
    });
  });

  describe('Logout', () => {
    it('ends this session: its access token is refused at once by every verifier, its refresh token too', async () => {
      const who = f.unique('bye');
      const registered = await register(who);
      const other = await login(who.email);
      const res = await call(client, client.logout, { allSessions: false }, bearer(f, registered.tokens));
      expect(res.revokedSessionCount).toBe(1);
      // Right after: another service sharing the revocation list, and the user service itself.
      expect(await accepted(registered.tokens)).toBe(false);
      const byUserService = await failure(
        call(f.users, f.users.getUser, { userId: registered.user?.userId ?? '' }, bearer(f, registered.tokens)),
      );
      expect([byUserService.code, reasonOf(byUserService)]).toEqual([status.UNAUTHENTICATED, 'TOKEN_REVOKED']);
      const refreshed = await failure(refresh(registered.tokens));
      expect(refreshed.code).toBe(status.UNAUTHENTICATED);
      // The other device is still signed in.
      expect(await accepted(other.tokens)).toBe(true);
      await refresh(other.tokens);
      const event = payloadOf(await revokedEvent(sessionOf(registered.tokens)), SessionsRevoked.decode);
      expect([event.all, event.reason]).toEqual([false, RevocationReason.REVOCATION_REASON_LOGOUT]);
      // Logging out with the dead token again is refused by the platform.
      const again = await failure(call(client, client.logout, { allSessions: false }, bearer(f, registered.tokens)));
      expect(again.code).toBe(status.UNAUTHENTICATED);
    });

    it('ends every session of the caller', async () => {
      const who = f.unique('all');
      const registered = await register(who);
      const a = await login(who.email);
      const b = await login(who.email);
      const bystander = await register();
      const res = await call(client, client.logout, { allSessions: true }, bearer(f, a.tokens));
      expect(res.revokedSessionCount).toBe(3);
      for (const tokens of [registered.tokens, a.tokens, b.tokens]) {
        expect(await accepted(tokens)).toBe(false);
        expect((await failure(refresh(tokens))).code).toBe(status.UNAUTHENTICATED);
      }
      expect(await accepted(bystander.tokens)).toBe(true);
      const event = payloadOf(await revokedEvent(sessionOf(b.tokens)), SessionsRevoked.decode);
      expect(event.all).toBe(true);
      expect([...event.sessionIds].sort()).toEqual(
        [sessionOf(registered.tokens), sessionOf(a.tokens), sessionOf(b.tokens)].sort(),
      );
    });

    it('needs a user access token', async () => {
      const anonymous = await failure(call(client, client.logout, { allSessions: false }));
      expect(anonymous.code).toBe(status.UNAUTHENTICATED);
      // A caller-supplied user id is never an identity.
      const claimed = new Metadata();
      claimed.set('x-user-id', randomUUID());
      const byHeader = await failure(call(client, client.logout, { allSessions: true }, claimed));
      expect(byHeader.code).toBe(status.UNAUTHENTICATED);
      const forged = await failure(call(client, client.logout, { allSessions: false }, f.auth.bearer('a.b.c')));
      expect(forged.code).toBe(status.UNAUTHENTICATED);
      const service = await failure(
        call(client, client.logout, { allSessions: false }, f.auth.bearer(await f.auth.serviceToken('chat'))),
      );
      expect([service.code, reasonOf(service)]).toEqual([status.PERMISSION_DENIED, 'USER_TOKEN_REQUIRED']);
    });
  });

  describe('SetUserRole', () => {
    let root: RegisterResponse | LoginResponse;
    beforeAll(async () => {
      // Registered by the Register tests above, or here when run alone.
      root = await login(ROOT_EMAIL).catch(() => register({ email: ROOT_EMAIL }));
    });
    const setRole = (userId: string, role: Role, tokens = root.tokens) =>
      call(client, client.setUserRole, { userId, role }, bearer(f, tokens));

    it('promotes at the next refresh, and demotion ends every session', async () => {
      const ann = await register();
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
      const refreshed = await refresh(ann.tokens);
      expect(claimsOf(refreshed.tokens?.accessToken ?? '').roles).toEqual(['admin']);
      // Setting the same role again changes nothing.
      await expect(setRole(userId, Role.ROLE_ADMIN)).resolves.toEqual({
        userId,
        role: Role.ROLE_ADMIN,
        previousRole: Role.ROLE_ADMIN,
      });

      const demoted = await setRole(userId, Role.ROLE_USER, refreshed.tokens);
      expect(demoted.previousRole).toBe(Role.ROLE_ADMIN);
      expect(await accepted(refreshed.tokens)).toBe(false);
      expect((await failure(refresh(refreshed.tokens))).code).toBe(status.UNAUTHENTICATED);
      const event = payloadOf(await revokedEvent(sessionOf(ann.tokens)), SessionsRevoked.decode);
      expect([event.all, event.reason]).toEqual([true, RevocationReason.REVOCATION_REASON_ROLE_CHANGED]);
      expect(
        f.events.filter((e) => e.type === 'auth.account.role_changed' && e.key === userId).map((e) => e.id),
      ).toHaveLength(2);
    });

    it('is for admins only', async () => {
      const ann = await register();
      const request = { userId: ann.user?.userId ?? '', role: Role.ROLE_ADMIN };
      const byUser = await failure(call(client, client.setUserRole, request, bearer(f, ann.tokens)));
      expect(byUser.code).toBe(status.PERMISSION_DENIED);
      const byService = await failure(
        call(client, client.setUserRole, request, f.auth.bearer(await f.auth.serviceToken('chat'))),
      );
      expect(byService.code).toBe(status.PERMISSION_DENIED);
      const anonymous = await failure(call(client, client.setUserRole, request));
      expect(anonymous.code).toBe(status.UNAUTHENTICATED);
    });

    it('answers NOT_FOUND, INVALID_ARGUMENT, and FAILED_PRECONDITION for the last admin', async () => {
      const missing = await failure(setRole(randomUUID(), Role.ROLE_ADMIN));
      expect([missing.code, reasonOf(missing)]).toEqual([status.NOT_FOUND, 'ACCOUNT_NOT_FOUND']);
      expect(await violations(setRole('nope', Role.ROLE_UNSPECIFIED))).toEqual(['user_id', 'role']);
      const last = await failure(setRole(root.user?.userId ?? '', Role.ROLE_USER));
      expect([last.code, reasonOf(last)]).toEqual([status.FAILED_PRECONDITION, 'LAST_ADMIN']);
      expect(await accepted(root.tokens)).toBe(true);
    });
  });

  describe('IssueServiceToken', () => {
    it('exchanges a service secret for a short-lived service token, without any token', async () => {
      const res = await call(client, client.issueServiceToken, { serviceName: 'chat', serviceSecret: CHAT_SECRET });
      await expect(f.auth.authenticator.verifyToken(res.serviceToken)).resolves.toMatchObject({
        kind: 'service',
        service: 'chat',
      });
      const claims = claimsOf(res.serviceToken);
      expect((claims.exp as number) - (claims.iat as number)).toBe(600);
      expect(res.expireTime?.getTime()).toBe((claims.exp as number) * 1000);
      // It opens internal methods of other services.
      const batch = await call(
        f.users,
        f.users.batchGetUsers,
        { userIds: [randomUUID()] },
        f.auth.bearer(res.serviceToken),
      );
      expect(batch.users).toEqual([]);
    });

    it('refuses a wrong secret and an unknown service alike', async () => {
      for (const request of [
        { serviceName: 'chat', serviceSecret: `${CHAT_SECRET}x` },
        { serviceName: 'chat', serviceSecret: CHAT_SECRET.toUpperCase() },
        { serviceName: 'user', serviceSecret: CHAT_SECRET },
        { serviceName: 'Not A Name', serviceSecret: CHAT_SECRET },
      ]) {
        const refused = await failure(call(client, client.issueServiceToken, request));
        expect([refused.code, reasonOf(refused)]).toEqual([status.UNAUTHENTICATED, 'SERVICE_CREDENTIALS_INVALID']);
      }
      expect(await violations(call(client, client.issueServiceToken, { serviceName: '', serviceSecret: '' }))).toEqual([
        'service_name',
        'service_secret',
      ]);
    });
  });

  describe('user.user.deleted', () => {
    it('ends the sessions and deletes the credentials of a deleted user, once', async () => {
      const who = f.unique('gone');
      const registered = await register(who);
      const other = await login(who.email);
      const userId = registered.user?.userId ?? '';
      await call(f.users, f.users.deleteUser, { userId }, bearer(f, registered.tokens));

      const revoked = await f.waitForEvent(
        (e) => e.type === 'auth.session.revoked' && e.key === userId,
        'auth.session.revoked for the deleted user',
      );
      const payload = payloadOf(revoked, SessionsRevoked.decode);
      expect([payload.all, payload.reason]).toEqual([true, RevocationReason.REVOCATION_REASON_USER_DELETED]);
      expect([...payload.sessionIds].sort()).toEqual([sessionOf(registered.tokens), sessionOf(other.tokens)].sort());
      expect(await accepted(registered.tokens)).toBe(false);
      expect(await accepted(other.tokens)).toBe(false);
      expect((await failure(refresh(other.tokens))).code).toBe(status.UNAUTHENTICATED);
      expect((await failure(login(who.email))).code).toBe(status.UNAUTHENTICATED);

      // A redelivery of the same event changes and publishes nothing.
      const deleted = f.events.find((e) => e.type === 'user.user.deleted' && e.key === userId) as EventEnvelope;
      await f.bus.publish('user.events', [deleted]);
      await new Promise((r) => setTimeout(r, 100));
      expect(f.events.filter((e) => e.type === 'auth.session.revoked' && e.key === userId)).toHaveLength(1);

      // The email can be registered again, as a new user.
      const again = await register({ email: who.email });
      expect(again.user?.userId).not.toBe(userId);
    });
  });

  describe('GetJwks', () => {
    it('publishes the verification keys; rotating them logs nobody out', async () => {
      const before = await register();
      const jwks = await call(client, client.getJwks, {});
      expect(jwks.keys.map((k) => k.kid)).toEqual(f.auth.ring.publicJwks().keys.map((k) => k.kid));
      expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      const remote = createTokenAuthenticator({
        issuer: TEST_ISSUER,
        audience: TEST_AUDIENCE,
        serviceAudience: TEST_SERVICE_AUDIENCE,
        jwks: authServiceJwksSource(f.pool, f.authAddress),
        revocations: f.auth.revocations,
      });
      await remote.verifyAccessToken(before.tokens?.accessToken ?? '');

      const oldKid = jwks.keys[0]?.kid;
      await f.auth.ring.rotate();
      const after = await refresh(before.tokens);
      const header = JSON.parse(
        Buffer.from(after.tokens?.accessToken.split('.')[0] ?? '', 'base64url').toString('utf8'),
      ) as { kid: string };
      expect(header.kid).not.toBe(oldKid);
      // The staged key was published before it signed: a verifier holding the old set knows it.
      await remote.verifyAccessToken(after.tokens?.accessToken ?? '');
      await remote.verifyAccessToken(before.tokens?.accessToken ?? '');
      const rotated = await call(client, client.getJwks, {});
      expect(rotated.keys.map((k) => k.kid)).toContain(oldKid);
    });
  });
});
