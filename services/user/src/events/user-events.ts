// What the user service publishes: envelopes as events.proto documents them.
// Also the proto form of a profile, which events and RPC responses share.
import { UserCreated, UserDeleted, UserUpdated } from '@messenger/gen/messenger/user/v1/events';
import type { User } from '@messenger/gen/messenger/user/v1/user';
import { createEnvelope, type OutboxEntry, packPayload } from '@messenger/platform/events';
import type { UserEvent, UserProfile } from '../domain/user.ts';

export const USER_EVENTS_TOPIC = 'user.events';
const SOURCE = 'user';

export function toUserMessage(user: UserProfile): User {
  return {
    userId: user.id,
    nickname: user.nickname,
    about: user.about,
    avatarUrl: user.avatarUrl,
    createTime: user.createTime,
    updateTime: user.updateTime,
  };
}

/** The outbox entry of an event: on `user.events`, keyed by its user. */
export function userEventEntry(event: UserEvent): OutboxEntry {
  return { topic: USER_EVENTS_TOPIC, envelope: toEnvelope(event) };
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
