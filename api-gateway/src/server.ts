import type { Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@messenger/platform/logger';
import type { FastifyInstance } from 'fastify';
import { build, type GatewayOptions } from './app.ts';

export interface ListenOptions {
  /** Default `127.0.0.1`; `0.0.0.0` in containers. */
  readonly host?: string;
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  /**
   * How long `close()` keeps serving, not ready, before it stops accepting
   * connections: the time load balancers take to stop sending new ones
   * (GATEWAY_DRAIN_DELAY_MS); default 0.
   */
  readonly drainDelayMs?: number;
  /** How long `close()` then waits for requests in flight before dropping connections; default 10 s. */
  readonly shutdownGraceMs?: number;
}

export interface RunningGateway {
  readonly app: FastifyInstance;
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  /**
   * Graceful shutdown. At once `/readyz` turns 503 and every response carries
   * `Connection: close`; the gateway goes on serving for the drain delay.
   * Then streams end (with their `end` event), no new connections are
   * accepted, and requests in flight or still arriving on open connections
   * are served (with `Connection: close`) for up to the grace period, after
   * which the remaining connections are destroyed.
   */
  close(): Promise<void>;
}

/**
 * A connection idle this long during shutdown is closed: its client has not
 * sent its next request at once, so it is not in the middle of sending one.
 * Closing a connection the moment it is idle would reset the request a
 * keep-alive client may be writing on it.
 */
const IDLE_LINGER_MS = 1000;
const SWEEP_MS = 50;

/** Builds and listens; the composition root (embedded runner or a container's main) owns signals. */
export async function startGateway(opts: GatewayOptions, listen: ListenOptions = {}): Promise<RunningGateway> {
  const app = await build(opts);
  const connections = trackConnections(app.server);
  // Runs after the other preClose hooks (streams have ended): stop
  // accepting, then wait for every connection to finish its requests and go.
  // Fastify's own close then finds the server stopped and no connection left.
  app.addHook('preClose', async () => {
    NetServer.prototype.close.call(app.server);
    await connections.drained();
  });
  const host = listen.host ?? '127.0.0.1';
  await app.listen({ host, port: listen.port ?? 8080 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (listen.port ?? 8080);
  const timing = { drainDelayMs: listen.drainDelayMs ?? 0, graceMs: listen.shutdownGraceMs ?? 10_000 };
  let closing: Promise<void> | undefined;
  return {
    app,
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () => {
      closing ??= closeGracefully(app, timing, opts.logger);
      return closing;
    },
  };
}

async function closeGracefully(
  app: FastifyInstance,
  { drainDelayMs, graceMs }: { drainDelayMs: number; graceMs: number },
  log: Logger,
): Promise<void> {
  app.drain.begin();
  if (drainDelayMs > 0) {
    log.info({ drainDelayMs }, 'draining: not ready, still serving');
    await sleep(drainDelayMs, undefined, { ref: false });
  }
  const timer = setTimeout(() => {
    log.warn({ graceMs }, 'gateway shutdown grace period over; closing remaining connections');
    app.server.closeAllConnections();
  }, graceMs);
  timer.unref();
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
  }
}

interface Connections {
  /** Resolves once no connection is left, closing each that stays idle for IDLE_LINGER_MS. */
  drained(): Promise<void>;
}

interface ConnectionState {
  /** Requests in flight on the connection. */
  active: number;
  /** When it last went idle. */
  idleSince: number;
}

const CONNECTION = Symbol('connection state');
type TrackedResponse = ServerResponse & { [CONNECTION]?: ConnectionState };

/** One listener for every response (nothing bound per request): the request is no longer in flight. */
function onResponseClosed(this: TrackedResponse): void {
  const state = this[CONNECTION];
  if (state === undefined) return;
  state.active--;
  if (state.active === 0) state.idleSince = Date.now();
}

/** When each open connection last went idle (undefined while a request on it is in flight). */
function trackConnections(server: Server): Connections {
  const open = new Map<Socket, ConnectionState>();
  server.on('connection', (socket: Socket) => {
    open.set(socket, { active: 0, idleSince: Date.now() });
    socket.once('close', () => open.delete(socket));
  });
  server.on('request', (req, res: TrackedResponse) => {
    const state = open.get(req.socket);
    if (!state) return;
    state.active++;
    res[CONNECTION] = state;
    res.on('close', onResponseClosed);
  });
  return {
    async drained() {
      while (open.size > 0) {
        const now = Date.now();
        for (const [socket, state] of open) {
          if (state.active === 0 && now - state.idleSince >= IDLE_LINGER_MS) socket.destroy();
        }
        await sleep(SWEEP_MS);
      }
    },
  };
}
