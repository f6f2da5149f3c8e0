// Typing indicators: who is told, and how often. Ephemeral by design:
// nothing is stored, and the signal goes out through a port the service
// wires to the event bus directly (not the outbox), so a lost signal is
// simply not shown.
import { callerId } from '@messenger/platform/domain';
import type { CallMeta, ChatUseCaseDeps } from './use-case-context.ts';
import { useCaseContext } from './use-case-context.ts';

/** A "started" lapses after this long unless renewed; clients expire it, the server sends no "stopped". */
export const TYPING_TTL_MS = 6_000;
/** At most one "started" per user and chat is passed on per interval; "stopped" always is. */
export const TYPING_MIN_INTERVAL_MS = 2_000;

export interface TypingSignal {
  readonly chatId: string;
  readonly userId: string;
  readonly typing: boolean;
  /** When it was said. */
  readonly time: Date;
  /** When a "started" lapses; undefined for "stopped". */
  readonly expireTime: Date | undefined;
  /** The chat's other members. */
  readonly recipientIds: readonly string[];
}

/** Where typing signals go: every replica's live streams. */
export interface TypingSignals {
  publish(signal: TypingSignal): Promise<void>;
}

export type TypingUseCases = ReturnType<typeof createTypingUseCases>;

export function createTypingUseCases(deps: ChatUseCaseDeps & { readonly signals: TypingSignals }) {
  const ctx = useCaseContext(deps);
  /** Last "started" passed on, per `chatId userId`, as epoch ms; pruned as entries age out. */
  const lastStarted = new Map<string, number>();
  const prune = (now: number) => {
    for (const [key, at] of lastStarted) {
      if (now - at < TYPING_MIN_INTERVAL_MS) break; // insertion order is time order
      lastStarted.delete(key);
    }
  };
  return {
    async setTyping(meta: CallMeta, chatId: string, typing: boolean): Promise<void> {
      const me = callerId(meta.actor);
      const chat = await ctx.visibleChat(me, chatId);
      const now = ctx.now().getTime();
      prune(now);
      const key = `${chat.id} ${me}`;
      if (typing) {
        if (lastStarted.has(key)) return;
        lastStarted.set(key, now);
      }
      await deps.signals.publish({
        chatId: chat.id,
        userId: me,
        typing,
        time: new Date(now),
        expireTime: typing ? new Date(now + TYPING_TTL_MS) : undefined,
        recipientIds: chat.members.map((m) => m.userId).filter((id) => id !== me),
      });
    },
  };
}
