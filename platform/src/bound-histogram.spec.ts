import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { BoundHistogram } from './bound-histogram.ts';

// BoundHistogram replaces prom-client's Histogram on hot paths; what a
// scrape shows must not change. Each case feeds the same observations to
// both, each in its own registry, and compares what the registries render.

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const LABELS = ['method', 'route', 'status'] as const;
type Label = (typeof LABELS)[number];
type Observation = readonly [Record<Label, string>, number];

function both(observations: readonly Observation[]): {
  library: Registry;
  ours: Registry;
  bound: BoundHistogram<Label>;
} {
  const library = new Registry();
  const ours = new Registry();
  const reference = new Histogram({ name: 'd', help: 'h', labelNames: LABELS, buckets: BUCKETS, registers: [library] });
  const bound = new BoundHistogram({ name: 'd', help: 'h', labelNames: LABELS, buckets: BUCKETS, registry: ours });
  for (const [labels, value] of observations) {
    reference.observe(labels, value);
    bound.series(labels).observe(value);
  }
  return { library, ours, bound };
}

/** Deterministic pseudo-random numbers, so a failure repeats. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

function mixed(seed: number, n: number): Observation[] {
  const next = random(seed);
  const routes = ['/v1/users/{id}', '/v1/chats/{id}/messages', 'unmatched', 'a "quoted"\\route\n'];
  const out: Observation[] = [];
  for (let i = 0; i < n; i++) {
    const labels = {
      method: next() < 0.7 ? 'GET' : 'POST',
      route: routes[Math.floor(next() * routes.length)] as string,
      status: ['200', '404', '429', '503'][Math.floor(next() * 4)] as string,
    };
    // Every bucket, the bounds themselves, zero, and past the last bound.
    const r = next();
    const value = r < 0.1 ? (BUCKETS[Math.floor(next() * BUCKETS.length)] as number) : r < 0.15 ? 0 : next() ** 4 * 8;
    out.push([labels, value]);
  }
  return out;
}

it('renders the same text as prom-client for the same observations', async () => {
  const { library, ours } = both(mixed(1, 2_000));
  const text = await ours.metrics();
  expect(text).toContain('d_bucket{le="+Inf",method="GET",route="/v1/users/{id}"');
  expect(text).toBe(await library.metrics());
});

it('gives the same JSON as prom-client, which is what the workers of a process group send', async () => {
  const { library, ours } = both(mixed(2, 500));
  expect(await ours.getMetricsAsJSON()).toEqual(await library.getMetricsAsJSON());
});

it('merges across workers as prom-client does', async () => {
  const workers = [mixed(3, 300), mixed(4, 300), mixed(5, 300)].map(both);
  const merge = async (which: 'library' | 'ours') =>
    AggregatorRegistry.aggregate(await Promise.all(workers.map((w) => w[which].getMetricsAsJSON()))).metrics();
  const merged = await merge('ours');
  expect(merged).toMatch(/d_count\{method="(GET|POST)",route="[^"]+",status="\d+"\} \d+/);
  expect(merged).toBe(await merge('library'));
});

it('hands out one series per label values, empty ones unexposed, all emptied by a reset', async () => {
  const { ours, bound } = both([]);
  const a = bound.series({ method: 'GET', route: '/r', status: '200' });
  expect(bound.series({ method: 'GET', route: '/r', status: '200' })).toBe(a);
  bound.series({ method: 'GET', route: '/r', status: '500' });
  a.observe(0.002);
  a.observe(7);
  const text = await ours.metrics();
  expect(text).toContain('d_bucket{le="0.0025",method="GET",route="/r",status="200"} 1');
  expect(text).toContain('d_bucket{le="5",method="GET",route="/r",status="200"} 1');
  expect(text).toContain('d_bucket{le="+Inf",method="GET",route="/r",status="200"} 2');
  expect(text).toContain('d_sum{method="GET",route="/r",status="200"} 7.002');
  expect(text).not.toContain('status="500"');
  ours.resetMetrics();
  expect(await ours.metrics()).not.toContain('d_count');
  a.observe(1);
  expect(await ours.metrics()).toContain('d_count{method="GET",route="/r",status="200"} 1');
});

it('refuses what prom-client refuses: unknown labels and values that are not numbers', () => {
  const { bound } = both([]);
  expect(() => bound.series({ verb: 'GET' } as never)).toThrow(/label "verb"/);
  expect(() => bound.series({ method: 'GET' }).observe(Number.NaN)).toThrow(TypeError);
  expect(
    () => new BoundHistogram({ name: 'x', help: 'h', labelNames: [], buckets: [1, 1], registry: new Registry() }),
  ).toThrow(/ascending/);
});
