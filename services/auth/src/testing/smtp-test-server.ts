// Tests only: a real SMTP server (smtp-server) on a loopback port, keeping
// every mail it accepts so a test can read it as its recipient would and
// follow the link in it.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** The envelope: MAIL FROM and RCPT TO. */
  readonly envelopeFrom: string;
  readonly envelopeTo: readonly string[];
  /** Header name (lower case) → value, unfolded. */
  readonly headers: ReadonlyMap<string, string>;
  /** The text body, transfer encoding undone. */
  readonly text: string;
  /** The first link in the body that carries a token, and that token. */
  readonly link: string | undefined;
  readonly token: string | undefined;
}

export interface TestSmtpServer {
  /** `smtp://127.0.0.1:<port>`. */
  readonly url: string;
  readonly mails: readonly ReceivedMail[];
  /** While set, every mail is refused with this reply (e.g. `451 try later`), as a failing server would. */
  refuseWith: string | undefined;
  /** The next mail to `to` (lower case compared) whose subject contains `subject`, arriving after `since` mails. */
  nextMail(to: string, opts?: { subject?: string; since?: number; timeoutMs?: number }): Promise<ReceivedMail>;
  close(): Promise<void>;
}

export async function startTestSmtpServer(): Promise<TestSmtpServer> {
  const mails: ReceivedMail[] = [];
  const state: { refuseWith: string | undefined } = { refuseWith: undefined };
  const server = new SMTPServer({
    // Loopback only, as the mailer allows without TLS; anyone may send.
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (state.refuseWith !== undefined) {
          const [code, ...words] = state.refuseWith.split(' ');
          done(Object.assign(new Error(words.join(' ')), { responseCode: Number(code) }));
          return;
        }
        const envelope = session.envelope;
        mails.push(
          parseMail(
            Buffer.concat(chunks).toString('utf8'),
            envelope.mailFrom ? envelope.mailFrom.address : '',
            envelope.rcptTo.map((r) => r.address),
          ),
        );
        done();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;

  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    get refuseWith() {
      return state.refuseWith;
    },
    set refuseWith(reply) {
      state.refuseWith = reply;
    },
    async nextMail(to, opts = {}) {
      const deadline = Date.now() + (opts.timeoutMs ?? 5000);
      for (;;) {
        const found = mails
          .slice(opts.since ?? 0)
          .find(
            (m) =>
              m.envelopeTo.some((r) => r.toLowerCase() === to.toLowerCase()) &&
              (opts.subject === undefined || (m.headers.get('subject') ?? '').includes(opts.subject)),
          );
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no mail to ${to} arrived`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Enough of RFC 5322 and MIME for the single-part text mails nodemailer writes. */
function parseMail(raw: string, envelopeFrom: string, envelopeTo: string[]): ReceivedMail {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const body = raw.slice(split + 4);
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const encoding = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  const text =
    encoding === 'base64'
      ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
      : encoding === 'quoted-printable'
        ? Buffer.from(
            body
              .replace(/=\r?\n/g, '')
              .replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
            'latin1',
          ).toString('utf8')
        : body;
  const link = /\S*#token=[A-Za-z0-9_-]+/.exec(text)?.[0];
  const token = link === undefined ? undefined : /#token=([A-Za-z0-9_-]+)/.exec(link)?.[1];
  return { envelopeFrom, envelopeTo, headers, text, link, token };
}
