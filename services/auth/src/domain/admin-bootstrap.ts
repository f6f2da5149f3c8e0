// The admin list (AUTH_ADMIN_EMAILS) and the one moment it acts: when a
// listed email becomes verified. Never at sign-in, so a demotion sticks, and
// never for an address nobody proved, so registering someone else's listed
// address gains nothing.
import type { Account, AuthEvent, Role } from './account.ts';

export interface AdminBootstrap {
  /** The role of a new account: admin only when its email is listed and verified at creation (an OAuth sign-up). */
  initialRole(emailKey: string, emailVerified: boolean): Role;
  /**
   * The account with its email verified, at the next version: promoted to
   * admin (with the `role_changed` event) when the email is listed and was
   * not verified before. An account verified already keeps its role.
   */
  verified(account: Account, time: Date, requestId: string): { account: Account; events: AuthEvent[] };
}

/** `adminEmails` normalized (`normalizeEmail`). */
export function createAdminBootstrap(adminEmails: ReadonlySet<string>): AdminBootstrap {
  return {
    initialRole: (emailKey, emailVerified) => (emailVerified && adminEmails.has(emailKey) ? 'admin' : 'user'),
    verified(account, time, requestId) {
      const promote = !account.emailVerified && account.role !== 'admin' && adminEmails.has(account.emailKey);
      const next: Account = {
        ...account,
        emailVerified: true,
        role: promote ? 'admin' : account.role,
        updateTime: time,
        version: account.version + 1,
      };
      const events: AuthEvent[] = promote
        ? [
            {
              kind: 'role_changed',
              userId: account.id,
              before: account.role,
              after: 'admin',
              changedBy: '',
              time,
              requestId,
            },
          ]
        : [];
      return { account: next, events };
    },
  };
}
