// What the user service publishes: envelopes as events.proto documents them.
import { UserCreated, UserDeleted, UserUpdated } from '@messenger/gen/messenger/user/v1/events';
import { createEnvelope, type OutboxEntry, packPayload } from '@messenger/platform/events';
import type { UserEvent } from '../domain/user.ts';
import { toUserMessage } from '../grpc/user-mapper.ts';

export const USER_EVENTS_TOPIC = 'user.events';
const SOURCE = 'user';

export function toOutboxEntries(events: readonly UserEvent[]): OutboxEntry[] {
  return events.map((event) => ({ topic: USER_EVENTS_TOPIC, envelope: toEnvelope(event) }));
}

function toEnvelope(event: UserEvent) {
  switch (event.kind) {
    case 'created':
      return createEnvelope({
        type: 'user.user.created',
        source: SOURCE,
        key: event.user.id,
        time: event.user.createTime,
        requestId: event.requestId,
        payload: packPayload(
          'messenger.user.v1.UserCreated',
          UserCreated.encode({ user: toUserMessage(event.user) }).finish(),
        ),
      });
    case 'updated':
      return createEnvelope({
        type: 'user.user.updated',
        source: SOURCE,
        key: event.after.id,
        time: event.after.updateTime,
        requestId: event.requestId,
        payload: packPayload(
          'messenger.user.v1.UserUpdated',
          UserUpdated.encode({
            before: toUserMessage(event.before),
            after: toUserMessage(event.after),
            changed: [...event.changed],
          }).finish(),
        ),
      });
    case 'deleted':
      return createEnvelope({
        type: 'user.user.deleted',
        source: SOURCE,
        key: event.before.id,
        requestId: event.requestId,
        payload: packPayload(
          'messenger.user.v1.UserDeleted',
          UserDeleted.encode({ before: toUserMessage(event.before) }).finish(),
        ),
      });
  }
}
