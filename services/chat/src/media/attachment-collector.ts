// Runs the attachment collector (domain/attachments.ts) on a timer. Every
// chat replica may run one: claims are atomic in the store, so two
// collectors never remove the same attachment, and none a sent one.
import type { Logger } from '@messenger/platform/logger';
import { collectAttachmentGarbage, type MediaContent } from '../domain/attachments.ts';
import type { ChatStorage } from '../domain/chat-storage.ts';

export interface AttachmentCollector {
  /** One pass now (what the timer runs); resolves with how many attachments it removed. */
  runOnce(): Promise<number>;
  /** Stops the timer and waits for a pass under way. */
  stop(): Promise<void>;
}

export function startAttachmentCollector(opts: {
  readonly store: ChatStorage;
  readonly media: MediaContent;
  readonly intervalMs: number;
  readonly log: Logger;
  readonly now?: () => Date;
}): AttachmentCollector {
  const now = opts.now ?? (() => new Date());
  let running: Promise<number> | undefined;
  const runOnce = (): Promise<number> => {
    // One pass at a time: a slow store or bucket never stacks passes up.
    running ??= collectAttachmentGarbage(opts.store, opts.media, now(), (attachmentId, err) =>
      opts.log.warn({ err, attachmentId }, 'attachment bytes not removed; retried after the claim lease'),
    )
      .then((removed) => {
        if (removed > 0) opts.log.info({ removed }, 'attachments removed');
        return removed;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = setInterval(
    () => void runOnce().catch((err: unknown) => opts.log.warn({ err }, 'attachment collection failed')),
    opts.intervalMs,
  );
  timer.unref();
  return {
    runOnce,
    async stop() {
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
