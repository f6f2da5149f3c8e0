// How auth's records look in MongoDB, and their conversion from and to the domain's.
import { TOKEN_VALIDITY_HORIZON_SECONDS } from '@messenger/platform/auth';
import type {
  Account,
  EmailToken,
  EmailTokenPurpose,
  OAuthAttempt,
  OAuthIdentity,
  RefreshTokenRecord,
  Role,
  Session,
} from '../../domain/account.ts';

export interface AccountDoc {
  _id: string;
  email: string;
  /** The unique key. */
  emailKey: string;
  passwordHash: string | null;
  /** Absent in accounts stored before verification existed: see `fromAccountDoc`. */
  emailVerified?: boolean;
  role: Role;
  createTime: Date;
  updateTime: Date;
  version: number;
  /** Written by every sign-in, so that a sign-in and a deletion of the account conflict. */
  lastSignInTime?: Date;
}

export interface SessionDoc {
  _id: string;
  userId: string;
  createTime: Date;
  lastRefreshTime: Date;
  refreshExpiresAt: Date;
  revokedAt: Date | null;
  /** TTL: when no token of the session can verify any more. */
  expireAt: Date;
}

export interface RefreshTokenDoc {
  /** SHA-256 of the token. */
  _id: string;
  sessionId: string;
  userId: string;
  /** TTL. */
  expiresAt: Date;
  /** Null while the token is the session's current one. */
  usedAt: Date | null;
}

export interface IdentityDoc {
  /** `<provider>|<subject>`: unique. */
  _id: string;
  provider: string;
  subject: string;
  userId: string;
  email: string;
  createTime: Date;
}

export interface AttemptDoc {
  /** SHA-256 of the state. */
  _id: string;
  provider: string;
  redirectUri: string;
  codeVerifier: string;
  nonce: string;
  /** TTL. */
  expiresAt: Date;
}

export interface EmailTokenDoc {
  /** `<purpose>|<userId>`: one token per account and purpose. */
  _id: string;
  /** SHA-256 of the token: unique. */
  hash: string;
  purpose: EmailTokenPurpose;
  userId: string;
  emailKey: string;
  createTime: Date;
  /** TTL. */
  expiresAt: Date;
}

export interface ProcessedDoc {
  /** The consumed event's id. */
  _id: string;
  processedAt: Date;
}

export interface LockDoc {
  _id: string;
  version: number;
}

/** Kept until no access token of the session can verify, then removed by TTL. */
export function sessionExpiry(refreshExpiresAt: Date): Date {
  return new Date(refreshExpiresAt.getTime() + TOKEN_VALIDITY_HORIZON_SECONDS * 1000);
}

export function identityKey(provider: string, subject: string): string {
  return `${provider}|${subject}`;
}

export function toAccountDoc(a: Account): AccountDoc {
  return {
    _id: a.id,
    email: a.email,
    emailKey: a.emailKey,
    passwordHash: a.passwordHash ?? null,
    emailVerified: a.emailVerified,
    role: a.role,
    createTime: a.createTime,
    updateTime: a.updateTime,
    version: a.version,
  };
}

export function fromAccountDoc(d: AccountDoc): Account {
  return {
    id: d._id,
    email: d.email,
    emailKey: d.emailKey,
    passwordHash: d.passwordHash ?? undefined,
    // Accounts from before verification existed: those without a password
    // were created through a provider that asserted the email; the others
    // never proved it.
    emailVerified: d.emailVerified ?? d.passwordHash === null,
    role: d.role,
    createTime: d.createTime,
    updateTime: d.updateTime,
    version: d.version,
  };
}

export function toSessionDoc(s: Session): SessionDoc {
  return {
    _id: s.id,
    userId: s.userId,
    createTime: s.createTime,
    lastRefreshTime: s.lastRefreshTime,
    refreshExpiresAt: s.refreshExpiresAt,
    revokedAt: s.revokedAt ?? null,
    expireAt: sessionExpiry(s.refreshExpiresAt),
  };
}

export function fromSessionDoc(d: SessionDoc): Session {
  return {
    id: d._id,
    userId: d.userId,
    createTime: d.createTime,
    lastRefreshTime: d.lastRefreshTime,
    refreshExpiresAt: d.refreshExpiresAt,
    revokedAt: d.revokedAt ?? undefined,
  };
}

export function toIdentityDoc(i: OAuthIdentity): IdentityDoc {
  return {
    _id: identityKey(i.provider, i.subject),
    provider: i.provider,
    subject: i.subject,
    userId: i.userId,
    email: i.email,
    createTime: i.createTime,
  };
}

export function fromIdentityDoc(d: IdentityDoc): OAuthIdentity {
  return { provider: d.provider, subject: d.subject, userId: d.userId, email: d.email, createTime: d.createTime };
}

/** A token as it is issued: the session's current one, not used yet. */
export function toRefreshTokenDoc(t: RefreshTokenRecord): RefreshTokenDoc {
  return { _id: t.hash, sessionId: t.sessionId, userId: t.userId, expiresAt: t.expiresAt, usedAt: null };
}

export function toAttemptDoc(a: OAuthAttempt): AttemptDoc {
  return {
    _id: a.stateHash,
    provider: a.provider,
    redirectUri: a.redirectUri,
    codeVerifier: a.codeVerifier,
    nonce: a.nonce,
    expiresAt: a.expiresAt,
  };
}

export function fromAttemptDoc(d: AttemptDoc): OAuthAttempt {
  return {
    stateHash: d._id,
    provider: d.provider,
    redirectUri: d.redirectUri,
    codeVerifier: d.codeVerifier,
    nonce: d.nonce,
    expiresAt: d.expiresAt,
  };
}

export function emailTokenId(token: { purpose: EmailTokenPurpose; userId: string }): string {
  return `${token.purpose}|${token.userId}`;
}

export function toEmailTokenDoc(t: EmailToken): EmailTokenDoc {
  return {
    _id: emailTokenId(t),
    hash: t.hash,
    purpose: t.purpose,
    userId: t.userId,
    emailKey: t.emailKey,
    createTime: t.createTime,
    expiresAt: t.expiresAt,
  };
}

export function fromEmailTokenDoc(d: EmailTokenDoc): EmailToken {
  return {
    hash: d.hash,
    purpose: d.purpose,
    userId: d.userId,
    emailKey: d.emailKey,
    createTime: d.createTime,
    expiresAt: d.expiresAt,
  };
}
