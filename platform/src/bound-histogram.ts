import type { Aggregator, Metric, MetricObjectWithValues, MetricValueWithName, Registry } from 'prom-client';

export interface BoundHistogramOptions<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  /** Upper bounds in seconds (or whatever is observed), ascending. */
  readonly buckets: readonly number[];
  /** Where it is exposed. */
  readonly registry: Registry;
  /** How the workers of a process group merge it; default `sum`, as prom-client's histograms. */
  readonly aggregator?: Aggregator;
}

/**
 * One labelled series of a BoundHistogram. Observing it is a walk over the
 * bounds and three additions: no label object, no hashing, no string.
 */
export class HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly #bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last slot counts those above every bound. */
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(labels: Readonly<Record<string, string>>, bounds: readonly number[]) {
    this.labels = labels;
    this.#bounds = bounds;
    this.#counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.#counts[i] = (this.#counts[i] as number) + 1;
    this.#sum += value;
    this.#count++;
  }

  get count(): number {
    return this.#count;
  }

  /** prom-client's own shape of a histogram's values: the buckets cumulative, then `+Inf`, `_sum`, `_count`. */
  values(name: string): MetricValueWithName<string>[] {
    const out: MetricValueWithName<string>[] = [];
    let cumulative = 0;
    this.#bounds.forEach((le, i) => {
      cumulative += this.#counts[i] as number;
      out.push(point(`${name}_bucket`, { le, ...this.labels }, cumulative, null));
    });
    out.push(
      point(`${name}_bucket`, { le: '+Inf', ...this.labels }, this.#count, null),
      point(`${name}_sum`, { ...this.labels }, this.#sum, undefined),
      point(`${name}_count`, { ...this.labels }, this.#count, undefined),
    );
    return out;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#sum = 0;
    this.#count = 0;
  }
}

function point(
  metricName: string,
  labels: Record<string, string | number>,
  value: number,
  exemplar: null | undefined,
): MetricValueWithName<string> {
  // prom-client's histogram carries an `exemplar` key on every value; kept so both merge and compare alike.
  return { value, labels, metricName, exemplar } as MetricValueWithName<string>;
}

/**
 * A Prometheus histogram whose series are bound once, where the code that
 * observes them is set up (a route, a method), and then observed with a
 * number alone. prom-client's `Histogram.observe(labels, value)` validates
 * and hashes the label object and converts the bound to a property name on
 * every call (about 10k instructions a request on the gateway); this keeps
 * a series' buckets in an array. It registers in a prom-client registry and
 * renders exactly as prom-client's Histogram does, in one process and merged
 * across the workers of a process group (`bound-histogram.spec.ts` checks
 * both against the library).
 *
 * Series appear in the order they were bound (prom-client: first observed;
 * the gateway binds a series at its first observation); a series with no
 * observation is not exposed, as with prom-client.
 */
export class BoundHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator: Aggregator;
  readonly #labelNames: readonly L[];
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, HistogramSeries>();

  constructor(opts: BoundHistogramOptions<L>) {
    const bounds = [...opts.buckets];
    if (bounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (bounds[i - 1] as number)))) {
      throw new TypeError(`histogram ${opts.name}: buckets must be finite and ascending`);
    }
    this.name = opts.name;
    this.help = opts.help;
    this.aggregator = opts.aggregator ?? 'sum';
    this.#labelNames = [...opts.labelNames];
    this.#bounds = Object.freeze(bounds);
    opts.registry.registerMetric(this as unknown as Metric);
  }

  /** The series of these label values; the same object for the same values. */
  series(labels: Readonly<Partial<Record<L, string>>>): HistogramSeries {
    let key = '';
    for (const name of Object.keys(labels)) {
      if (!this.#labelNames.includes(name as L)) {
        throw new Error(`histogram ${this.name}: label "${name}" is not one of ${this.#labelNames.join(', ')}`);
      }
    }
    for (const name of this.#labelNames) {
      const value = labels[name];
      if (value !== undefined) key += `${name}:${value},`;
    }
    let series = this.#series.get(key);
    if (series === undefined) {
      series = new HistogramSeries({ ...labels } as Record<string, string>, this.#bounds);
      this.#series.set(key, series);
    }
    return series;
  }

  /** What prom-client's registry reads (`metrics()`, `getMetricsAsJSON()`). */
  async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const values: MetricValueWithName<string>[] = [];
    for (const series of this.#series.values()) {
      if (series.count > 0) values.push(...series.values(this.name));
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator } as never;
  }

  /** The registry's `resetMetrics()`: every series back to empty (and unexposed until observed again). */
  reset(): void {
    for (const series of this.#series.values()) series.reset();
  }
}
