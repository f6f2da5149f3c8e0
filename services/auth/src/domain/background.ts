import type { Logger } from '@messenger/platform/logger';

/**
 * Work that runs after the answer has gone (a mail whose outcome must not
 * show in the answer), tracked so that stopping the service waits for it.
 * A failure is logged, never thrown: nobody is waiting for it.
 */
export interface Background {
  run(what: string, work: () => Promise<void>): void;
  /** Resolves once everything started so far has ended. */
  drain(): Promise<void>;
}

export function createBackground(logger: Logger): Background {
  const pending = new Set<Promise<void>>();
  return {
    run(what, work) {
      const done: Promise<void> = work()
        .catch((error: unknown) => logger.error({ err: error }, `${what} failed`))
        .finally(() => pending.delete(done));
      pending.add(done);
    },
    async drain() {
      await Promise.all([...pending]);
    },
  };
}
