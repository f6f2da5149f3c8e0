// A throwaway certificate authority for TLS tests, made with the openssl
// command line (node:crypto cannot sign certificates) in a temp directory.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PEM files of one certificate and its key. */
export interface TestIdentity {
  readonly cert: string;
  readonly key: string;
}

export interface TestPki {
  /** The CA certificate that signs `server` and `client`. */
  readonly ca: string;
  /** Valid for every name in `serverNames` (DNS names and IP addresses). */
  readonly server: TestIdentity;
  readonly client: TestIdentity;
  /** A CA that signed neither, and a client certificate it signed. */
  readonly otherCa: string;
  readonly otherClient: TestIdentity;
  readonly dir: string;
  close(): Promise<void>;
}

/**
 * A CA with a server and a client certificate (P-256, valid a day), and an
 * unrelated CA with a client certificate of its own. Takes most of a
 * second: make one per test file.
 */
export async function createTestPki(serverNames: readonly string[] = ['localhost', '127.0.0.1']): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'test-pki-'));
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

  const makeCa = async (name: string) => {
    await openssl(
      'req',
      '-x509',
      ...newKey,
      '-keyout',
      path(`${name}.key`),
      '-out',
      path(`${name}.pem`),
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
    );
  };
  const sign = async (ca: string, name: string, extensions: string): Promise<TestIdentity> => {
    await writeFile(path(`${name}.ext`), `${extensions}\n`);
    await openssl(
      'req',
      '-new',
      ...newKey,
      '-keyout',
      path(`${name}.key`),
      '-out',
      path(`${name}.csr`),
      '-subj',
      `/CN=${name}`,
    );
    await openssl(
      'x509',
      '-req',
      '-in',
      path(`${name}.csr`),
      '-CA',
      path(`${ca}.pem`),
      '-CAkey',
      path(`${ca}.key`),
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      '1',
      '-extfile',
      path(`${name}.ext`),
      '-out',
      path(`${name}.pem`),
    );
    return { cert: path(`${name}.pem`), key: path(`${name}.key`) };
  };

  try {
    await Promise.all([makeCa('ca'), makeCa('other-ca')]);
    const sans = serverNames.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    const [server, client, otherClient] = await Promise.all([
      sign('ca', 'server', `subjectAltName=${sans}\nextendedKeyUsage=serverAuth,clientAuth`),
      sign('ca', 'client', 'extendedKeyUsage=clientAuth'),
      sign('other-ca', 'other-client', 'extendedKeyUsage=clientAuth'),
    ]);
    return {
      ca: path('ca.pem'),
      server,
      client,
      otherCa: path('other-ca.pem'),
      otherClient,
      dir,
      close: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
