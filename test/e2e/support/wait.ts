import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `done` every 10 ms until it holds; fails after `timeoutMs` naming `what`. */
export async function waitFor(what: string, done: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}
