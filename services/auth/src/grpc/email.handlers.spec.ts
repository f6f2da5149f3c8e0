// Email verification and password reset over gRPC, end to end: auth sends
// real mail to a real SMTP server on loopback, the test reads it as its
// recipient would and follows the link's token back to auth.
import { createHash } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { Role } from '@messenger/gen/messenger/auth/v1/auth';
import { RevocationReason, SessionsRevoked } from '@messenger/gen/messenger/auth/v1/events';
import { reasonOf } from '@messenger/platform/grpc';
import {
  type AuthFixture,
  bearer,
  call,
  failure,
  LINK_BASE,
  MAIL_FROM,
  PASSWORD,
  payloadOf,
  sessionOf,
  startAuthFixture,
  violations,
} from '../testing/auth-fixture.ts';

const sha256 = (token: string) => createHash('sha256').update(token).digest('base64url');

describe('email verification and password reset over gRPC, with a real SMTP server', () => {
  let f: AuthFixture;

  beforeAll(async () => {
    // A new mail may follow the previous one at once here; the resend interval has its own test.
    f = await startAuthFixture({ mail: { resendIntervalSeconds: 0 } });
  });
  afterAll(async () => {
    await f.close();
  });

  const requestVerification = (tokens: Parameters<typeof bearer>[1]) =>
    call(f.client, f.client.requestEmailVerification, {}, bearer(f, tokens));
  const verify = (token: string) => call(f.client, f.client.verifyEmail, { token });
  const forgot = (email: string) => call(f.client, f.client.forgotPassword, { email });
  const reset = (token: string, newPassword: string) => call(f.client, f.client.resetPassword, { token, newPassword });

  describe('RequestEmailVerification and VerifyEmail', () => {
    it('mails a one-time link to the account address; its token verifies the email once', async () => {
      const who = f.unique('verify');
      const registered = await f.register(who);
      const userId = registered.user?.userId ?? '';
      await expect(f.store.getAccount(userId)).resolves.toMatchObject({ emailVerified: false });

      const since = f.smtp.mails.length;
      const sent = await requestVerification(registered.tokens);
      expect(sent.email).toBe(who.email);
      const ttl = (sent.expireTime?.getTime() ?? 0) - Date.now();
      expect(ttl).toBeGreaterThan(24 * 3600 * 1000 - 60_000);
      expect(ttl).toBeLessThanOrEqual(24 * 3600 * 1000);

      const mail = await f.smtp.nextMail(who.email, { since });
      expect(mail.envelopeTo).toEqual([who.email]);
      expect(mail.headers.get('from')).toBe(MAIL_FROM);
      expect(mail.headers.get('subject')).toBe('Verify your email address');
      expect(mail.link).toBe(`${LINK_BASE}/verify-email#token=${mail.token}`);
      expect(mail.text).toContain('expires in 24 hours');
      const token = mail.token ?? '';
      // Stored only as its SHA-256.
      await expect(f.store.findEmailToken(token, new Date())).resolves.toBeUndefined();
      await expect(f.store.findEmailToken(sha256(token), new Date())).resolves.toMatchObject({
        userId,
        purpose: 'verify_email',
      });

      await expect(verify(token)).resolves.toEqual({ userId, email: who.email, role: Role.ROLE_USER });
      await expect(f.store.getAccount(userId)).resolves.toMatchObject({ emailVerified: true, role: 'user' });
      const used = await failure(verify(token));
      expect([used.code, reasonOf(used)]).toEqual([status.FAILED_PRECONDITION, 'EMAIL_TOKEN_INVALID']);
      const again = await failure(requestVerification(registered.tokens));
      expect([again.code, reasonOf(again)]).toEqual([status.FAILED_PRECONDITION, 'EMAIL_ALREADY_VERIFIED']);
    });

    it('voids the earlier link when a new one is sent', async () => {
      const who = f.unique('twice');
      const registered = await f.register(who);
      const first = await f.requestVerificationMail(registered.tokens, who.email);
      const second = await f.requestVerificationMail(registered.tokens, who.email);
      expect(second.token).not.toBe(first.token);
      const stale = await failure(verify(first.token ?? ''));
      expect(reasonOf(stale)).toBe('EMAIL_TOKEN_INVALID');
      await expect(verify(second.token ?? '')).resolves.toMatchObject({ email: who.email });
    });

    it('refuses an expired link', async () => {
      await f.restartAuth({ mail: { ...currentMail(f), verificationTtlSeconds: 1 } });
      try {
        const who = f.unique('late');
        const registered = await f.register(who);
        const mail = await f.requestVerificationMail(registered.tokens, who.email);
        await new Promise((r) => setTimeout(r, 1100));
        const expired = await failure(verify(mail.token ?? ''));
        expect([expired.code, reasonOf(expired)]).toEqual([status.FAILED_PRECONDITION, 'EMAIL_TOKEN_INVALID']);
      } finally {
        await f.restartAuth({ mail: { ...currentMail(f), verificationTtlSeconds: 24 * 3600 } });
      }
    });

    it('answers UNAVAILABLE when the mail server refuses, and lets the user ask again at once', async () => {
      const who = f.unique('down');
      const registered = await f.register(who);
      f.smtp.refuseWith = '451 try again later';
      try {
        const refused = await failure(requestVerification(registered.tokens));
        expect([refused.code, reasonOf(refused)]).toEqual([status.UNAVAILABLE, 'MAIL_UNAVAILABLE']);
        expect(refused.details).not.toMatch(/451|try again later/);
      } finally {
        f.smtp.refuseWith = undefined;
      }
      const mail = await f.requestVerificationMail(registered.tokens, who.email);
      await expect(verify(mail.token ?? '')).resolves.toMatchObject({ email: who.email });
    });

    it('refuses bad tokens with typed errors', async () => {
      expect(await violations(verify(''))).toEqual(['token']);
      expect(await violations(verify('not a token'))).toEqual(['token']);
      const unknown = await failure(verify('A'.repeat(43)));
      expect([unknown.code, reasonOf(unknown)]).toEqual([status.FAILED_PRECONDITION, 'EMAIL_TOKEN_INVALID']);
      // A password-reset token is not a verification token.
      const who = f.unique('purpose');
      await f.register(who);
      const since = f.smtp.mails.length;
      await forgot(who.email);
      const resetMail = await f.smtp.nextMail(who.email, { subject: 'Reset', since });
      const wrongKind = await failure(verify(resetMail.token ?? ''));
      expect(reasonOf(wrongKind)).toBe('EMAIL_TOKEN_INVALID');
    });

    it('is for a signed-in user only', async () => {
      const anonymous = await failure(call(f.client, f.client.requestEmailVerification, {}));
      expect(anonymous.code).toBe(status.UNAUTHENTICATED);
      const service = await failure(
        call(f.client, f.client.requestEmailVerification, {}, f.auth.bearer(await f.auth.serviceToken('chat'))),
      );
      expect([service.code, reasonOf(service)]).toEqual([status.PERMISSION_DENIED, 'USER_TOKEN_REQUIRED']);
    });
  });

  describe('ForgotPassword and ResetPassword', () => {
    it('mails a reset link; the new password works, the old one and every session end', async () => {
      const who = f.unique('reset');
      const registered = await f.register(who);
      const other = await f.login(who.email);
      const userId = registered.user?.userId ?? '';

      const since = f.smtp.mails.length;
      await expect(forgot(who.email.toUpperCase())).resolves.toEqual({});
      const mail = await f.smtp.nextMail(who.email, { subject: 'Reset your password', since });
      expect(mail.link).toBe(`${LINK_BASE}/reset-password#token=${mail.token}`);
      expect(mail.text).toContain('expires in 1 hour');

      const done = await reset(mail.token ?? '', 'a brand new password');
      expect(done.revokedSessionCount).toBe(2);
      for (const tokens of [registered.tokens, other.tokens]) {
        expect(await f.accepted(tokens)).toBe(false);
        expect((await failure(f.refresh(tokens))).code).toBe(status.UNAUTHENTICATED);
      }
      const event = payloadOf(await f.revokedEvent(sessionOf(registered.tokens)), SessionsRevoked.decode);
      expect(event.all).toBe(true);
      expect(event.reason).toBe(RevocationReason.REVOCATION_REASON_PASSWORD_RESET);
      expect([...event.sessionIds].sort()).toEqual([sessionOf(registered.tokens), sessionOf(other.tokens)].sort());

      const old = await failure(f.login(who.email, PASSWORD));
      expect([old.code, reasonOf(old)]).toEqual([status.UNAUTHENTICATED, 'INVALID_CREDENTIALS']);
      const signedIn = await f.login(who.email, 'a brand new password');
      expect(signedIn.user?.userId).toBe(userId);
      // The link reached the mailbox: the email counts as verified.
      await expect(f.store.getAccount(userId)).resolves.toMatchObject({ emailVerified: true });
      // Single use.
      const replay = await failure(reset(mail.token ?? '', 'yet another password'));
      expect([replay.code, reasonOf(replay)]).toEqual([status.FAILED_PRECONDITION, 'EMAIL_TOKEN_INVALID']);
    });

    it('answers the same for an unknown address, and sends it nothing', async () => {
      const nobody = f.unique('nobody').email;
      const known = f.unique('known');
      await f.register(known);
      const since = f.smtp.mails.length;
      const [forUnknown, forKnown] = [await forgot(nobody), await forgot(known.email)];
      expect(forUnknown).toEqual(forKnown);
      await f.smtp.nextMail(known.email, { since });
      // Give a mail to the unknown address every chance to arrive.
      await new Promise((r) => setTimeout(r, 200));
      expect(f.smtp.mails.slice(since).flatMap((m) => m.envelopeTo)).toEqual([known.email]);
    });

    it('answers the same even when the mail cannot be sent', async () => {
      const who = f.unique('quiet');
      await f.register(who);
      f.smtp.refuseWith = '554 no';
      try {
        await expect(forgot(who.email)).resolves.toEqual({});
      } finally {
        await new Promise((r) => setTimeout(r, 200));
        f.smtp.refuseWith = undefined;
      }
    });

    it('refuses bad input with field violations', async () => {
      expect(await violations(forgot('not an email'))).toEqual(['email']);
      expect(await violations(reset('', ''))).toEqual(['token', 'new_password']);
      expect(await violations(reset('A'.repeat(43), 'short'))).toEqual(['new_password']);
      const unknown = await failure(reset('A'.repeat(43), 'long enough password'));
      expect([unknown.code, reasonOf(unknown)]).toEqual([status.FAILED_PRECONDITION, 'EMAIL_TOKEN_INVALID']);
    });
  });

  describe('the resend interval', () => {
    let g: AuthFixture;
    beforeAll(async () => {
      g = await startAuthFixture();
    });
    afterAll(async () => {
      await g?.close();
    });

    it('allows one mail a minute per account; the first link keeps working', async () => {
      const who = g.unique('often');
      const registered = await g.register(who);
      const mail = await g.requestVerificationMail(registered.tokens, who.email);
      const tooSoon = await failure(
        call(g.client, g.client.requestEmailVerification, {}, bearer(g, registered.tokens)),
      );
      expect([tooSoon.code, reasonOf(tooSoon)]).toEqual([status.RESOURCE_EXHAUSTED, 'EMAIL_RECENTLY_SENT']);
      await expect(call(g.client, g.client.verifyEmail, { token: mail.token ?? '' })).resolves.toMatchObject({
        email: who.email,
      });
    });
  });
});

/** The fixture's mail settings, as `restartAuth` replaces them whole. */
function currentMail(f: AuthFixture) {
  return { smtpUrl: f.smtp.url, from: MAIL_FROM, linkBaseUrl: LINK_BASE, resendIntervalSeconds: 0 };
}
