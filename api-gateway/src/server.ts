import type { Logger } from '@messenger/platform/logger';
import type { FastifyInstance } from 'fastify';
import { build, type GatewayOptions } from './app.ts';

export interface ListenOptions {
  /** Default `127.0.0.1`; `0.0.0.0` in containers. */
  readonly host?: string;
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  /** How long `close()` waits for in-flight requests before dropping connections; default 10 s. */
  readonly shutdownGraceMs?: number;
}

export interface RunningGateway {
  readonly app: FastifyInstance;
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  /**
   * Graceful shutdown: `/readyz` turns 503 and streams end at once; no new
   * connections are accepted; requests in flight finish (up to the grace
   * period, after which the remaining connections are destroyed).
   */
  close(): Promise<void>;
}

/** Builds and listens; the composition root (embedded runner or a container's main) owns signals. */
export async function startGateway(opts: GatewayOptions, listen: ListenOptions = {}): Promise<RunningGateway> {
  const app = await build(opts);
  const host = listen.host ?? '127.0.0.1';
  await app.listen({ host, port: listen.port ?? 8080 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (listen.port ?? 8080);
  const graceMs = listen.shutdownGraceMs ?? 10_000;
  let closing: Promise<void> | undefined;
  return {
    app,
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () => {
      closing ??= closeGracefully(app, graceMs, opts.logger);
      return closing;
    },
  };
}

async function closeGracefully(app: FastifyInstance, graceMs: number, log: Logger): Promise<void> {
  const timer = setTimeout(() => {
    log.warn({ graceMs }, 'gateway shutdown grace period over; closing remaining connections');
    app.server.closeAllConnections();
  }, graceMs);
  timer.unref();
  // Keep-alive connections become idle as their last request finishes; close
  // them then, rather than waiting for the keep-alive timeout.
  const sweep = setInterval(() => app.server.closeIdleConnections(), 25);
  sweep.unref();
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
    clearInterval(sweep);
  }
}
