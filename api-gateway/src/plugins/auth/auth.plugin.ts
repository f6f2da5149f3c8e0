import { Access } from '@messenger/gen/messenger/options/v1/options';
import type { UserCaller } from '@messenger/platform/auth';
import { DomainError, ErrorKind } from '@messenger/platform/domain';
import type { EventBus } from '@messenger/platform/events';
import { authorize } from '@messenger/platform/grpc';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { Code, errorInfoDetail, GatewayError } from '../../errors/status.ts';
import { subscribeWhileOpen } from '../event-subscription.ts';
import { sessionRevocations } from './sessions.ts';
import { createTokenGate, type TokenGate, type TokenGateOptions } from './token-gate.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified end user; null on public routes. */
    caller: UserCaller | null;
    /** Epoch ms when the caller's token expires; 0 on public routes. */
    tokenExpiresAt: number;
  }
  interface FastifyInstance {
    /** The `realm` of every `WWW-Authenticate` challenge this gateway sends. */
    readonly bearerRealm: string;
    /** Whether this `Authorization` value was verified before and is remembered: checking it again costs no signature check. */
    readonly tokenRemembered: (header: string | undefined) => boolean;
    /** The `onRequest` check of routes the gateway serves itself that need a signed-in user (sets `caller`). */
    readonly authenticate: onRequestAsyncHookHandler;
    /**
     * The caller an RPC route of this access level would admit with this
     * `Authorization` value, when that is known without waiting (see
     * `TokenGate.acceptedNow`); undefined when only the route's hook can tell.
     */
    readonly admittedNow: (header: string, access: Access) => UserCaller | undefined;
  }
}

/** Token verification at the gateway (platform `createTokenAuthenticator` as `verifier`). */
export interface AuthOptions extends TokenGateOptions {
  /** The `realm` of `WWW-Authenticate`. Default `messenger`. */
  readonly realm?: string;
}

export interface AuthPluginOptions extends AuthOptions {
  /** Where `auth.session.revoked` comes from; absent, remembered verifications rely on `revocations`. */
  readonly eventBus?: EventBus;
  /** Told the ids of sessions that ended, after their tokens stopped working here (streams end with them). */
  readonly onSessionsRevoked?: (sessionIds: readonly string[]) => void;
}

const DEFAULT_REALM = 'messenger';
/** Printable ASCII but `"` and `\`: it stands inside a quoted header parameter. */
const REALM = /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,100}$/;

/**
 * Every RPC route whose contract is not ACCESS_PUBLIC gets, as its first
 * `onRequest` hook, the check of its bearer token and access level, so
 * nothing else (rate limit, cache, upstream call) runs for a caller who is
 * not admitted. Public routes get no hook at all. Revoked sessions
 * (`auth.session.revoked`) stop working at once, here and in their streams.
 */
async function auth(app: FastifyInstance, opts: AuthPluginOptions): Promise<void> {
  if (typeof opts.verifier?.verifyAccessToken !== 'function') {
    throw new TypeError('gateway: auth.verifier must have a verifyAccessToken method');
  }
  const realm = opts.realm ?? DEFAULT_REALM;
  if (!REALM.test(realm)) {
    throw new TypeError(
      'gateway: auth.realm must be 1 to 100 printable ASCII characters, without quotes or backslashes',
    );
  }
  const gate = createTokenGate(opts);
  app.decorate('bearerRealm', realm);
  app.decorate('tokenRemembered', gate.remembers);
  app.decorate('authenticate', authHook(gate, Access.ACCESS_AUTHENTICATED, realm));
  app.decorate('admittedNow', (header: string, access: Access) => {
    const verified = gate.acceptedNow(header);
    return verified !== undefined && admits(access, verified.caller) ? verified.caller : undefined;
  });
  app.decorateRequest('caller', null);
  app.decorateRequest('tokenExpiresAt', 0);

  app.addHook('onRoute', (route) => {
    const rpc = route.config?.rpc;
    if (rpc === undefined || rpc.method.access === Access.ACCESS_PUBLIC) return;
    const others = route.onRequest === undefined ? [] : [route.onRequest].flat();
    route.onRequest = [authHook(gate, rpc.method.access, realm), ...others];
  });

  const bus = opts.eventBus;
  if (bus === undefined) return;
  subscribeWhileOpen(
    app,
    'session events',
    bus,
    sessionRevocations((ids) => {
      gate.revokeSessions(ids);
      opts.onSessionsRevoked?.(ids);
    }, app.log),
  );
}

export const authPlugin = fp(auth, { name: 'messenger-auth', fastify: '5.x' });

/**
 * The `onRequest` hook of a non-public route: a bearer token must be present
 * and verify, and the declared access level must admit the caller.
 */
function authHook(gate: TokenGate, access: Access, realm: string): onRequestAsyncHookHandler {
  return async (req: FastifyRequest, _reply: FastifyReply) => {
    try {
      const verified = await gate.verifyHeader(req.headers.authorization);
      authorize(declared(access), verified.caller);
      req.caller = verified.caller;
      req.tokenExpiresAt = verified.expiresAt;
    } catch (error) {
      throw toAuthError(error, realm);
    }
  };
}

/** An RPC that declares no access level is for signed-in users. */
function declared(access: Access): Access {
  return access === Access.ACCESS_UNSPECIFIED ? Access.ACCESS_AUTHENTICATED : access;
}

function admits(access: Access, caller: UserCaller): boolean {
  try {
    authorize(declared(access), caller);
    return true;
  } catch {
    return false;
  }
}

function toAuthError(error: unknown, realm: string): unknown {
  if (!(error instanceof DomainError)) return error;
  const details = [errorInfoDetail(error.reason)];
  switch (error.kind) {
    case ErrorKind.Unauthenticated: {
      // A request that sent no credential at all gets a bare challenge: an
      // error attribute would tell a client its (absent) token was bad.
      const challenge =
        error.reason === 'CREDENTIALS_MISSING'
          ? `Bearer realm="${realm}"`
          : `Bearer realm="${realm}", error="invalid_token", error_description="${error.message}"`;
      return new GatewayError(Code.UNAUTHENTICATED, error.message, {
        details,
        headers: { 'www-authenticate': challenge },
      });
    }
    case ErrorKind.PermissionDenied:
      return new GatewayError(Code.PERMISSION_DENIED, error.message, { details });
    case ErrorKind.Unavailable:
      // Fast and retryable: a client backs off for a second instead of seeing a 500.
      return new GatewayError(Code.UNAVAILABLE, 'token verification is unavailable', {
        cause: error,
        headers: { 'retry-after': '1' },
      });
    default:
      return error;
  }
}
