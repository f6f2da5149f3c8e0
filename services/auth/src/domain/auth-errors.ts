// Every failure the auth service reports, one constructor per reason, so a
// reason always comes with the same kind and the same message. The platform
// adds INVALID_ARGUMENT (`throwIfInvalid`) and, for a change of an account
// (role, sign-in, verification, reset) that keeps losing races,
// CONCURRENT_CHANGE (`retryOnRace`), whose answer `accountKeptChanging` gives
// for the race an OAuth sign-in can lose.
import { DomainError, ErrorKind } from '@messenger/platform/domain';

export const AuthErrorReason = {
  EmailTaken: 'EMAIL_TAKEN',
  NicknameTaken: 'NICKNAME_TAKEN',
  InvalidCredentials: 'INVALID_CREDENTIALS',
  RefreshTokenInvalid: 'REFRESH_TOKEN_INVALID',
  RefreshTokenReused: 'REFRESH_TOKEN_REUSED',
  AccountNotFound: 'ACCOUNT_NOT_FOUND',
  LastAdmin: 'LAST_ADMIN',
  ConcurrentChange: 'CONCURRENT_CHANGE',
  ServiceCredentialsInvalid: 'SERVICE_CREDENTIALS_INVALID',
  UserTokenRequired: 'USER_TOKEN_REQUIRED',
  UserServiceUnavailable: 'USER_SERVICE_UNAVAILABLE',
  OAuthProviderNotFound: 'OAUTH_PROVIDER_NOT_FOUND',
  OAuthProviderUnavailable: 'OAUTH_PROVIDER_UNAVAILABLE',
  OAuthStateInvalid: 'OAUTH_STATE_INVALID',
  OAuthCodeRejected: 'OAUTH_CODE_REJECTED',
  OAuthEmailNotVerified: 'OAUTH_EMAIL_NOT_VERIFIED',
  OAuthEmailUnusable: 'OAUTH_EMAIL_UNUSABLE',
  OAuthLinkRequiresVerifiedEmail: 'OAUTH_LINK_REQUIRES_VERIFIED_EMAIL',
  EmailAlreadyVerified: 'EMAIL_ALREADY_VERIFIED',
  EmailTokenInvalid: 'EMAIL_TOKEN_INVALID',
  EmailRecentlySent: 'EMAIL_RECENTLY_SENT',
  MailUnavailable: 'MAIL_UNAVAILABLE',
} as const;
export type AuthErrorReason = (typeof AuthErrorReason)[keyof typeof AuthErrorReason];

const R = AuthErrorReason;

/** What keeps changing when a change of an account gives up on concurrent writers (`retryOnRace`'s subject). */
export const ACCOUNT_RACE_SUBJECT = 'the account';

export function emailTaken(): DomainError {
  return new DomainError(ErrorKind.AlreadyExists, R.EmailTaken, 'an account with this email exists');
}

/** The user service refused the nickname of a new profile. */
export function nicknameTaken(): DomainError {
  return new DomainError(ErrorKind.AlreadyExists, R.NicknameTaken, 'the nickname is taken');
}

/** One answer for an unknown email, a missing password and a wrong one, so none of them can be told apart. */
export function invalidCredentials(): DomainError {
  return new DomainError(ErrorKind.Unauthenticated, R.InvalidCredentials, 'the email or the password is wrong');
}

export function refreshTokenInvalid(): DomainError {
  return new DomainError(
    ErrorKind.Unauthenticated,
    R.RefreshTokenInvalid,
    'the refresh token is unknown, expired, or its session has ended',
  );
}

export function refreshTokenReused(): DomainError {
  return new DomainError(
    ErrorKind.Unauthenticated,
    R.RefreshTokenReused,
    'this refresh token was used before; its session has been ended',
  );
}

export function accountNotFound(): DomainError {
  return new DomainError(ErrorKind.NotFound, R.AccountNotFound, 'no account with this user id');
}

export function lastAdmin(): DomainError {
  return new DomainError(ErrorKind.FailedPrecondition, R.LastAdmin, 'the last admin cannot be demoted');
}

