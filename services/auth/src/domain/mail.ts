// The mail port, and the two mails auth sends. Adapters: mail/smtp-mailer.ts
// (nodemailer) and mail/log-mailer.ts (no SMTP configured: the link is logged).
import type { EmailTokenPurpose } from './account.ts';

/** One plain-text mail to one address, carrying one link. */
export interface OutgoingMail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  /** The link in `text`: what an adapter that does not send shows instead. */
  readonly link: string;
}

export interface Mailer {
  /** Hands the mail to the mail server; throws MAIL_UNAVAILABLE (`unavailable`) when it cannot. */
  send(mail: OutgoingMail): Promise<void>;
}

/** Where the web app handles each link; the token travels in the fragment. */
export const LINK_PATHS: Readonly<Record<EmailTokenPurpose, string>> = {
  verify_email: '/verify-email',
  reset_password: '/reset-password',
};

/**
 * The link a mail carries: `<base><path>#token=<token>`. In the fragment the
 * token never reaches the web app's server, its access logs or a Referer
 * header; the page reads it and POSTs it (VerifyEmail, ResetPassword), so a
 * mail scanner that fetches the link consumes nothing.
 */
export function linkFor(linkBaseUrl: string, purpose: EmailTokenPurpose, token: string): string {
  return `${linkBaseUrl.replace(/\/+$/, '')}${LINK_PATHS[purpose]}#token=${token}`;
}

/** The mail of `purpose` to `to`, its link valid for `ttlSeconds`. */
export function composeMail(purpose: EmailTokenPurpose, to: string, link: string, ttlSeconds: number): OutgoingMail {
  const valid = `The link works once and expires in ${duration(ttlSeconds)}.`;
  const text =
    purpose === 'verify_email'
      ? [
          'Hello,',
          '',
          'open this link to verify the email address of your Messenger account:',
          '',
          link,
          '',
          valid,
          'If you did not ask for it, ignore this mail.',
        ]
      : [
          'Hello,',
          '',
          'open this link to choose a new password for your Messenger account:',
          '',
          link,
          '',
          `${valid} Setting a new password signs you out on every device.`,
          'If you did not ask for it, ignore this mail: your password stays as it is.',
        ];
  const subject = purpose === 'verify_email' ? 'Verify your email address' : 'Reset your password';
  return { to, subject, text: `${text.join('\n')}\n`, link };
}

function duration(seconds: number): string {
  if (seconds % 3600 === 0) return seconds === 3600 ? '1 hour' : `${seconds / 3600} hours`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}
