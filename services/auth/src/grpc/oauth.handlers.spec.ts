// OAuth sign-in against a real OpenID provider (oidc-provider) on loopback,
// its login and consent pages walked over HTTP as a browser would.
import { status } from '@grpc/grpc-js';
import { type CompleteOAuthResponse, Role } from '@messenger/gen/messenger/auth/v1/auth';
import { AccountCreated } from '@messenger/gen/messenger/auth/v1/events';
import { reasonOf } from '@messenger/platform/grpc';
import {
  type AuthFixture,
  bearer,
  call,
  claimsOf,
  failure,
  LISTED_EMAILS,
  startAuthFixture,
  violations,
} from '../testing/auth-fixture.ts';
import { startTestOidcProvider, type TestOidcProvider } from '../testing/oidc-test-provider.ts';

const REDIRECT = 'https://app.example.test/oauth/callback';
const OTHER_REDIRECT = 'https://app.example.test/other/callback';

describe('OAuth sign-in over gRPC', () => {
  let idp: TestOidcProvider;
  let idpClaims: TestOidcProvider;
  let f: AuthFixture;

  beforeAll(async () => {
    idp = await startTestOidcProvider({ redirectUris: [REDIRECT, OTHER_REDIRECT] });
    idpClaims = await startTestOidcProvider({ redirectUris: [REDIRECT], conformIdTokenClaims: false });
    const provider = (name: string, p: TestOidcProvider) => ({
      name,
      issuer: p.issuer,
      clientId: p.clientId,
      clientSecret: p.clientSecret,
      tokenEndpointAuthMethod: 'client_secret_basic' as const,
    });
    f = await startAuthFixture({
      oauth: {
        providers: [
          provider('idp', idp),
          provider('idp-claims', idpClaims),
          // Nothing listens there: the provider is down.
          { ...provider('down', idp), issuer: 'http://127.0.0.1:9' },
        ],
        redirectUris: [REDIRECT, OTHER_REDIRECT],
        timeoutSeconds: 2,
      },
    });
  });
  afterAll(async () => {
    await f?.close();
    await idp?.close();
    await idpClaims?.close();
  });

  let seq = 0;
  /** An account at the provider with a verified email unless told otherwise. */
  const person = (over: { email_verified?: boolean; preferred_username?: string; email?: string } = {}) => {
    const tag = `${++seq}${Math.floor(Math.random() * 1e6)}`;
    const claims = {
      sub: `sub-${tag}`,
      email: `person.${tag}@idp.example`,
      email_verified: true,
      preferred_username: `person_${tag}`,
      ...over,
    };
    idp.addAccount(claims);
    idpClaims.addAccount(claims);
    return claims;
  };
  const start = (provider = 'idp', redirectUri = REDIRECT) =>
    call(f.client, f.client.startOAuth, { provider, redirectUri });
  const complete = (request: { provider?: string; code: string; state: string; redirectUri?: string }) =>
    call(f.client, f.client.completeOAuth, { provider: 'idp', redirectUri: REDIRECT, ...request });
  /** Start, sign in at the provider, and return what the browser brings back. */
  const authorize = async (login: string, provider = 'idp', redirectUri = REDIRECT) => {
    const started = await start(provider, redirectUri);
    const back = await (provider === 'idp-claims' ? idpClaims : idp).signIn(started.authorizationUrl, login);
    return {
      started,
      code: back.searchParams.get('code') ?? '',
      state: back.searchParams.get('state') ?? '',
    };
  };
  const signIn = async (login: string, provider = 'idp'): Promise<CompleteOAuthResponse> => {
    const { code, state } = await authorize(login, provider);
    return complete({ provider, code, state });
  };

  it('starts a code flow with PKCE, state and nonce, keeping the verifier server-side', async () => {
    const started = await start();
    const url = new URL(started.authorizationUrl);
    expect(url.origin).toBe(idp.issuer);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: idp.clientId,
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'openid email profile',
      code_challenge_method: 'S256',
      state: started.state,
    });
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('nonce')).toBeTruthy();
    expect(url.searchParams.has('code_verifier')).toBe(false);
    const ttl = (started.expireTime?.getTime() ?? 0) - Date.now();
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
  });

  it('creates an account and profile on first sign-in, then signs the same account in', async () => {
    const alice = person();
    const first = await signIn(alice.sub);
    expect(first.created).toBe(true);
    expect(first.user?.nickname).toBe(alice.preferred_username);
    const userId = first.user?.userId ?? '';
    await expect(f.auth.authenticator.verifyAccessToken(first.tokens?.accessToken ?? '')).resolves.toMatchObject({
      userId,
      roles: ['user'],
    });
    const created = await f.waitForEvent((e) => e.type === 'auth.account.created' && e.key === userId);
    expect(AccountCreated.decode(created.payload?.value ?? new Uint8Array())).toMatchObject({
      email: alice.email,
      oauthProvider: 'idp',
    });

    const again = await signIn(alice.sub);
    expect([again.created, again.user?.userId]).toEqual([false, userId]);
    expect(claimsOf(again.tokens?.accessToken ?? '').sid).not.toBe(claimsOf(first.tokens?.accessToken ?? '').sid);
    // The refresh token works like any other.
    await call(f.client, f.client.refreshToken, { refreshToken: again.tokens?.refreshToken ?? '' });
    // An OAuth-only account has no password to sign in with.
    const login = await failure(call(f.client, f.client.login, { email: alice.email, password: 'any password' }));
    expect([login.code, reasonOf(login)]).toEqual([status.UNAUTHENTICATED, 'INVALID_CREDENTIALS']);
  });

  it('reads the email from the ID token when the provider puts it there', async () => {
    const erin = person();
    const res = await signIn(erin.sub, 'idp-claims');
    expect([res.created, res.user?.nickname]).toEqual([true, erin.preferred_username]);
    await expect(f.store.findAccountByEmail(erin.email)).resolves.toMatchObject({ id: res.user?.userId });
  });

  it('refuses to link an identity to an account whose email was never verified', async () => {
    // An attacker registers the victim's address first, and waits for the victim to sign in with a provider.
    const victim = person();
    const squatted = await call(f.client, f.client.register, {
      email: victim.email,
      password: 'attackers password',
      nickname: `squat_${seq}`,
    });
    const { code, state } = await authorize(victim.sub);
    const refused = await failure(complete({ code, state }));
    expect([refused.code, reasonOf(refused)]).toEqual([
      status.FAILED_PRECONDITION,
      'OAUTH_LINK_REQUIRES_VERIFIED_EMAIL',
    ]);
    expect(refused.details).toMatch(/verify the email/);
    await expect(f.store.findIdentity('idp', victim.sub)).resolves.toBeUndefined();
    // The squatter's sessions got nothing of the victim's.
    await expect(f.store.activeSessionIds(squatted.user?.userId ?? '', new Date())).resolves.toHaveLength(1);
  });

  it('links a new identity to the account that holds its verified email, once that account verified it too', async () => {
    const bob = person();
    const registered = await call(f.client, f.client.register, {
      email: bob.email.toUpperCase(),
      password: 'bobs password',
      nickname: `bob_${seq}`,
    });
    await f.verifyEmail(registered.tokens, bob.email);
    const res = await signIn(bob.sub);
    expect([res.created, res.user?.userId]).toEqual([false, registered.user?.userId]);
    // Both ways of signing in now reach the same account.
    const login = await call(f.client, f.client.login, { email: bob.email, password: 'bobs password' });
    expect(login.user?.userId).toBe(registered.user?.userId);
    expect((await signIn(bob.sub)).user?.userId).toBe(registered.user?.userId);
  });

  it('makes a sign-up with a listed, provider-verified email an admin, once: a demotion sticks', async () => {
    const root = await f.root();
    const listed = person({ email: LISTED_EMAILS[2] });
    const first = await signIn(listed.sub);
    expect(first.created).toBe(true);
    expect(claimsOf(first.tokens?.accessToken ?? '').roles).toEqual(['admin']);
    const created = await f.waitForEvent((e) => e.type === 'auth.account.created' && e.key === first.user?.userId);
    expect(AccountCreated.decode(created.payload?.value ?? new Uint8Array()).role).toBe(Role.ROLE_ADMIN);
    await call(
      f.client,
      f.client.setUserRole,
      { userId: first.user?.userId ?? '', role: Role.ROLE_USER },
      bearer(f, root.tokens),
    );
    const again = await signIn(listed.sub);
    expect(claimsOf(again.tokens?.accessToken ?? '').roles).toEqual(['user']);
  });

  it('suffixes a derived nickname that is taken', async () => {
    const dave = person();
    await call(f.client, f.client.register, {
      email: `holder.${seq}@example.com`,
      password: 'holders password',
      nickname: dave.preferred_username,
    });
    const res = await signIn(dave.sub);
    expect(res.created).toBe(true);
    expect(res.user?.nickname).toMatch(new RegExp(`^${dave.preferred_username}\\d+$`));
  });

  it('refuses a tampered state, and the untouched one still works once', async () => {
    const { code, state } = await authorize(person().sub);
    const tampered = state.slice(0, -1) + (state.endsWith('A') ? 'B' : 'A');
    const refused = await failure(complete({ code, state: tampered }));
    expect([refused.code, reasonOf(refused)]).toEqual([status.FAILED_PRECONDITION, 'OAUTH_STATE_INVALID']);
    await complete({ code, state });
  });

  it('refuses a replayed code and a replayed state', async () => {
    const carl = person();
    const { code, state } = await authorize(carl.sub);
    await complete({ code, state });
    // The same callback again: the state is single use.
    const replayed = await failure(complete({ code, state }));
    expect([replayed.code, reasonOf(replayed)]).toEqual([status.FAILED_PRECONDITION, 'OAUTH_STATE_INVALID']);
    // The used code under a fresh, valid state: the provider refuses it.
    const fresh = await start();
    const reused = await failure(complete({ code, state: fresh.state }));
    expect([reused.code, reasonOf(reused)]).toEqual([status.UNAUTHENTICATED, 'OAUTH_CODE_REJECTED']);
  });

  it('refuses an identity whose email is not verified, creating nothing', async () => {
    const mallory = person({ email_verified: false });
    const { code, state } = await authorize(mallory.sub);
    const refused = await failure(complete({ code, state }));
    expect([refused.code, reasonOf(refused)]).toEqual([status.UNAUTHENTICATED, 'OAUTH_EMAIL_NOT_VERIFIED']);
    await expect(f.store.findAccountByEmail(mallory.email)).resolves.toBeUndefined();
    await expect(f.store.findIdentity('idp', mallory.sub)).resolves.toBeUndefined();
  });

  it('refuses a state issued for another redirect URI or provider', async () => {
    const viaOther = await authorize(person().sub, 'idp', OTHER_REDIRECT);
    const wrongUri = await failure(complete({ code: viaOther.code, state: viaOther.state, redirectUri: REDIRECT }));
    expect([wrongUri.code, reasonOf(wrongUri)]).toEqual([status.FAILED_PRECONDITION, 'OAUTH_STATE_INVALID']);
    const viaIdp = await authorize(person().sub);
    const wrongProvider = await failure(complete({ provider: 'idp-claims', code: viaIdp.code, state: viaIdp.state }));
    expect([wrongProvider.code, reasonOf(wrongProvider)]).toEqual([status.FAILED_PRECONDITION, 'OAUTH_STATE_INVALID']);
  });

  it('answers NOT_FOUND, INVALID_ARGUMENT and UNAVAILABLE', async () => {
    const unknown = await failure(start('nope'));
    expect([unknown.code, reasonOf(unknown)]).toEqual([status.NOT_FOUND, 'OAUTH_PROVIDER_NOT_FOUND']);
    const unknownComplete = await failure(complete({ provider: 'nope', code: 'c', state: 's' }));
    expect(unknownComplete.code).toBe(status.NOT_FOUND);
    expect(await violations(start('idp', 'https://evil.example/callback'))).toEqual(['redirect_uri']);
    expect(await violations(start('Bad Provider', ''))).toEqual(['provider', 'redirect_uri']);
    expect(await violations(complete({ code: '', state: '' }))).toEqual(['code', 'state']);
    const down = await failure(start('down'));
    expect([down.code, reasonOf(down)]).toEqual([status.UNAVAILABLE, 'OAUTH_PROVIDER_UNAVAILABLE']);
  });

  describe('with a small bound on started flows', () => {
    let bounded: AuthFixture;
    beforeAll(async () => {
      bounded = await startAuthFixture({
        oauth: {
          providers: [
            {
              name: 'idp',
              issuer: idp.issuer,
              clientId: idp.clientId,
              clientSecret: idp.clientSecret,
              tokenEndpointAuthMethod: 'client_secret_basic',
            },
          ],
          redirectUris: [REDIRECT],
          maxPendingAttempts: 2,
        },
      });
    });
    afterAll(async () => {
      await bounded?.close();
    });

    it('drops the oldest started flow beyond the bound; the newer ones complete', async () => {
      const start = () => call(bounded.client, bounded.client.startOAuth, { provider: 'idp', redirectUri: REDIRECT });
      const oldest = await start();
      const [middle, newest] = [await start(), await start()];
      const finish = async (started: { authorizationUrl: string }) => {
        const back = await idp.signIn(started.authorizationUrl, person().sub);
        return call(bounded.client, bounded.client.completeOAuth, {
          provider: 'idp',
          redirectUri: REDIRECT,
          code: back.searchParams.get('code') ?? '',
          state: back.searchParams.get('state') ?? '',
        });
      };
      const dropped = await failure(finish(oldest));
      expect([dropped.code, reasonOf(dropped)]).toEqual([status.FAILED_PRECONDITION, 'OAUTH_STATE_INVALID']);
      expect((await finish(middle)).created).toBe(true);
      expect((await finish(newest)).created).toBe(true);
    });
  });
});
