import { randomUUID } from 'node:crypto';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { EventBus } from './event-bus.ts';
import type { RelayLease } from './relay-lease.ts';

/** An event stored with the state change that caused it, waiting to be published. */
export interface OutboxEntry {
  readonly topic: string;
  readonly envelope: EventEnvelope;
}

/**
 * The store side of the transactional outbox. A service's store writes a
 * change and its OutboxEntries in one atomic step; the relay reads them back
 * in the order they were written and marks them published. The outbox also
 * tells the relay when a write has committed entries, so no use case has to.
 */
export interface OutboxSource {
  /** The oldest unpublished entries, oldest first. */
  pendingEvents(limit: number): Promise<readonly OutboxEntry[]>;
  /** Marks entries (by envelope id) as published; they are never returned again. */
  markPublished(eventIds: readonly string[]): Promise<void>;
  /**
   * Calls `wake` after every write that committed entries (once they are
   * visible to `pendingEvents`; not for a write that had none or failed),
   * until the returned function is called.
   */
  onCommit(wake: () => void): () => void;
  /**
   * Present when relays in several processes share this outbox (a MongoDB
   * store behind every replica): only the lease's holder publishes. Absent
   * when one process owns the store (memory, SQLite).
   */
  readonly lease?: RelayLease;
}

export interface OutboxRelayOptions {
  readonly source: OutboxSource;
  readonly bus: EventBus;
  readonly log: Logger;
  /**
   * How often to look for entries nobody signalled: those another replica
   * wrote, or those of a commit whose outcome the driver could not report.
   */
  readonly pollIntervalMs?: number;
  readonly batchSize?: number;
  /** Wait after a failed publish, doubled per failure up to maxBackoffMs. */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Where `outbox_publish_failures_total{service}` counts failed publishes; absent, not counted. */
  readonly metrics?: { readonly registry: Registry; readonly service: string };
  /**
   * How long the source's lease lasts without renewal, default 10 s: the
   * longest a store's events wait when its publishing replica dies. The
   * holder renews it after a third of that.
   */
  readonly leaseTtlMs?: number;
}

export interface OutboxRelay {
  /** Finishes the batch in hand and stops. Unpublished entries stay in the store. */
  stop(): Promise<void>;
}

/**
 * Publishes outbox entries to the event bus in store order and marks them
 * published only after the bus acknowledged them, so an event survives a bus
 * outage or a crash (at-least-once; consumers dedupe by event id). One relay
 * publishes per store at a time, since two would publish out of order: when
 * the source has a lease (replicas sharing a store), only its holder
 * publishes and the others poll until it expires or is released (stop()). It subscribes to the source's
 * commit signal, so a committed change is published at once; it polls as
 * well, for entries nobody signalled. A commit does not cut short the wait
 * after a failed publish: new entries do not bring the broker back.
 */
export function startOutboxRelay(opts: OutboxRelayOptions): OutboxRelay {
  const pollIntervalMs = opts.pollIntervalMs ?? 500;
  const batchSize = opts.batchSize ?? 100;
  const initialBackoffMs = opts.initialBackoffMs ?? 100;
  const maxBackoffMs = opts.maxBackoffMs ?? 10_000;
  let stopped = false;
  /** The wait in progress: ends early on stop(), and on a commit unless it is a backoff. */
  let waiting: { readonly end: () => void; readonly endsOnCommit: boolean } | undefined;
  let dirty = true;
  const lease = opts.source.lease;
  const leaseTtlMs = opts.leaseTtlMs ?? 10_000;
  const holder = randomUUID();
  /** Until when this relay may publish without renewing; 0: it does not hold the lease. */
  let renewAfter = 0;
  const failuresCounted = opts.metrics
    ? publishFailures(opts.metrics.registry).labels(opts.metrics.service)
    : undefined;

  const sleep = (ms: number, endsOnCommit: boolean) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(end, ms);
      function end() {
        clearTimeout(timer);
        waiting = undefined;
        resolve();
      }
      waiting = { end, endsOnCommit };
    });

  const loop = async () => {
    let failures = 0;
    while (!stopped) {
      if (!dirty) await sleep(pollIntervalMs, true);
      dirty = false;
      if (stopped) break;
      if (lease && !(await holdsLease(lease))) {
        // Another replica publishes. Commits do not end this wait: asking for the lease on every commit
        // would cost every replica a round trip per write.
        await sleep(pollIntervalMs, false);
        dirty = true;
        continue;
      }
      try {
        const published = await publishBatch(opts.source, opts.bus, batchSize);
        failures = 0;
        // A full batch means more may be waiting: go again without sleeping.
        if (published === batchSize) dirty = true;
      } catch (err) {
        failures++;
        failuresCounted?.inc();
        const backoff = Math.min(maxBackoffMs, initialBackoffMs * 2 ** (failures - 1));
        opts.log.warn({ err, failures, backoffMs: backoff }, 'outbox publish failed; will retry');
        await sleep(backoff, false);
        dirty = true;
      }
    }
  };

  /** Whether this relay holds the lease, renewing it once a third of its time has passed. */
  const holdsLease = async (l: RelayLease): Promise<boolean> => {
    const now = Date.now();
    if (now < renewAfter) return true;
    try {
      const held = await l.acquire(holder, leaseTtlMs);
      if (held && renewAfter === 0) opts.log.info({ holder }, 'outbox relay took the lease: publishing');
      if (!held && renewAfter !== 0)
        opts.log.info({ holder }, 'outbox relay lost the lease: another replica publishes');
      renewAfter = held ? now + leaseTtlMs / 3 : 0;
      return held;
    } catch (err) {
      opts.log.warn({ err }, 'outbox relay could not take or renew its lease; will retry');
      renewAfter = 0;
      return false;
    }
  };

  const unsubscribe = opts.source.onCommit(() => {
    dirty = true;
    if (waiting?.endsOnCommit) waiting.end();
  });
  const running = loop();

  return {
    async stop() {
      stopped = true;
      unsubscribe();
      waiting?.end();
      await running;
      // Hand over at once rather than after the lease expires.
      if (lease && renewAfter !== 0) await lease.release(holder).catch(() => {});
    },
  };
}

async function publishBatch(source: OutboxSource, bus: EventBus, limit: number): Promise<number> {
  const entries = await source.pendingEvents(limit);
  if (entries.length === 0) return 0;
  // Consecutive runs per topic keep the store's order within each topic.
  let start = 0;
  while (start < entries.length) {
    const topic = entries[start]?.topic;
    let end = start;
    while (end < entries.length && entries[end]?.topic === topic) end++;
    if (topic === undefined) break;
    await bus.publish(
      topic,
      entries.slice(start, end).map((e) => e.envelope),
    );
    start = end;
  }
  await source.markPublished(entries.map((e) => e.envelope.id));
  return entries.length;
}

/** One counter per registry: in embedded mode every service's relay shares the process's. */
function publishFailures(registry: Registry): Counter<'service'> {
  const existing = registry.getSingleMetric('outbox_publish_failures_total');
  if (existing) return existing as Counter<'service'>;
  return new Counter({
    name: 'outbox_publish_failures_total',
    help: 'Outbox batches the relay failed to publish (the event bus unreachable); each is retried, nothing is lost.',
    labelNames: ['service'],
    registers: [registry],
  });
}
