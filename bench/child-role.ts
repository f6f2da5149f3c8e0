// Starts one role of a bench's companion script (bench/gateway-processes.ts,
// bench/chat-processes.ts) as its own Node process, so the load generator and
// the server under test never share an event loop.
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export interface RunningRole {
  /** The port the role printed as `ready <port>`. */
  readonly port: number;
  readonly pid: number | undefined;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

/** Runs `node bench/<script> <role>` with `env` added and waits up to 30 s for its `ready <port>` line. */
export async function startRole(script: string, role: string, env: Record<string, string>): Promise<RunningRole> {
  const child: ChildProcess = spawn(process.execPath, [join(here, script), role], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${role} did not start within 30 s`)), 30_000);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /ready (\d+)/.exec(out);
      if (m) {
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
