import type { Subscription } from '@messenger/platform/events';
import type { UpdateHub } from '../live/update-hub.ts';
import { LIVE_UPDATE_TOPICS, type LiveUpdate, toHubEvent } from './live-updates.ts';

/**
 * Chat and friendship events → this replica's open streams. Broadcast: every
 * replica gets every event, since any of them may hold a recipient's stream.
 * Idempotent: the hub drops an offset it has passed and an event id it has seen.
 */
export function liveUpdatesConsumer(hub: UpdateHub<LiveUpdate>): Subscription {
  return {
    topics: LIVE_UPDATE_TOPICS,
    group: 'chat.live-updates',
    delivery: 'broadcast',
    async handle(event, meta) {
      hub.publish({ topic: meta.topic, partition: meta.partition, offset: Number(meta.offset) }, toHubEvent(event));
    },
  };
}
