// Several processes of one service on its ports (node:cluster). The primary
// forks the workers, replaces one that dies, merges their metrics and drains
// them all on SIGTERM; each worker runs the whole service, as a replica would.
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import type { Setting } from '../config.ts';
import { type Startup, shutdownGuard, startUntilShutdownSignal } from '../lifecycle.ts';
import { createLogger, type Logger } from '../logger.ts';
import { mergeWorkerMetrics } from '../metrics.ts';

const MAX_WORKERS = 256;

/**
 * A `<PREFIX>_WORKERS` setting: how many processes serve. `auto` is one per
 * CPU this process may use, `os.availableParallelism()` (the affinity mask
 * and, with Node 24's libuv, a cgroup CPU quota).
 */
export function workersSetting(env: string, defaultValue: number | 'auto', description: string): Setting<number> {
  return {
    env,
    description,
    defaultValue: String(defaultValue),
    secret: false,
    schema: z
      .string()
      .regex(/^(auto|\d+)$/, `must be auto or a whole number from 1 to ${MAX_WORKERS}`)
      .transform((v) => (v === 'auto' ? availableParallelism() : Number(v)))
      .pipe(z.number().int().min(1).max(MAX_WORKERS)),
  };
}

/** The line a group logs once it listens, e.g. `{ msg: 'gateway listening', url }`. */
export interface Listening {
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** What `start` gives back once this process serves. */
export interface StartedWorker {
  /** The process's logger (its runtime's): the helper logs its start and drain with it. */
  readonly logger: Logger;
  readonly listening: Listening;
  /** Drains and closes what `start` opened: what one process does on SIGTERM. */
  stop(): Promise<void>;
}

export interface WorkerGroupOptions {
  /** Names the primary's log lines (`service`), e.g. `user`. */
  readonly service: string;
  /** Processes that serve; 1 runs `start` in this process, with no primary. */
  readonly workers: number;
  /** The primary's log level. */
  readonly logLevel: string;
  /** The workers' drain grace (SHUTDOWN_GRACE_MS); the primary kills workers still running 10 s after it. */
  readonly shutdownGraceMs: number;
  /**
   * Settings whose state each worker keeps in its own memory, e.g.
   * `USER_STORE=memory`: with several workers they are named in a warning.
   */
  readonly perWorkerState?: readonly string[];
  readonly restart?: RestartPolicy;
}

/**
 * A worker that exits unasked is forked again after `firstDelayMs`, doubling
 * with each exit of that worker's slot within `windowMs`; the `giveUpAfter`-th
 * such exit stops the whole group with exit code 1, so that the orchestrator
 * sees the crash loop.
 */
export interface RestartPolicy {
  readonly firstDelayMs: number;
  readonly giveUpAfter: number;
  readonly windowMs: number;
}

const DEFAULT_RESTART: RestartPolicy = { firstDelayMs: 250, giveUpAfter: 5, windowMs: 60_000 };
/** After the drain grace, how long the primary still waits for a worker before killing it. */
const STOP_MARGIN_MS = 10_000;
const LISTENING = 'messenger:worker:listening';
const DRAIN = 'messenger:worker:drain';
const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** In a worker of a group: its id (1, 2, …; a replacement gets a new one) and pid, for its log lines. */
export function workerIdentity(): { readonly worker: number; readonly pid: number } | undefined {
  return cluster.isWorker && cluster.worker ? { worker: cluster.worker.id, pid: process.pid } : undefined;
}

/**
 * Runs the service `start` starts in `workers` processes sharing its ports:
 * the entry point runs again in each worker (node:cluster's round-robin: the
 * primary accepts connections and hands them out in turn; port 0 gives one
 * free port shared by all). With one worker, `start` runs in this process.
 * Resolves, in the process that speaks for the group (this one, or the
 * primary once every worker listens), with the listening line it logged; in
 * a worker, with undefined once that worker listens.
 */
export async function runWorkers(
  opts: WorkerGroupOptions,
  start: (startup: Startup) => Promise<StartedWorker>,
): Promise<Listening | undefined> {
  // Every process of the group handles SIGTERM and SIGINT from before it starts (startUntilShutdownSignal).
  const log = createLogger({ level: opts.logLevel, service: opts.service });
  if (cluster.isWorker) return runWorker(log.child(workerIdentity() ?? {}), start);
  if (opts.workers <= 1) {
    const started = await startUntilShutdownSignal(log, start);
    logListening(started.logger, started.listening);
    return started.listening;
  }
  return runPrimary(opts, log);
}

function logListening(log: Logger, { msg, ...fields }: Listening, extra: object = {}): void {
  log.info({ ...fields, ...extra }, msg);
}

interface GroupMessage {
  readonly type: string;
  readonly listening?: Listening;
}

function isGroupMessage(m: unknown, type: string): m is GroupMessage {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type;
}

/**
 * A worker drains once, when the primary asks or on its own first SIGTERM or
 * SIGINT (Ctrl-C reaches every process of the terminal); a second signal
 * exits at once with 130. Asked while it still starts, it aborts start-up as
 * a single process does and exits 0.
 */
async function runWorker(log: Logger, start: (startup: Startup) => Promise<StartedWorker>): Promise<undefined> {
  const guard = shutdownGuard<StartedWorker>();
  guard.onStop(
    (worker) => {
      worker.stop().then(
        () => {
          worker.logger.info('worker stopped');
          process.exit(0);
        },
        (err: unknown) => {
          worker.logger.error({ err }, 'worker stop failed');
          process.exit(1);
        },
      );
    },
    () => {
      log.info('worker start-up aborted');
      process.exit(0);
    },
  );
  let signals = 0;
  const stop = (reason: string) => {
    if (!guard.request()) return;
    log.info({ reason }, guard.started ? 'worker draining' : 'worker shutting down during start-up');
  };
  process.on('message', (m: unknown) => {
    if (isGroupMessage(m, DRAIN)) stop('asked by the primary');
  });
  for (const signal of SIGNALS) {
    process.on(signal, () => {
      if (++signals > 1) process.exit(130);
      stop(signal);
    });
  }
  const started = await guard.start(start);
  started.logger.info('worker listening');
  process.send?.({ type: LISTENING, listening: started.listening } satisfies GroupMessage);
  return undefined;
}

interface Slot {
  /** When this slot's workers exited unasked, within the restart window. */
  exits: number[];
  timer?: NodeJS.Timeout;
}

function runPrimary(opts: WorkerGroupOptions, log: Logger): Promise<Listening> {
  const policy = opts.restart ?? DEFAULT_RESTART;
  if (opts.perWorkerState && opts.perWorkerState.length > 0) {
    log.warn(
      { workers: opts.workers, perWorkerState: opts.perWorkerState },
      'state kept in process memory is per worker: the workers do not share it',
    );
  }
  const listening = new Set<Worker>();
  const exits = new Map<Worker, Promise<number | null>>();
  mergeWorkerMetrics(() => listening);
  let up = false;
  let stopping = false;
  let signals = 0;

  return new Promise<Listening>((resolve) => {
    const fork = (slot: Slot) => {
      const worker = cluster.fork();
      exits.set(
        worker,
        new Promise((done) =>
          worker.once('exit', (code, signal) => {
            exits.delete(worker);
            listening.delete(worker);
            if (!stopping) exited(slot, worker, code, signal);
            done(code);
          }),
        ),
      );
      worker.on('message', (m: unknown) => {
        if (!isGroupMessage(m, LISTENING) || !m.listening) return;
        listening.add(worker);
        if (up) {
          log.info({ worker: worker.id, pid: worker.process.pid }, 'worker replaced');
        } else if (listening.size === opts.workers) {
          up = true;
          logListening(log, m.listening, { workers: opts.workers });
          resolve(m.listening);
        }
      });
    };

    const exited = (slot: Slot, worker: Worker, code: number | null, signal: string | null) => {
      const where = { worker: worker.id, pid: worker.process.pid, code, signal };
      if (!up) {
        log.fatal(where, 'a worker exited before the group was listening; stopping');
        stop(1);
        return;
      }
      const now = Date.now();
      slot.exits = [...slot.exits.filter((t) => now - t < policy.windowMs), now];
      if (slot.exits.length >= policy.giveUpAfter) {
        log.fatal(
          { ...where, exits: slot.exits.length, windowMs: policy.windowMs },
          'a worker keeps exiting; giving up and stopping the group',
        );
        stop(1);
        return;
      }
      const delayMs = policy.firstDelayMs * 2 ** (slot.exits.length - 1);
      log.error({ ...where, restartInMs: delayMs }, 'worker exited unexpectedly; starting a new one');
      slot.timer = setTimeout(() => fork(slot), delayMs);
    };

    const slots: Slot[] = Array.from({ length: opts.workers }, () => ({ exits: [] }));
    const stop = (exitCode: number) => {
      if (stopping) return;
      stopping = true;
      for (const slot of slots) clearTimeout(slot.timer);
      const running = [...exits.keys()];
      const kill = setTimeout(() => {
        log.error({ graceMs: opts.shutdownGraceMs }, 'workers still running long after the grace period; killing them');
        for (const worker of running) worker.process.kill('SIGKILL');
      }, opts.shutdownGraceMs + STOP_MARGIN_MS);
      void Promise.all([...exits.values()]).then((codes) => {
        clearTimeout(kill);
        const failed = codes.filter((code) => code !== 0).length;
        if (failed > 0) log.error({ failed }, 'some workers did not stop cleanly');
        log.info('stopped');
        process.exit(exitCode === 0 && failed === 0 ? 0 : 1);
      });
      for (const worker of running) {
        if (worker.isConnected()) worker.send({ type: DRAIN } satisfies GroupMessage, () => {});
        else worker.process.kill('SIGTERM');
      }
    };

    for (const signal of SIGNALS) {
      process.on(signal, () => {
        if (++signals > 1) {
          log.warn({ signal }, 'second signal; killing the workers without waiting');
          for (const worker of exits.keys()) worker.process.kill('SIGKILL');
          process.exit(130);
        }
        log.info({ signal, workers: exits.size }, 'shutting down');
        stop(0);
      });
    }
    for (const slot of slots) fork(slot);
  });
}
