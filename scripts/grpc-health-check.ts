// Container health check for the messenger image (Dockerfile HEALTHCHECK and
// compose healthchecks): asks the process running in this container whether
// it serves, and exits 0 (healthy) or 1 (unhealthy) with one line on stderr.
//
//   node scripts/grpc-health-check.ts [auth|user|chat|subscriber|api-gateway] [--timeout-ms N] [--service NAME]
//
// gRPC services: the standard grpc.health.v1.Health/Check (overall status,
// service "", or NAME: `liveness` follows the process alone, as Kubernetes'
// liveness probe asks), which the platform's server turns NOT_SERVING when it drains.
// The gateway: GET /healthz. Without a name, the process is found from the
// `node <entry>` command line in /proc. The port and bind address come from
// the same variables the process reads (e.g. USER_GRPC_PORT, USER_GRPC_HOST),
// so the check follows the container's configuration. With GRPC_TLS_CA_FILE
// set (the server serves TLS only) it checks over TLS: the server's chain
// verified against that CA, not its name (the check dials its own container
// on loopback, a name the certificate need not hold), presenting
// GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE when set (mutual TLS).
//
// Kept to @grpc/grpc-js and grpc-health-check (no platform import) so that a
// check costs one short-lived Node process and little memory.
import { readdirSync, readFileSync } from 'node:fs';
import { type ChannelCredentials, credentials, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

interface Target {
  readonly entry: string;
  readonly portEnv: string;
  readonly hostEnv: string;
  readonly defaultPort: number;
  readonly protocol: 'grpc' | 'http';
}

/** Defaults as in the settings schemas (test/deploy checks they agree). */
export const TARGETS: Readonly<Record<string, Target>> = {
  auth: {
    entry: 'services/auth/src/main.ts',
    portEnv: 'AUTH_GRPC_PORT',
    hostEnv: 'AUTH_GRPC_HOST',
    defaultPort: 50051,
    protocol: 'grpc',
  },
  user: {
    entry: 'services/user/src/main.ts',
    portEnv: 'USER_GRPC_PORT',
    hostEnv: 'USER_GRPC_HOST',
    defaultPort: 50052,
    protocol: 'grpc',
  },
  chat: {
    entry: 'services/chat/src/main.ts',
    portEnv: 'CHAT_GRPC_PORT',
    hostEnv: 'CHAT_GRPC_HOST',
    defaultPort: 50053,
    protocol: 'grpc',
  },
  subscriber: {
    entry: 'services/subscriber/src/main.ts',
    portEnv: 'SUBSCRIBER_GRPC_PORT',
    hostEnv: 'SUBSCRIBER_GRPC_HOST',
    defaultPort: 50054,
    protocol: 'grpc',
  },
  notification: {
    entry: 'services/notification/src/main.ts',
    portEnv: 'NOTIFICATION_GRPC_PORT',
    hostEnv: 'NOTIFICATION_GRPC_HOST',
    defaultPort: 50055,
    protocol: 'grpc',
  },
  'api-gateway': {
    entry: 'api-gateway/src/main.ts',
    portEnv: 'GATEWAY_HTTP_PORT',
    hostEnv: 'GATEWAY_HTTP_HOST',
    defaultPort: 8080,
    protocol: 'http',
  },
};

/** The target whose entry point a running `node` process in this container was started with. */
export function detectTarget(procDir = '/proc'): string | undefined {
  let pids: string[];
  try {
    pids = readdirSync(procDir).filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let argv: string[];
    try {
      argv = readFileSync(`${procDir}/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone, or not ours to read
    }
    for (const [name, t] of Object.entries(TARGETS)) {
      if (argv.some((a) => a === t.entry || a.endsWith(`/${t.entry}`))) return name;
    }
  }
  return undefined;
}

/** Where to connect: the bound interface, or loopback when it binds every interface. */
export function addressOf(t: Target, env: NodeJS.ProcessEnv): { host: string; port: number } {
  const port = Number(env[t.portEnv] || t.defaultPort);
  const bound = env[t.hostEnv] || '127.0.0.1';
  const host = bound === '0.0.0.0' || bound === '::' || bound === '[::]' ? '127.0.0.1' : bound;
  return { host, port };
}

const Health = makeGenericClientConstructor(healthService, 'Health');
const checkMethod = healthService.Check;

/** Plaintext, or TLS as the process itself is configured (GRPC_TLS_*), trusting its CA for any name. */
function channelCredentialsOf(env: NodeJS.ProcessEnv): ChannelCredentials {
  const file = (name: string) => (env[name] ? readFileSync(env[name]) : null);
  const ca = file('GRPC_TLS_CA_FILE');
  if (!ca) return credentials.createInsecure();
  return credentials.createSsl(ca, file('GRPC_TLS_KEY_FILE'), file('GRPC_TLS_CERT_FILE'), {
    checkServerIdentity: () => undefined,
  });
}

function checkGrpc(
  host: string,
  port: number,
  timeoutMs: number,
  creds: ChannelCredentials,
  service: string,
): Promise<string | undefined> {
  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  if (!checkMethod) return Promise.resolve('grpc-health-check: no Check method in grpc.health.v1.Health');
  const client = new Health(target, creds);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (req: { service: string }) => checkMethod.requestSerialize(req),
      (buf: Buffer) => checkMethod.responseDeserialize(buf) as { status: string },
      { service },
      { deadline: Date.now() + timeoutMs },
      (err: ServiceError | null, res?: { status: string }) => {
        client.close();
        if (err) resolve(`grpc ${target}: ${err.details || err.message}`);
        else if (res?.status !== 'SERVING') resolve(`grpc ${target}: ${res?.status ?? 'no status'}`);
        else resolve(undefined);
      },
    );
  });
}

async function checkHttp(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/healthz`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.ok ? undefined : `${url}: HTTP ${res.status}`;
  } catch (err) {
    return `${url}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** undefined when healthy, else why not. */
export async function check(
  name: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  service = '',
): Promise<string | undefined> {
  const t = TARGETS[name];
  if (!t) return `unknown process ${JSON.stringify(name)} (one of ${Object.keys(TARGETS).join(', ')})`;
  const { host, port } = addressOf(t, env);
  if (t.protocol === 'http') return checkHttp(host, port, timeoutMs);
  let creds: ChannelCredentials;
  try {
    creds = channelCredentialsOf(env);
  } catch (err) {
    return `GRPC_TLS_*: ${err instanceof Error ? err.message : String(err)}`;
  }
  return checkGrpc(host, port, timeoutMs, creds, service);
}

async function main(argv: readonly string[]): Promise<number> {
  let timeoutMs = 2000;
  let name: string | undefined;
  let service = '';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--timeout-ms') timeoutMs = Number(argv[++i]);
    else if (a === '--service') service = argv[++i] ?? '';
    else if (a !== undefined) name = a;
  }
  name ??= detectTarget();
  if (!name) {
    process.stderr.write('health: no messenger process found; pass its name\n');
    return 1;
  }
  const problem = await check(name, process.env, timeoutMs, service);
  if (problem) {
    process.stderr.write(`health: ${name} unhealthy: ${problem}\n`);
    return 1;
  }
  return 0;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
