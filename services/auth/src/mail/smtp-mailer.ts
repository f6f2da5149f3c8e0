import { createTransport } from 'nodemailer';
import { mailUnavailable } from '../domain/auth-errors.ts';
import type { Mailer } from '../domain/mail.ts';
import { isLoopbackHost } from '../loopback.ts';

export interface SmtpMailerOptions {
  /** `smtps://[user:password@]host[:port]` (TLS from the start, port 465 by default) or `smtp://…` (STARTTLS, 587). */
  readonly url: string;
  /** The From header, e.g. `Messenger <no-reply@example.com>`. */
  readonly from: string;
  /** For connecting, the greeting and each read; default 10. */
  readonly timeoutSeconds?: number;
}

/**
 * Sends through an SMTP server with nodemailer, one connection per mail (a
 * few mails a minute do not need a pool). The links carry bearer tokens, so
 * `smtp://` to any host but this one must upgrade with STARTTLS or fail.
 * Any failure, from connecting to a refused recipient, is MAIL_UNAVAILABLE;
 * the cause is logged by the caller, never shown.
 */
export function createSmtpMailer(opts: SmtpMailerOptions): Mailer & { close(): void } {
  const url = new URL(opts.url);
  const secure = url.protocol === 'smtps:';
  const timeout = (opts.timeoutSeconds ?? 10) * 1000;
  const transport = createTransport({
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? (secure ? 465 : 587) : Number(url.port),
    secure,
    requireTLS: !secure && !isLoopbackHost(url.hostname),
    ...(url.username === ''
      ? {}
      : { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } }),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    // The mails are plain text built here: nothing to fetch or attach.
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return {
    async send(mail) {
      try {
        await transport.sendMail({ from: opts.from, to: mail.to, subject: mail.subject, text: mail.text });
      } catch (error) {
        throw mailUnavailable(error);
      }
    },
    close: () => transport.close(),
  };
}
