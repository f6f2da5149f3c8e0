// The dependency monitor's rules, with probes whose answer the test sets
// (the probe is the port each adapter implements; what a real MongoDB or
// Kafka answers is the adapters' concern): a gating dependency stops the
// process serving only after the grace, and its first success restores it;
// a non-gating one only sets its gauge.
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { type DependencyProbe, monitorDependencies } from './dependencies.ts';

const logger = pino({ level: 'silent' });
const INTERVAL_MS = 20;
const GRACE_MS = 300;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function probe(dependency: string, gatesReadiness: boolean) {
  let up = true;
  const p: DependencyProbe = {
    dependency,
    gatesReadiness,
    check: async () => {
      if (!up) throw new Error(`${dependency} down`);
    },
  };
  const set = (value: boolean) => {
    up = value;
  };
  return { probe: p, set };
}

async function gauge(registry: Registry, dependency: string): Promise<number | undefined> {
  const metric = await registry.getSingleMetric('dependency_up')?.get();
  return metric?.values.find((v) => v.labels.dependency === dependency)?.value;
}

async function until(cond: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await pause(5);
  }
}

it('stops serving only once a gating dependency has failed for the grace, and serves at its first success', async () => {
  const registry = new Registry();
  const monitor = monitorDependencies({
    intervalMs: INTERVAL_MS,
    graceMs: GRACE_MS,
    timeoutMs: 1000,
    logger,
    registry,
  });
  const store = probe('mongodb', true);
  const changes: boolean[] = [];
  monitor.onChange((serving) => changes.push(serving));
  monitor.watch(store.probe);
  try {
    store.set(false);
    const cut = Date.now();
    await until(async () => (await gauge(registry, 'mongodb')) === 0);
    expect(monitor.serving()).toBe(true);
    await until(() => !monitor.serving());
    expect(Date.now() - cut).toBeGreaterThanOrEqual(GRACE_MS);

    store.set(true);
    await until(() => monitor.serving());
    expect(await gauge(registry, 'mongodb')).toBe(1);
    expect(changes).toEqual([false, true]);
  } finally {
    monitor.close();
  }
});

it('never stops serving for a dependency that does not gate readiness, and reports it in its gauge', async () => {
  const registry = new Registry();
  const monitor = monitorDependencies({
    intervalMs: INTERVAL_MS,
    graceMs: GRACE_MS,
    timeoutMs: 1000,
    logger,
    registry,
  });
  const bus = probe('kafka', false);
  monitor.watch(bus.probe);
  try {
    bus.set(false);
    await until(async () => (await gauge(registry, 'kafka')) === 0);
    await pause(2 * GRACE_MS);
    expect(monitor.serving()).toBe(true);
    expect(await gauge(registry, 'kafka')).toBe(0);
    bus.set(true);
    await until(async () => (await gauge(registry, 'kafka')) === 1);
  } finally {
    monitor.close();
  }
});

it('counts a check that does not answer within its timeout as failed', async () => {
  const registry = new Registry();
  const monitor = monitorDependencies({ intervalMs: INTERVAL_MS, graceMs: GRACE_MS, timeoutMs: 100, logger, registry });
  let hang = false;
  monitor.watch({
    dependency: 'mongodb',
    gatesReadiness: true,
    check: () => (hang ? new Promise<void>(() => {}) : Promise.resolve()),
  });
  try {
    hang = true;
    await until(() => !monitor.serving());
    expect(await gauge(registry, 'mongodb')).toBe(0);
  } finally {
    monitor.close();
  }
});
