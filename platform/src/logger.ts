import { randomUUID } from 'node:crypto';
import { type Logger, pino } from 'pino';
import { activeTraceIds } from './tracing/index.ts';

export type { Logger } from 'pino';

/** The metadata key (gRPC) and header (HTTP) that carries a request id across hops. */
export const REQUEST_ID_KEY = 'x-request-id';

/** Values under these paths never reach a log line, whatever logs them. */
const REDACTED_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'refreshToken',
  '*.refreshToken',
  'secret',
  '*.secret',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  // A WebSocket client sends its bearer token as a subprotocol.
  'headers["sec-websocket-protocol"]',
  'req.headers["sec-websocket-protocol"]',
];

export interface LoggerOptions {
  level: string;
  /**
   * Written as `service` on every line. Absent for a process that hosts
   * several services (embedded mode): each takes a child logger with its own
   * `service`, which a `service` of the root would otherwise duplicate on
   * every line (pino appends child bindings, it does not replace them).
   */
  service?: string;
  /** Where lines go; stdout by default. Tests pass a stream to read them back. */
  destination?: pino.DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level,
      base: opts.service === undefined ? {} : { service: opts.service },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // A line written inside a traced request names its trace and span, so
      // logs and traces of one request can be found from each other.
      // A fresh object each time: pino merges the line's own fields into
      // what the mixin returns, so a shared one would carry them into every
      // later line.
      mixin: () => activeTraceIds() ?? {},
    },
    opts.destination,
  );
}

const REQUEST_ID_PATTERN = /^[\w.:-]{1,128}$/;

/** A caller-supplied id is kept only when it is short and plain; otherwise a fresh one is made. */
export function acceptRequestId(candidate: string | undefined): string {
  return candidate !== undefined && REQUEST_ID_PATTERN.test(candidate) ? candidate : randomUUID();
}
