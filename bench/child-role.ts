// Starts one role of a bench's companion script (bench/gateway-processes.ts,
// bench/chat-processes.ts) as its own Node process, so the load generator and
// the server under test never share an event loop.
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GATEWAY_NODE_FLAGS } from '../scripts/deploy/processes.ts';

const here = dirname(fileURLToPath(import.meta.url));

export interface RunningRole {
  /** The port the role printed as `ready <port>`. */
  readonly port: number;
  readonly pid: number | undefined;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

export interface RoleLaunch {
  /** A command the Node process runs under (e.g. `['valgrind', '--tool=callgrind']`); its pid is the role's. */
  readonly under?: readonly string[];
  /** Flags for `node` itself, before the script. */
  readonly nodeFlags?: readonly string[];
  /** How long to wait for `ready <port>`; default 30 s. */
  readonly startTimeoutMs?: number;
  /** Receives what the role writes to stdout after its `ready` line (a `--trace-gc-nvp` flag's lines, say). */
  readonly onOutput?: (text: string) => void;
}

/** Runs `node bench/<script> <role>` with `env` added and waits for its `ready <port>` line. */
export async function startRole(
  script: string,
  role: string,
  env: Record<string, string>,
  launch: RoleLaunch = {},
): Promise<RunningRole> {
  const command = [...(launch.under ?? []), process.execPath, ...(launch.nodeFlags ?? []), join(here, script), role];
  const child: ChildProcess = spawn(command[0] as string, command.slice(1), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const startTimeoutMs = launch.startTimeoutMs ?? 30_000;
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${role} did not start within ${startTimeoutMs / 1000} s`)),
      startTimeoutMs,
    );
    let out: string | undefined = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      if (out === undefined) {
        launch.onOutput?.(chunk.toString());
        return;
      }
      out += chunk.toString();
      const m = /ready (\d+)/.exec(out);
      if (m) {
        out = undefined;
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => reject(new Error(`${role} exited with ${code}`)));
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  return { port, pid: child.pid, stop };
}

/** The `gateway` role of bench/gateway-processes.ts, started with the node flags the gateway runs with in production. */
export function startGatewayRole(env: Record<string, string>, launch: RoleLaunch = {}): Promise<RunningRole> {
  return startRole('gateway-processes.ts', 'gateway', env, { ...launch, nodeFlags: GATEWAY_NODE_FLAGS });
}
