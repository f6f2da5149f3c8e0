import type { Logger } from './logger.ts';

/**
 * Runs `stop` once on the first SIGTERM or SIGINT, then exits 0 (1 if stopping
 * failed). A second signal while stopping exits at once with 130, so an
 * operator pressing Ctrl-C twice is never kept waiting.
 */
export function exitOnShutdownSignal(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal; exiting without waiting');
      process.exit(130);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
