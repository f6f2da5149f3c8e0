// What other packages' tests may use from auth's test harnesses (`@messenger/auth/testing`).

export { type AuthFixture, type AuthFixtureOptions, startAuthFixture } from './auth-fixture.ts';
export { type ReceivedMail, startTestSmtpServer, type TestSmtpServer } from './smtp-test-server.ts';
