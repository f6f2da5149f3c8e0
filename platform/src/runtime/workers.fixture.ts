// A process group for workers.spec.ts: an HTTP server in FIXTURE_WORKERS
// processes through runWorkers, with a short restart policy.
//   FIXTURE_MODE=serve (default)   answers every request with its pid
//   FIXTURE_MODE=crash             the first workers exit with 3 on their first request, every
//                                  replacement 200 ms after it listens: a crash loop
//   FIXTURE_MODE=fail-start        each worker fails to start
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { createLogger } from '../logger.ts';
import { runWorkers } from './workers.ts';

const mode = process.env.FIXTURE_MODE ?? 'serve';
const group = {
  service: 'fixture',
  workers: Number(process.env.FIXTURE_WORKERS ?? 2),
  logLevel: 'info',
  shutdownGraceMs: 1000,
  restart: { firstDelayMs: 20, giveUpAfter: 3, windowMs: 10_000 },
};

await runWorkers(group, async () => {
  if (mode === 'fail-start') throw new Error('fixture: cannot start');
  const logger = createLogger({ level: 'info', service: 'fixture' }).child({ pid: process.pid });
  const replacement = (cluster.worker?.id ?? 0) > group.workers;
  const server = createServer((_req, res) => {
    if (mode === 'crash') process.exit(3);
    res.end(String(process.pid));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  if (mode === 'crash' && replacement) setTimeout(() => process.exit(3), 200);
  const address = server.address();
  return {
    logger,
    listening: { msg: 'fixture listening', port: typeof address === 'object' && address ? address.port : 0 },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});
