// Email verification and password reset through the gateway over HTTP, as an
// app would drive them, against the whole system (startSystem) configured
// with a real SMTP server on loopback: the test reads each mail as its
// recipient would and posts the link's token back.
import { type ReceivedMail, startTestSmtpServer, type TestSmtpServer } from '@messenger/auth/testing';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import { type Account, Gateway } from './support/http.ts';
import { SYSTEM_ENV } from './support/system.ts';

const APP = 'https://app.messenger.test';

describe('email verification and password reset over HTTP, whole system with SMTP', () => {
  let smtp: TestSmtpServer;
  let system: RunningSystem;
  let gw: Gateway;

  beforeAll(async () => {
    smtp = await startTestSmtpServer();
    system = await startSystem(
      loadEmbeddedConfig({
        ...SYSTEM_ENV,
        AUTH_SMTP_URL: smtp.url,
        AUTH_MAIL_FROM: 'Messenger <no-reply@messenger.test>',
        AUTH_EMAIL_LINK_BASE_URL: APP,
        AUTH_SCRYPT_LOG_N: '12',
      }),
    );
    gw = new Gateway(system.gatewayUrl);
  }, 30_000);
  afterAll(async () => {
    await system?.stop();
    await smtp?.close();
  });

  /** The token of the next mail to `who` about `subject`, once it arrives. */
  const tokenFrom = async (who: Account, subject: string, since: number): Promise<string> => {
    const mail: ReceivedMail = await smtp.nextMail(who.email, { subject, since });
    expect(mail.link?.startsWith(`${APP}/`)).toBe(true);
    return mail.token ?? '';
  };

  it('verifies an email, then resets the password and signs in with the new one', async () => {
    const ann = await gw.register('ann');

    let since = smtp.mails.length;
    const sent = await gw.ok('POST', '/v1/auth/email/verification', ann.accessToken, {});
    expect(sent.email).toBe(ann.email);
    const verifyToken = await tokenFrom(ann, 'Verify', since);
    const verified = await gw.ok('POST', '/v1/auth/email/verify', undefined, { token: verifyToken });
    expect(verified).toEqual({ userId: ann.userId, email: ann.email, role: 'ROLE_USER' });
    const reused = await gw.request('POST', '/v1/auth/email/verify', undefined, { token: verifyToken });
    expect(reused.status).toBe(400);
    expect(JSON.stringify(reused.body)).toContain('EMAIL_TOKEN_INVALID');

    since = smtp.mails.length;
    expect(await gw.ok('POST', '/v1/auth/password/forgot', undefined, { email: ann.email })).toEqual({});
    const resetToken = await tokenFrom(ann, 'Reset', since);
    const reset = await gw.ok('POST', '/v1/auth/password/reset', undefined, {
      token: resetToken,
      newPassword: 'an entirely new password',
    });
    expect(reset).toEqual({ revokedSessionCount: 1 });
    // The session from before the reset is over at the gateway too.
    expect((await gw.request('GET', `/v1/users/${ann.userId}`, ann.accessToken)).status).toBe(401);
    expect(
      (await gw.request('POST', '/v1/auth/login', undefined, { email: ann.email, password: ann.password })).status,
    ).toBe(401);
    const signedIn = await gw.ok('POST', '/v1/auth/login', undefined, {
      email: ann.email,
      password: 'an entirely new password',
    });
    expect((signedIn.user as { userId: string }).userId).toBe(ann.userId);
  });

  it('answers bad input with 400 and the field at fault', async () => {
    const bad = await gw.request('POST', '/v1/auth/password/reset', undefined, { token: 'x', newPassword: 'short' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/new_password|newPassword/);
    const anonymous = await gw.request('POST', '/v1/auth/email/verification', undefined, {});
    expect(anonymous.status).toBe(401);
  });
});