/** The same answer `retryOnRace` gives with `ACCOUNT_RACE_SUBJECT`, for a race lost outside it. */
export function accountKeptChanging(): DomainError {
  return new DomainError(ErrorKind.Aborted, R.ConcurrentChange, `${ACCOUNT_RACE_SUBJECT} kept changing; try again`);
}

export function serviceCredentialsInvalid(): DomainError {
  return new DomainError(ErrorKind.Unauthenticated, R.ServiceCredentialsInvalid, 'the service name or secret is wrong');
}

/** Logout, RequestEmailVerification and SetUserRole act for a signed-in user; a service credential alone names no user. */
export function userTokenRequired(): DomainError {
  return new DomainError(ErrorKind.PermissionDenied, R.UserTokenRequired, 'this method acts for a signed-in user');
}

export function userServiceUnavailable(): DomainError {
  return new DomainError(
    ErrorKind.Unavailable,
    R.UserServiceUnavailable,
    'profiles cannot be reached right now; try again shortly',
  );
}

export function oauthProviderNotFound(): DomainError {
  return new DomainError(ErrorKind.NotFound, R.OAuthProviderNotFound, 'no such sign-in provider is configured');
}

export function oauthProviderUnavailable(cause: unknown): DomainError {
  const error = new DomainError(
    ErrorKind.Unavailable,
    R.OAuthProviderUnavailable,
    'the sign-in provider cannot be reached right now; try again shortly',
  );
  error.cause = cause;
  return error;
}

export function oauthStateInvalid(): DomainError {
  return new DomainError(
    ErrorKind.FailedPrecondition,
    R.OAuthStateInvalid,
    'this sign-in attempt is unknown, expired, already used, or was started for another provider or redirect URI',
  );
}

export function oauthCodeRejected(cause: unknown): DomainError {
  const error = new DomainError(
    ErrorKind.Unauthenticated,
    R.OAuthCodeRejected,
    'the provider refused the authorization code, or its ID token is not valid',
  );
  error.cause = cause;
  return error;
}

export function oauthEmailNotVerified(): DomainError {
  return new DomainError(
    ErrorKind.Unauthenticated,
    R.OAuthEmailNotVerified,
    'the provider did not confirm a verified email for this account',
  );
}

export function oauthEmailUnusable(): DomainError {
  return new DomainError(ErrorKind.Unauthenticated, R.OAuthEmailUnusable, 'the provider gave an unusable email');
}

/**
 * An OpenID identity whose verified email belongs to an account that never
 * proved that mailbox: linking would hand that account to whoever signs in at
 * the provider, or the provider's user to whoever registered the address.
 */
export function oauthLinkRequiresVerifiedEmail(): DomainError {
  return new DomainError(
    ErrorKind.FailedPrecondition,
    R.OAuthLinkRequiresVerifiedEmail,
    'an account with this email exists but its email is not verified: sign in with its password (or reset the password), verify the email, then sign in with this provider again',
  );
}

export function emailAlreadyVerified(): DomainError {
  return new DomainError(ErrorKind.FailedPrecondition, R.EmailAlreadyVerified, 'the email is verified already');
}

/** One answer for an unknown, expired, used or replaced token, and one of the wrong kind. */
export function emailTokenInvalid(): DomainError {
  return new DomainError(
    ErrorKind.FailedPrecondition,
    R.EmailTokenInvalid,
    'this link is unknown, expired, used already, or replaced by a newer one; ask for a new mail',
  );
}

export function emailRecentlySent(): DomainError {
  return new DomainError(
    ErrorKind.ResourceExhausted,
    R.EmailRecentlySent,
    'a mail was sent to this account moments ago; wait a minute before asking again',
  );
}

export function mailUnavailable(cause: unknown): DomainError {
  const error = new DomainError(
    ErrorKind.Unavailable,
    R.MailUnavailable,
    'the mail cannot be sent right now; try again shortly',
  );
  error.cause = cause;
  return error;
}
