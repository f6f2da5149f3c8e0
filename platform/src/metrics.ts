import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:http';
import { AggregatorRegistry, Counter, collectDefaultMetrics, Registry } from 'prom-client';
import { BoundHistogram } from './bound-histogram.ts';

/**
 * The process's Prometheus registry and the instruments the platform records.
 * One per process: in embedded mode every service shares it, told apart by
 * the `service` label. In a worker of a process group (runtime `runWorkers`)
 * `registry.metrics()`, what every `/metrics` serves, is the whole group's.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly grpcServerHandled: Counter<'service' | 'method' | 'code'>;
  readonly grpcServerDuration: BoundHistogram<'service' | 'method'>;
  readonly grpcClientDuration: BoundHistogram<'target' | 'method' | 'code'>;
}

export { BoundHistogram, HistogramSeries } from './bound-histogram.ts';

/** Bounds, in seconds, of every request and call duration histogram. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

export interface MetricsOptions {
  /** Node process metrics (memory, CPU, event-loop lag, …); default true. */
  readonly defaultMetrics?: boolean;
  /**
   * This process is a node:cluster worker whose primary runs
   * `mergeWorkerMetrics`: `registry.metrics()` then renders the series of
   * every listening worker, merged; `getMetricsAsJSON()` stays this worker's own.
   */
  readonly processGroup?: boolean;
}

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = opts.processGroup ? new ProcessGroupRegistry() : new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return {
    registry,
    grpcServerHandled: new Counter({
      name: 'grpc_server_handled_total',
      help: 'gRPC calls completed by the server, by status code.',
      labelNames: ['service', 'method', 'code'],
      registers: [registry],
    }),
    grpcServerDuration: new BoundHistogram({
      name: 'grpc_server_handling_seconds',
      help: 'Time from receiving a gRPC call to sending its status.',
      labelNames: ['service', 'method'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registry,
    }),
    grpcClientDuration: new BoundHistogram({
      name: 'grpc_client_handling_seconds',
      help: 'Time an outgoing gRPC call took, by target service and status code.',
      labelNames: ['target', 'method', 'code'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registry,
    }),
  };
}

/** Serves the registry at GET /metrics (Prometheus text format) for a gRPC service process. */
export async function serveMetrics(
  metrics: Metrics,
  listen: { host: string; port: number },
): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : listen.port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

// ---- a process group: the workers of one service sharing its ports ---------------
//
// A scrape reaches one worker (the primary hands each connection to the next).
// That worker asks the primary, the primary asks every listening worker for
// its own series and merges them with prom-client's cluster aggregation:
// counters, histograms and most gauges are summed, event-loop lag averaged.

const ASK = 'messenger:metrics:ask'; // worker → primary: render the group for me
const COLLECT = 'messenger:metrics:collect'; // primary → worker: send your own series
const OWN = 'messenger:metrics:own'; // worker → primary: my series
const MERGED = 'messenger:metrics:merged'; // primary → worker: the group, or why not

/** How long a worker waits for the group's metrics; the primary gives up on a silent worker sooner. */
const ASK_TIMEOUT_MS = 5000;
const COLLECT_TIMEOUT_MS = 3000;

interface GroupMessage {
  readonly type: string;
  readonly id: number;
  readonly metrics?: unknown[];
  readonly text?: string;
  readonly error?: string;
}

function isGroupMessage(m: unknown, type: string): m is GroupMessage {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type;
}

// Both send unless the channel is gone: a lost message shows up as a timeout, never as a crash.
function sendToPrimary(message: GroupMessage): void {
  process.send?.(message, undefined, {}, () => {});
}

function sendToWorker(worker: Worker, message: GroupMessage): void {
  if (worker.isConnected()) worker.send(message, () => {});
}

class ProcessGroupRegistry extends Registry {
  #asked = 0;
  readonly #waiting = new Map<number, (reply: GroupMessage) => void>();

  constructor() {
    super();
    process.on('message', (m: unknown) => {
      if (isGroupMessage(m, COLLECT)) {
        void this.getMetricsAsJSON().then((metrics) => sendToPrimary({ type: OWN, id: m.id, metrics }));
      } else if (isGroupMessage(m, MERGED)) {
        this.#waiting.get(m.id)?.(m);
      }
    });
  }

  /** The whole process group's metrics, merged by the primary. */
  override metrics(): Promise<string> {
    const id = this.#asked++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`no metrics from the primary within ${ASK_TIMEOUT_MS} ms`));
      }, ASK_TIMEOUT_MS);
      this.#waiting.set(id, (reply) => {
        clearTimeout(timer);
        this.#waiting.delete(id);
        if (reply.text === undefined) reject(new Error(reply.error ?? 'no metrics'));
        else resolve(reply.text);
      });
      sendToPrimary({ type: ASK, id });
    });
  }
}

/**
 * In the primary of a process group: answers its workers' `/metrics` with
 * the merged series of `members()` (the workers that listen). A worker that
 * exits meanwhile is left out; one that stays silent fails that scrape
 * rather than give a partial sum, which would look like a counter reset.
 */
export function mergeWorkerMetrics(members: () => Iterable<Worker>): void {
  const rounds = new Map<number, { reply(from: Worker, metrics: unknown[]): void; drop(worker: Worker): void }>();
  let next = 0;

  const collect = () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const waiting = new Set(members());
      const replies: unknown[][] = [];
      const timer = setTimeout(() => {
        rounds.delete(id);
        reject(new Error(`${waiting.size} worker(s) sent no metrics within ${COLLECT_TIMEOUT_MS} ms`));
      }, COLLECT_TIMEOUT_MS);
      const settle = () => {
        if (waiting.size > 0) return;
        clearTimeout(timer);
        rounds.delete(id);
        AggregatorRegistry.aggregate(replies as Parameters<typeof AggregatorRegistry.aggregate>[0])
          .metrics()
          .then(resolve, reject);
      };
      rounds.set(id, {
        reply: (from, metrics) => {
          if (waiting.delete(from)) replies.push(metrics);
          settle();
        },
        drop: (worker) => {
          waiting.delete(worker);
          settle();
        },
      });
      for (const worker of waiting) sendToWorker(worker, { type: COLLECT, id });
      settle();
    });

  cluster.on('message', (from: Worker, m: unknown) => {
    if (isGroupMessage(m, ASK)) {
      collect().then(
        (text) => sendToWorker(from, { type: MERGED, id: m.id, text }),
        (err: Error) => sendToWorker(from, { type: MERGED, id: m.id, error: err.message }),
      );
    } else if (isGroupMessage(m, OWN) && Array.isArray(m.metrics)) {
      rounds.get(m.id)?.reply(from, m.metrics);
    }
  });
  cluster.on('exit', (worker: Worker) => {
    for (const round of rounds.values()) round.drop(worker);
  });
}
