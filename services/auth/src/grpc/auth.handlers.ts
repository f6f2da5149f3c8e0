import { AuthServiceService, type Jwk } from '@messenger/gen/messenger/auth/v1/auth';
import type { SigningKeyRing } from '@messenger/platform/auth';
import { type CallContext, type ServiceRegistration, service } from '@messenger/platform/grpc';
import { userTokenRequired } from '../domain/auth-errors.ts';
import type { AuthUseCases, UserActor } from '../domain/auth-use-cases.ts';
import type { EmailUseCases } from '../domain/email-use-cases.ts';
import type { OAuthUseCases } from '../domain/oauth-use-cases.ts';
import { toRoleMessage } from '../events/auth-events.ts';
import { fromRoleMessage, toTokenPairMessage, toUserMessage } from './auth-mapper.ts';

/** Thin: decode the request, call one use case, encode the answer. Errors map in the platform. */
export function authServiceHandlers(
  auth: AuthUseCases,
  oauth: OAuthUseCases,
  email: EmailUseCases,
  keys: SigningKeyRing,
): ServiceRegistration {
  return service(AuthServiceService, {
    register: async (req, ctx) => {
      const { tokens, user } = await auth.register(ctx.requestId, req);
      return { tokens: toTokenPairMessage(tokens), user: toUserMessage(user) };
    },
    login: async (req, ctx) => {
      const { tokens, user } = await auth.login(ctx.requestId, req);
      return { tokens: toTokenPairMessage(tokens), user: toUserMessage(user) };
    },
    refreshToken: async (req, ctx) => ({
      tokens: toTokenPairMessage(await auth.refresh(ctx.requestId, req.refreshToken)),
    }),
    logout: async (req, ctx) => ({
      revokedSessionCount: await auth.logout(ctx.requestId, userActorOf(ctx), req.allSessions),
    }),
    startOAuth: async (req) => {
      const started = await oauth.start(req.provider, req.redirectUri);
      return { authorizationUrl: started.authorizationUrl, state: started.state, expireTime: started.expireTime };
    },
    completeOAuth: async (req, ctx) => {
      const done = await oauth.complete(ctx.requestId, req);
      return { tokens: toTokenPairMessage(done.tokens), user: toUserMessage(done.user), created: done.created };
    },
    requestEmailVerification: async (_req, ctx) => {
      const sent = await email.requestEmailVerification(userActorOf(ctx).userId);
      return { email: sent.email, expireTime: sent.expireTime };
    },
    verifyEmail: async (req, ctx) => {
      const verified = await email.verifyEmail(ctx.requestId, req.token);
      return { userId: verified.userId, email: verified.email, role: toRoleMessage(verified.role) };
    },
    forgotPassword: async (req, ctx) => {
      email.forgotPassword(ctx.requestId, req.email);
      return {};
    },
    resetPassword: async (req, ctx) => ({
      revokedSessionCount: await email.resetPassword(ctx.requestId, req),
    }),
    getJwks: async () => ({
      keys: keys.publicJwks().keys.map(
        (k): Jwk => ({
          kty: k.kty ?? '',
          crv: k.crv ?? '',
          x: k.x ?? '',
          y: k.y ?? '',
          kid: k.kid ?? '',
          alg: k.alg ?? '',
          use: k.use ?? '',
        }),
      ),
    }),
    setUserRole: async (req, ctx) => {
      const admin = userActorOf(ctx);
      const changed = await auth.setUserRole(ctx.requestId, admin.userId, {
        userId: req.userId,
        role: fromRoleMessage(req.role),
      });
      return {
        userId: changed.userId,
        role: toRoleMessage(changed.role),
        previousRole: toRoleMessage(changed.previous),
      };
    },
    issueServiceToken: async (req) => {
      const issued = await auth.issueServiceToken(req);
      return { serviceToken: issued.token, expireTime: issued.expireTime };
    },
  });
}

/** Logout, RequestEmailVerification and SetUserRole act for a signed-in user; a service credential alone names no user. */
function userActorOf(ctx: CallContext): UserActor {
  if (ctx.caller.kind === 'user') return { userId: ctx.caller.userId, sessionId: ctx.caller.sessionId };
  throw userTokenRequired();
}
