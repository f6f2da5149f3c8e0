// gRPC integration: the real auth service and the real user service on
// loopback ports, called with real tokens. Sessions and roles are in
// sessions.handlers.spec.ts, OAuth in oauth.handlers.spec.ts.
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { Role, type TokenPair } from '@messenger/gen/messenger/auth/v1/auth';
import { AccountCreated, RevocationReason, SessionsRevoked } from '@messenger/gen/messenger/auth/v1/events';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { createTokenAuthenticator, MAX_TOKEN_TTL_SECONDS } from '@messenger/platform/auth';
import { reasonOf } from '@messenger/platform/grpc';
import { authServiceJwksSource } from '@messenger/platform/runtime';
import { TEST_AUDIENCE, TEST_ISSUER, TEST_SERVICE_AUDIENCE } from '@messenger/platform/testing';
import {
  type AuthFixture,
  bearer,
  CHAT_SECRET,
  call,
  claimsOf,
  failure,
  LISTED_EMAILS,
  PASSWORD,
  payloadOf,
  sessionOf,
  startAuthFixture,
  TEST_SCRYPT,
  violations,
} from '../testing/auth-fixture.ts';

describe('AuthService over gRPC', () => {
  let f: AuthFixture;

  beforeAll(async () => {
    f = await startAuthFixture();
  });
  afterAll(async () => {
    await f.close();
  });

  describe('Register', () => {
    it('creates the account and its profile and signs it in', async () => {
      const { email, nickname } = f.unique('ann');
      const res = await f.register({ email: `  ${email.toUpperCase()} `, nickname });
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
      await expect(f.login(email.toLowerCase())).resolves.toMatchObject({ user: { userId } });
    });

    it('refuses a taken email, before creating any profile', async () => {
      const first = f.unique('dup');
      await f.register(first);
      const second = f.unique('dup2');
      const taken = await failure(f.register({ email: first.email.toUpperCase(), nickname: second.nickname }));
      expect([taken.code, reasonOf(taken)]).toEqual([status.ALREADY_EXISTS, 'EMAIL_TAKEN']);
      // The nickname was not used up by the refused registration.
      await f.register(second);
    });

    it('refuses a taken nickname and leaves no credential behind', async () => {
      const holder = f.unique('holder');
      await f.register(holder);
      const { email } = f.unique('victim');
      const taken = await failure(f.register({ email, nickname: holder.nickname.toUpperCase() }));
      expect([taken.code, reasonOf(taken)]).toEqual([status.ALREADY_EXISTS, 'NICKNAME_TAKEN']);
      const noAccount = await failure(f.login(email));
      expect(noAccount.code).toBe(status.UNAUTHENTICATED);
      // The email is free: the same person registers with another nickname.
      await f.register({ email, nickname: f.unique('victim').nickname });
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
      expect(await violations(f.register(over))).toEqual(fields);
    });

    it('accepts passwords of 8 and of 128 characters (code points)', async () => {
      await f.register({ password: '👍'.repeat(8) });
      const res = await f.register({ password: '👍'.repeat(128) });
      expect(res.tokens?.accessToken).toBeTruthy();
    });

    it('does not make an account admin for a listed email nobody has verified', async () => {
      // Anyone can type an address on AUTH_ADMIN_EMAILS into Register.
      const listed = LISTED_EMAILS[0];
      const res = await f.register({ email: listed.toUpperCase() });
      expect(claimsOf(res.tokens?.accessToken ?? '').roles).toEqual(['user']);
      const created = await f.waitForEvent((e) => e.type === 'auth.account.created' && e.key === res.user?.userId);
      expect(payloadOf(created, AccountCreated.decode).role).toBe(Role.ROLE_USER);
      // Signing in again does not promote it either.
      expect(claimsOf((await f.login(listed)).tokens?.accessToken ?? '').roles).toEqual(['user']);
      await expect(f.store.findAccountByEmail(listed)).resolves.toMatchObject({ role: 'user', emailVerified: false });
    });
  });

  describe('Login', () => {
    it('signs in with the right password, opening a new session each time', async () => {
      const who = f.unique('login');
      const registered = await f.register(who);
      const a = await f.login(who.email);
      const b = await f.login(who.email.toUpperCase());
      expect(a.user).toEqual(registered.user);
      expect(new Set([sessionOf(registered.tokens), sessionOf(a.tokens), sessionOf(b.tokens)]).size).toBe(3);
    });

    it('gives a wrong password and an unknown email the same answer, in similar time', async () => {
      const who = f.unique('enum');
      await f.register(who);
      const timed = async (email: string, pw: string) => {
        const started = performance.now();
        const error = await failure(f.login(email, pw));
        return { error, ms: performance.now() - started };
      };
      // Warm both paths once, then compare medians of a few tries each.
      await timed(who.email, 'wrong password');
      await timed(f.unique().email, PASSWORD);
      const wrong: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 3; i++) {
        const w = await timed(who.email, 'wrong password');
        const u = await timed(f.unique('nobody').email, PASSWORD);
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
      expect(await violations(f.login('', ''))).toEqual(['email', 'password']);
    });

    it('replaces a hash made with weaker scrypt params at the next sign-in', async () => {
      const who = f.unique('rehash');
      const registered = await f.register(who);
      const userId = registered.user?.userId ?? '';
      const stored = await f.store.getAccount(userId);
      expect(stored?.passwordHash).toMatch(/^\$scrypt\$ln=12,r=8,p=1\$/);
      // The service is upgraded to a higher cost: the stored hash verifies with its own params…
      await f.restartAuth({ scrypt: { ...TEST_SCRYPT, logN: 13 } });
      try {
        await f.login(who.email);
        // …and is replaced, in the sign-in's own step, by one with the current params.
        const rehashed = await f.store.getAccount(userId);
        expect(rehashed?.passwordHash).toMatch(/^\$scrypt\$ln=13,r=8,p=1\$/);
        expect(rehashed?.version).toBe((stored?.version ?? 0) + 1);
        // The new hash is of the same password; a wrong one still fails; nothing re-hashes again.
        await f.login(who.email);
        expect((await failure(f.login(who.email, 'wrong password'))).code).toBe(status.UNAUTHENTICATED);
        await expect(f.store.getAccount(userId)).resolves.toMatchObject({ passwordHash: rehashed?.passwordHash });
      } finally {
        await f.restartAuth({ scrypt: TEST_SCRYPT });
      }
    });
  });

  describe('IssueServiceToken', () => {
    it('exchanges a service secret for a short-lived service token, without any token', async () => {
      const res = await call(f.client, f.client.issueServiceToken, { serviceName: 'chat', serviceSecret: CHAT_SECRET });
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
        const refused = await failure(call(f.client, f.client.issueServiceToken, request));
        expect([refused.code, reasonOf(refused)]).toEqual([status.UNAUTHENTICATED, 'SERVICE_CREDENTIALS_INVALID']);
      }
      expect(
        await violations(call(f.client, f.client.issueServiceToken, { serviceName: '', serviceSecret: '' })),
      ).toEqual(['service_name', 'service_secret']);
    });
  });

  describe('user.user.deleted', () => {
    it('ends the sessions and deletes the credentials of a deleted user, once', async () => {
      const who = f.unique('gone');
      const registered = await f.register(who);
      const other = await f.login(who.email);
      const userId = registered.user?.userId ?? '';
      await call(f.users, f.users.deleteUser, { userId }, bearer(f, registered.tokens));

      const revoked = await f.waitForEvent(
        (e) => e.type === 'auth.session.revoked' && e.key === userId,
        'auth.session.revoked for the deleted user',
      );
      const payload = payloadOf(revoked, SessionsRevoked.decode);
      expect([payload.all, payload.reason]).toEqual([true, RevocationReason.REVOCATION_REASON_USER_DELETED]);
      expect([...payload.sessionIds].sort()).toEqual([sessionOf(registered.tokens), sessionOf(other.tokens)].sort());
      expect(await f.accepted(registered.tokens)).toBe(false);
      expect(await f.accepted(other.tokens)).toBe(false);
      expect((await failure(f.refresh(other.tokens))).code).toBe(status.UNAUTHENTICATED);
      expect((await failure(f.login(who.email))).code).toBe(status.UNAUTHENTICATED);

      // A redelivery of the same event changes and publishes nothing.
      const deleted = f.events.find((e) => e.type === 'user.user.deleted' && e.key === userId) as EventEnvelope;
      await f.bus.publish('user.events', [deleted]);
      await new Promise((r) => setTimeout(r, 100));
      expect(f.events.filter((e) => e.type === 'auth.session.revoked' && e.key === userId)).toHaveLength(1);

      // The email can be registered again, as a new user.
      const again = await f.register({ email: who.email });
      expect(again.user?.userId).not.toBe(userId);
    });
  });

  describe('GetJwks', () => {
    it('publishes the verification keys; rotating them logs nobody out', async () => {
      const before = await f.register();
      const jwks = await call(f.client, f.client.getJwks, {});
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
      const after = await f.refresh(before.tokens);
      const header = JSON.parse(
        Buffer.from(after.tokens?.accessToken.split('.')[0] ?? '', 'base64url').toString('utf8'),
      ) as { kid: string };
      expect(header.kid).not.toBe(oldKid);
      // The staged key was published before it signed: a verifier holding the old set knows it.
      await remote.verifyAccessToken(after.tokens?.accessToken ?? '');
      await remote.verifyAccessToken(before.tokens?.accessToken ?? '');
      const rotated = await call(f.client, f.client.getJwks, {});
      expect(rotated.keys.map((k) => k.kid)).toContain(oldKid);
    });
  });
});
