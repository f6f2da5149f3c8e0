// What the subscriber service publishes: envelopes as events.proto documents them.
import {
  FriendConfirmed,
  FriendDeclined,
  FriendRemoved,
  FriendRequested,
} from '@messenger/gen/messenger/subscriber/v1/events';
import { FriendshipStatus } from '@messenger/gen/messenger/subscriber/v1/subscriber';
import { createEnvelope, type OutboxEntry, packPayload } from '@messenger/platform/events';
import { type FriendshipEvent, pairIdOfFriendship } from '../domain/friendship.ts';

export const SUBSCRIBER_EVENTS_TOPIC = 'subscriber.events';
const SOURCE = 'subscriber';
const PACKAGE = 'messenger.subscriber.v1';

/** The outbox entry of an event: on `subscriber.events`, keyed by its pair. */
export function friendshipEventEntry(event: FriendshipEvent): OutboxEntry {
  return { topic: SUBSCRIBER_EVENTS_TOPIC, envelope: toEnvelope(event) };
}

function toEnvelope(event: FriendshipEvent) {
  const f = event.kind === 'requested' || event.kind === 'confirmed' ? event.after : event.before;
  const pair = { requesterId: f.requesterId, addresseeId: f.addresseeId };
  const envelope = (change: string, payloadType: string, bytes: Uint8Array) =>
    createEnvelope({
      type: `subscriber.friendship.${change}`,
      source: SOURCE,
      // The pair is the aggregate: both users' events of it keep their order.
      key: pairIdOfFriendship(f),
      time: event.time,
      requestId: event.requestId,
      payload: packPayload(`${PACKAGE}.${payloadType}`, bytes),
    });
  switch (event.kind) {
    case 'requested':
      return envelope(
        'requested',
        'FriendRequested',
        FriendRequested.encode({ ...pair, requestTime: f.createTime }).finish(),
      );
    case 'confirmed':
      return envelope(
        'confirmed',
        'FriendConfirmed',
        FriendConfirmed.encode({ ...pair, requestTime: f.createTime }).finish(),
      );
    case 'declined':
      return envelope('declined', 'FriendDeclined', FriendDeclined.encode(pair).finish());
    case 'removed':
      return envelope(
        'removed',
        'FriendRemoved',
        FriendRemoved.encode({
          ...pair,
          // Seen from the requester's side, as events.proto specifies.
          beforeStatus:
            f.state === 'confirmed'
              ? FriendshipStatus.FRIENDSHIP_STATUS_CONFIRMED
              : FriendshipStatus.FRIENDSHIP_STATUS_OUTGOING,
          removedById: event.removedBy,
        }).finish(),
      );
  }
}
