import type { Logger } from '@messenger/platform/logger';
import type { Mailer } from '../domain/mail.ts';

/**
 * Embedded mode, and any run without AUTH_SMTP_URL: nothing is sent; each
 * mail's link is logged (at warn: a mail that was not sent) so a developer
 * can follow it. The link carries a live token, so this is for development
 * only; the service warns at start-up when it runs this way.
 */
export function createLogMailer(logger: Logger): Mailer {
  return {
    async send(mail) {
      logger.warn(
        { to: mail.to, subject: mail.subject, link: mail.link },
        'mail not sent (no AUTH_SMTP_URL): its link',
      );
    },
  };
}
