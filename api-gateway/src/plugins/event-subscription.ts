import type { SubscriptionHandle } from '@messenger/platform/events';
import type { FastifyInstance } from 'fastify';

/**
 * Subscribes to events once the app is ready, so a start-up that fails
 * leaves nothing subscribed, and unsubscribes when it closes (before the
 * onClose hooks added earlier: Fastify runs them last-added first). A failed
 * unsubscribe is logged, and closing goes on.
 */
export function subscribeWhileOpen(
  app: FastifyInstance,
  name: string,
  subscribe: () => Promise<SubscriptionHandle>,
): void {
  let subscription: SubscriptionHandle | undefined;
  app.addHook('onReady', async () => {
    subscription = await subscribe();
  });
  app.addHook('onClose', async () => {
    await subscription?.unsubscribe().catch((err: unknown) => app.log.warn({ err }, `${name}: unsubscribe failed`));
  });
}
