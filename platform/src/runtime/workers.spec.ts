// runWorkers through a real process group (workers.fixture.ts): one process
// without a primary, a worker that cannot start, and a crash loop.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type NodeProcess, spawnNode } from '../../testing/node-process.ts';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'workers.fixture.ts');

/** Runs the fixture with `env` for `body`, and kills what is left of it afterwards. */
async function withGroup(env: Record<string, string>, body: (group: NodeProcess) => Promise<void>): Promise<void> {
  const group = spawnNode(fixture, { PATH: process.env.PATH, ...env });
  try {
    await body(group);
  } finally {
    await group.stop('SIGKILL');
  }
}

it('with one worker, serves from this process: no primary', () =>
  withGroup({ FIXTURE_WORKERS: '1' }, async (group) => {
    const [, pid, port] = await group.waitFor(/"pid":(\d+),"port":(\d+),"msg":"fixture listening"/);
    expect(Number(pid)).toBe(group.child.pid);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe(pid);
    await expect(group.stop()).resolves.toBe(0);
  }));

it('stops with exit code 1 when a worker cannot start', () =>
  withGroup({ FIXTURE_MODE: 'fail-start' }, async (group) => {
    await group.waitFor(/"msg":"a worker exited before the group was listening; stopping"/);
    await group.waitFor(/"msg":"stopped"/);
    await expect(group.stop()).resolves.toBe(1);
  }));

it('restarts a worker that exits, with backoff, and gives up loudly when it keeps exiting', () =>
  withGroup({ FIXTURE_MODE: 'crash' }, async (group) => {
    const [, port] = await group.waitFor(/"port":(\d+),"workers":2,"msg":"fixture listening"/);
    // The first request makes its worker exit; from then on every replacement exits soon after it listens.
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
    await group.waitFor(
      /"code":3,"signal":null,"restartInMs":20,"msg":"worker exited unexpectedly; starting a new one"/,
    );
    await group.waitFor(/"restartInMs":40,"msg":"worker exited unexpectedly; starting a new one"/);
    await group.waitFor(/"exits":3,"windowMs":10000,"msg":"a worker keeps exiting; giving up and stopping the group"/);
    await expect(group.stop()).resolves.toBe(1);
  }));
