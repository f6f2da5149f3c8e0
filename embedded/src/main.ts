// `make run`: the whole system in one process (see system.ts), its URLs, where
// its data lives and a ready line on stdout, stopped cleanly by Ctrl-C or SIGTERM.
import { startUntilShutdownSignal } from '@messenger/platform/lifecycle';
import { createLogger } from '@messenger/platform/logger';
import { SqliteOpenError } from '@messenger/platform/sqlite';
import { startTracing, tracingOptionsOf } from '@messenger/platform/tracing/sdk';
import { loadEmbeddedConfig } from './config.ts';
import { StorageError } from './storage.ts';
import { type RunningSystem, startSystem } from './system.ts';

const config = loadEmbeddedConfig(process.env);
const root = createLogger({ level: config.auth.logLevel });
const logger = root.child({ service: 'embedded' });
// Before the system, whose servers, clients and relays trace only when tracing is already on.
const tracing = startTracing(tracingOptionsOf(config.auth, 'messenger'));
let system: RunningSystem;
try {
  // The signal handler comes first: Ctrl-C or SIGTERM during start-up stops it cleanly, and a signal sent
  // as soon as the ready line is read finds the handler.
  system = await startUntilShutdownSignal(logger, async () => {
    const started = await startSystem(config, { logger: root });
    // The spans still queued are sent once the system has stopped.
    return { ...started, stop: () => started.stop().finally(() => tracing?.shutdown()) };
  });
} catch (error) {
  // A data directory it cannot use (damaged or locked file, unreadable keys): one line naming the file, no stack.
  if (!(error instanceof SqliteOpenError || error instanceof StorageError)) throw error;
  process.stderr.write(`messenger cannot start: ${error.message}\n`);
  process.exit(1);
}

const lines = [
  `gateway      ${system.gatewayUrl}`,
  `swagger ui   ${system.gatewayUrl}/docs`,
  `openapi      ${system.gatewayUrl}/openapi.json`,
  `client       ${system.gatewayUrl}/examples/chat`,
  ...(system.metricsUrl === undefined ? [] : [`metrics      ${system.metricsUrl}`]),
  ...system.services.map((s) => `${s.name.padEnd(12)} grpc://${s.host}:${s.port}`),
  system.dataDir === undefined
    ? 'data         in memory (EMBEDDED_STORAGE=memory): lost on exit'
    : `data         ${system.dataDir} (accounts, sessions, profiles, friendships, chats, messages, push devices)`,
  'messenger ready (embedded mode)',
];
process.stdout.write(`${lines.join('\n')}\n`);
