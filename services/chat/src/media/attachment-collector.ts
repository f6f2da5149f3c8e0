// Runs the attachment collector (domain/attachments.ts) on a timer. Every
// chat replica may run one: claims are atomic in the store, so two
// collectors never remove the same attachment, and none a sent one.
import type { Logger } from '@messenger/platform/logger';
import { collectAttachmentGarbage, type MediaContent } from '../domain/attachments.ts';
import type { ChatStorage } from '../domain/chat-storage.ts';

export interface AttachmentCollector {
  /** Stops the timer and waits for a pass under way. */
  stop(): Promise<void>;
}

export function startAttachmentCollector(opts: {
  readonly store: ChatStorage;
  readonly media: MediaContent;
  readonly intervalMs: number;
  readonly log: Logger;
}): AttachmentCollector {
  const pass = async (): Promise<void> => {
    const removed = await collectAttachmentGarbage(opts.store, opts.media, new Date(), (attachmentId, err) =>
      opts.log.warn({ err, attachmentId }, 'attachment bytes not removed; retried after the claim lease'),
    );
    if (removed > 0) opts.log.info({ removed }, 'attachments removed');
  };
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    // One pass at a time: a slow store or bucket never stacks passes up.
    running ??= pass()
      .catch((err: unknown) => opts.log.warn({ err }, 'attachment collection failed'))
      .finally(() => {
        running = undefined;
      });
  }, opts.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
