import type { Logger } from './logger.ts';

/** What a start-up function is given: where to register what it opened, and whether it was aborted. */
export interface Startup {
  /** Aborted once a shutdown signal arrives before start-up finished. */
  readonly signal: AbortSignal;
  /**
   * Registers how to close something start-up has just opened. An aborted
   * start-up closes what was registered, in reverse order; once start-up
   * finished the registrations are dropped (the started process's own stop
   * closes everything).
   */
  opened(close: () => Promise<void>): void;
}

/** A process once started: what its first shutdown signal runs. */
export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Installs the SIGTERM/SIGINT handler, then starts. The handler comes first
 * because a container's PID 1 ignores SIGTERM until it has one, so a pod
 * stopped while it still connects to its datastores would wait for SIGKILL.
 *
 * A signal during start-up aborts it: `start`'s signal is aborted, what it
 * registered with `opened` closes in reverse order, and the process exits 0
 * without waiting for the step in progress (a connect still retrying ends
 * with the process). After start-up the first signal runs the started
 * process's `stop`, then exits 0 (1 if stopping failed). A second signal
 * exits at once with 130, so an operator pressing Ctrl-C twice is never kept
 * waiting. Resolves with what `start` resolved with; rejects, with no
 * handler left behind, if start-up fails before any signal.
 */
export function startUntilShutdownSignal<T extends Stoppable>(
  log: Logger,
  start: (startup: Startup) => Promise<T>,
): Promise<T> {
  const guard = shutdownGuard<T>();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!guard.request()) {
      log.warn({ signal }, 'second signal; exiting without waiting');
      process.exit(130);
    }
    log.info({ signal }, guard.started ? 'shutting down' : 'shutting down during start-up');
  };
  guard.onStop(
    (started) => finish(log, started.stop()),
    () => finish(log, Promise.resolve(), 'start-up aborted'),
  );
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return guard.start(start).catch((err: unknown) => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    throw err;
  });
}

/**
 * Runs `stop` once on the first SIGTERM or SIGINT, then exits 0 (1 if stopping
 * failed); a second signal exits at once with 130. For a process that has
 * nothing to start (`startUntilShutdownSignal` otherwise).
 */
export function exitOnShutdownSignal(log: Logger, stop: () => Promise<void>): void {
  void startUntilShutdownSignal(log, async () => ({ stop }));
}

/**
 * One process's way from starting to stopped, whatever asks it to stop (a
 * signal, its group's primary): `request` asks (true the first time only);
 * the stop runs once start-up has settled, or at once, aborting start-up, if
 * it is still under way.
 */
export interface ShutdownGuard<T> {
  readonly started: boolean;
  /** True the first time; false when a stop was already requested. */
  request(): boolean;
  /** What a stop does: `stopStarted` after start-up, `abandon` (after closing what start-up opened) during it. */
  onStop(stopStarted: (started: T) => void, abandon: () => void): void;
  start(start: (startup: Startup) => Promise<T>): Promise<T>;
}

export function shutdownGuard<T>(): ShutdownGuard<T> {
  const abort = new AbortController();
  const opened: Array<() => Promise<void>> = [];
  let started: T | undefined;
  let requested = false;
  let stopStarted: (started: T) => void = () => {};
  let abandon: () => void = () => {};
  const abortStartup = async () => {
    abort.abort(new Error('shutdown requested during start-up'));
    for (const close of opened.reverse()) await close().catch(() => {});
    abandon();
  };
  return {
    get started() {
      return started !== undefined;
    },
    request() {
      if (requested) return false;
      requested = true;
      if (started !== undefined) stopStarted(started);
      else void abortStartup();
      return true;
    },
    onStop(onStarted, onAbandon) {
      stopStarted = onStarted;
      abandon = onAbandon;
    },
    async start(start) {
      const value = await start({
        signal: abort.signal,
        opened: (close) => {
          opened.push(close);
        },
      }).catch((err: unknown) => {
        // A start-up that fails because it was aborted is not a failure: the abort is exiting the process.
        if (requested) return new Promise<never>(() => {});
        throw err;
      });
      // Aborted while its last step finished anyway: the exit under way ends that too.
      if (requested) return new Promise<never>(() => {});
      opened.length = 0;
      started = value;
      return value;
    },
  };
}

function finish(log: Logger, stopping: Promise<void>, done = 'stopped'): void {
  stopping.then(
    () => {
      log.info(done);
      process.exit(0);
    },
    (err: unknown) => {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
}
