import { once } from 'node:events';
import { createServer } from 'node:net';

/**
 * `n` distinct loopback ports free at the moment, for a process that must be
 * told its port before it starts (a metrics port, a whole cluster's). Held
 * together while they are read, so none is handed out twice; another
 * process may still take one before it is used.
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => createServer().listen(0, '127.0.0.1'));
  await Promise.all(servers.map((s) => once(s, 'listening')));
  const ports = servers.map((s) => {
    const address = s.address();
    return typeof address === 'object' && address ? address.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** One loopback port free at the moment (see freePorts). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port ?? 0;
}
