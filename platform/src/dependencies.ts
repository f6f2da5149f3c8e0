import { Gauge, type Registry } from 'prom-client';
import type { Logger } from './logger.ts';

/**
 * A cheap check that a dependency a service cannot serve without (its
 * datastore, its event bus) is usable right now: resolves when it is,
 * rejects when it is not. Each adapter that reaches one offers its own (the
 * MongoDB store a `ping`, the Kafka bus a metadata request); stores in
 * process memory have nothing that could be down and offer none.
 */
export interface DependencyProbe {
  /** Names the dependency in logs and as the `dependency` label of `dependency_up`, e.g. `mongodb`. */
  readonly dependency: string;
  /**
   * Whether the process stops serving (readiness) while this dependency is
   * down. True for the datastore: no call works without it. False for the
   * event bus: the transactional outbox keeps every write working and
   * publishes once the bus is back, and every replica shares the bus, so
   * gating on it would take all of them out of rotation at once and turn a
   * delay of events into an outage of every call. Either way its
   * `dependency_up` and log lines report it.
   */
  readonly gatesReadiness: boolean;
  check(): Promise<void>;
}

/** Whether the dependencies allow this process to serve, as its gRPC health reports it. */
export interface DependencyHealth {
  serving(): boolean;
  /** Calls `listener` on every change of `serving()`; returns the unsubscribe function. */
  onChange(listener: (serving: boolean) => void): () => void;
}

export interface DependencyMonitor extends DependencyHealth {
  /** Polls `probe` from now on, until `close`. */
  watch(probe: DependencyProbe): void;
  close(): void;
}

export interface DependencyMonitorOptions {
  /** Time between two checks of one dependency. */
  readonly intervalMs: number;
  /** How long a dependency may be down before the process stops serving. */
  readonly graceMs: number;
  /** A check that has not answered after this long counts as failed. */
  readonly timeoutMs: number;
  readonly logger: Pick<Logger, 'warn' | 'info'>;
  /** Where `dependency_up` is registered; absent, no gauge. */
  readonly registry?: Registry;
}

/**
 * Polls each watched probe on a timer, never per health call: a readiness
 * probe every few seconds from Kubernetes, the gateway and compose must not
 * turn into a stream of pings at the datastore. A check still unanswered at
 * the next tick is not started again; it counts as failed once `timeoutMs`
 * has passed. The process stops serving once any dependency has failed for
 * `graceMs` without a success in between, and serves again at that
 * dependency's first success, so a blip shorter than the grace never takes
 * a replica out of rotation. Dependencies that do not gate readiness only
 * set their gauge and log.
 */
export function monitorDependencies(opts: DependencyMonitorOptions): DependencyMonitor {
  const gauge = opts.registry ? dependencyUpGauge(opts.registry) : undefined;
  const listeners = new Set<(serving: boolean) => void>();
  const watched: { readonly timer: NodeJS.Timeout }[] = [];
  /** Per dependency that gates readiness: since when it has been failing, or undefined while it is up. */
  const downSince = new Map<string, number | undefined>();
  let serving = true;

  const update = () => {
    const now = Date.now();
    const next = [...downSince.values()].every((since) => since === undefined || now - since < opts.graceMs);
    if (next === serving) return;
    serving = next;
    for (const listener of listeners) listener(serving);
  };

  return {
    serving: () => serving,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    watch(probe) {
      const { dependency, gatesReadiness } = probe;
      gauge?.set({ dependency }, 1);
      let pending: Promise<void> | undefined;
      let startedAt = 0;
      let failingSince: number | undefined;
      const record = (up: boolean, err?: unknown) => {
        if (up && failingSince !== undefined) {
          opts.logger.info({ dependency }, 'dependency reachable again');
        } else if (!up && failingSince === undefined) {
          const effect = gatesReadiness ? { graceMs: opts.graceMs } : { readiness: 'unaffected' };
          opts.logger.warn({ dependency, err, ...effect }, 'dependency check failed');
        }
        failingSince = up ? undefined : (failingSince ?? Date.now());
        gauge?.set({ dependency }, up ? 1 : 0);
        if (gatesReadiness) {
          downSince.set(dependency, failingSince);
          update();
        }
      };
      const tick = () => {
        if (pending) {
          if (Date.now() - startedAt >= opts.timeoutMs)
            record(false, new Error(`no answer within ${opts.timeoutMs} ms`));
          return;
        }
        startedAt = Date.now();
        const check = probe.check().then(
          () => record(Date.now() - startedAt < opts.timeoutMs),
          (err: unknown) => record(false, err),
        );
        pending = check.finally(() => {
          pending = undefined;
        });
      };
      const timer = setInterval(tick, opts.intervalMs);
      // Health must never keep a stopping process alive.
      timer.unref();
      watched.push({ timer });
    },
    close() {
      for (const { timer } of watched) clearInterval(timer);
      watched.length = 0;
      listeners.clear();
    },
  };
}

/** One gauge per registry, shared by every monitor registered there. */
function dependencyUpGauge(registry: Registry): Gauge<'dependency'> {
  const existing = registry.getSingleMetric('dependency_up');
  if (existing) return existing as Gauge<'dependency'>;
  return new Gauge({
    name: 'dependency_up',
    help: "1 while this process's last check of a dependency (datastore, event bus) succeeded, 0 while it fails.",
    labelNames: ['dependency'],
    // Across the workers of a process group: 0 as soon as one of them cannot reach it.
    aggregator: 'min',
    registers: [registry],
  });
}
