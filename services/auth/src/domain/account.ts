// Accounts, sessions and their rules. Plain TypeScript: no transport, driver
// or generated code, so every rule is testable on its own.

export type Role = 'user' | 'admin';
export const ROLES: readonly Role[] = ['user', 'admin'];

/** The sign-in credential of a user; its id is the user id shared with the profile. */
export interface Account {
  readonly id: string;
  /** As given (trimmed); uniqueness is on `emailKey`. */
  readonly email: string;
  /** `normalizeEmail(email)`: the unique key. */
  readonly emailKey: string;
  /** Self-describing scrypt hash; undefined for an account that signs in only through OAuth. */
  readonly passwordHash: string | undefined;
  /**
   * Whether the holder proved the mailbox: a verification link, a password
   * reset link, or an OpenID provider asserting `email_verified` when the
   * account was created through it. Never goes back to false.
   */
  readonly emailVerified: boolean;
  readonly role: Role;
  readonly createTime: Date;
  readonly updateTime: Date;
  /** Optimistic-concurrency token: 1 when created, +1 on every change. */
  readonly version: number;
}

/**
 * One signed-in device: the family of refresh tokens rotated from one sign-in.
 * Its id is the `sid` claim of every access token issued for it, so revoking
 * the session revokes them all.
 */
export interface Session {
  readonly id: string;
  readonly userId: string;
  readonly createTime: Date;
  /** When the current refresh token (and the latest access token) was issued. */
  readonly lastRefreshTime: Date;
  /** When the current refresh token expires; the session ends with it. */
  readonly refreshExpiresAt: Date;
  readonly revokedAt: Date | undefined;
}

/** A refresh token as stored: only its SHA-256 hash. */
export interface RefreshTokenRecord {
  readonly hash: string;
  readonly sessionId: string;
  readonly userId: string;
  readonly expiresAt: Date;
}

/** A session as it is opened: the session and its first refresh token. */
export interface NewSession {
  readonly session: Session;
  readonly refreshToken: RefreshTokenRecord;
}

/** A sign-in identity at an OpenID provider, linked to an account. */
export interface OAuthIdentity {
  readonly provider: string;
  /** The provider's `sub`: stable per user and provider. */
  readonly subject: string;
  readonly userId: string;
  /** The verified email at the time of linking (for operators). */
  readonly email: string;
  readonly createTime: Date;
}

/** A started OAuth flow, kept server-side until CompleteOAuth consumes it once. */
export interface OAuthAttempt {
  /** SHA-256 of the `state` handed to the browser; the state itself is never stored. */
  readonly stateHash: string;
  readonly provider: string;
  readonly redirectUri: string;
  readonly codeVerifier: string;
  readonly nonce: string;
  readonly expiresAt: Date;
}

/** What a one-time email token lets its holder do. */
export type EmailTokenPurpose = 'verify_email' | 'reset_password';

/**
 * A one-time token sent by mail, as stored: only its SHA-256 hash. One per
 * account and purpose: issuing a new one replaces the one before.
 */
export interface EmailToken {
  readonly hash: string;
  readonly purpose: EmailTokenPurpose;
  readonly userId: string;
  /** The address it was sent to; it is void once the account's email is another. */
  readonly emailKey: string;
  readonly createTime: Date;
  readonly expiresAt: Date;
}

export type RevocationReason =
  | 'logout'
  | 'refresh_token_reuse'
  | 'role_changed'
  | 'user_deleted'
  | 'password_reset'
  | 'session_limit';

/** What a state change publishes; the store writes it in the same atomic step as the change. */
export type AuthEvent =
  | {
      readonly kind: 'account_created';
      readonly account: Account;
      /** The provider id for an account created through OAuth; empty otherwise. */
      readonly oauthProvider: string;
      readonly requestId: string;
    }
  | {
      readonly kind: 'role_changed';
      readonly userId: string;
      readonly before: Role;
      readonly after: Role;
      /** The admin who changed it; empty when the admin list promoted a newly verified email. */
      readonly changedBy: string;
      readonly time: Date;
      readonly requestId: string;
    }
  | {
      readonly kind: 'sessions_revoked';
      readonly userId: string;
      readonly sessionIds: readonly string[];
      readonly all: boolean;
      readonly reason: RevocationReason;
      readonly time: Date;
      readonly requestId: string;
    };

export const EMAIL_MAX = 254;
const EMAIL_LOCAL_MAX = 64;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;
export const NICKNAME_MIN = 3;
export const NICKNAME_MAX = 32;

// Deliberately plain: one `@`, no spaces or control characters, a dotted
// domain. Whether the mailbox exists is not ours to judge.
const EMAIL = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+\.[^\s@\p{Cc}]+$/u;
const NICKNAME = /^[A-Za-z0-9_.]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Provider ids, as the contract states them. */
const PROVIDER = /^[a-z0-9-]{1,32}$/;

/** The key emails are unique and looked up by: trimmed and lower-cased, so `Ann@X.org` is `ann@x.org`. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Each `…Problem` function returns why a value is invalid, or undefined when it is valid. */
export function emailProblem(email: string): string | undefined {
  const trimmed = email.trim();
  if (trimmed === '') return 'is required';
  if (trimmed.length > EMAIL_MAX) return `must be at most ${EMAIL_MAX} characters`;
  const at = trimmed.lastIndexOf('@');
  if (!EMAIL.test(trimmed) || at > EMAIL_LOCAL_MAX) return 'must be an email address';
  return undefined;
}

export function passwordProblem(password: string): string | undefined {
  if (password === '') return 'is required';
  // Code points, not UTF-16 units: an emoji is one character.
  const length = [...password].length;
  if (length < PASSWORD_MIN || length > PASSWORD_MAX) {
    return `must be ${PASSWORD_MIN}-${PASSWORD_MAX} characters`;
  }
  return undefined;
}

/** The user service owns nickname rules; checked here too so Register reports every bad field at once. */
export function nicknameProblem(nickname: string): string | undefined {
  if (nickname === '') return 'is required';
  if (nickname.length < NICKNAME_MIN || nickname.length > NICKNAME_MAX || !NICKNAME.test(nickname)) {
    return `must be ${NICKNAME_MIN}-${NICKNAME_MAX} characters of letters a-z, digits 0-9, "_" and "."`;
  }
  return undefined;
}

export function userIdProblem(id: string): string | undefined {
  if (id === '') return 'is required';
  return UUID.test(id) ? undefined : 'must be a UUID';
}

export function providerProblem(provider: string): string | undefined {
  if (provider === '') return 'is required';
  return PROVIDER.test(provider) ? undefined : 'must be 1-32 characters of a-z, 0-9 and "-"';
}

/**
 * A valid nickname from what a provider knows (`preferred_username`, else the
 * email's local part): the allowed characters kept, cut to fit `suffix`.
 */
export function nicknameFrom(candidates: readonly (string | undefined)[], suffix = ''): string {
  const room = NICKNAME_MAX - suffix.length;
  for (const candidate of candidates) {
    const cleaned = (candidate ?? '').replace(/[^A-Za-z0-9_.]/g, '').slice(0, room);
    if (cleaned.length + suffix.length >= NICKNAME_MIN) return cleaned + suffix;
  }
  return `user${suffix}`;
}
