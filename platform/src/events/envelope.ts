import { randomUUID } from 'node:crypto';
import type { Any } from '@messenger/gen/google/protobuf/any';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { activeTraceContext } from '../tracing/index.ts';
import { EventBusError, EventBusErrorCode } from './event-bus.ts';

export interface NewEvent {
  /** `<service>.<entity>.<change>`, e.g. `user.user.updated`. */
  readonly type: string;
  /** The producing service, e.g. `user`. */
  readonly source: string;
  /** The aggregate id; picks the partition, so one aggregate's events keep order. */
  readonly key: string;
  readonly payload: Any;
  readonly requestId?: string;
  /** When the change happened; now by default. */
  readonly time?: Date;
}

// Lower-case dotted triple (`<service>.<aggregate>.<verb>`, docs/EVENTS.md); checked here so a typo fails in
// the producer's tests rather than going unmatched in every consumer.
const EVENT_TYPE = /^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/;

/**
 * Builds an envelope with a fresh UUID id (the consumers' deduplication key)
 * and, while tracing is on, the trace context of the span it is made in.
 */
export function createEnvelope(event: NewEvent): EventEnvelope {
  if (!EVENT_TYPE.test(event.type)) {
    throw new EventBusError(
      EventBusErrorCode.InvalidArgument,
      `event type ${JSON.stringify(event.type)} must look like <service>.<entity>.<change>`,
    );
  }
  if (event.source === '' || event.key === '') {
    throw new EventBusError(EventBusErrorCode.InvalidArgument, `event ${event.type} needs a source and a key`);
  }
  return {
    id: randomUUID(),
    type: event.type,
    source: event.source,
    time: event.time ?? new Date(),
    key: event.key,
    payload: event.payload,
    requestId: event.requestId ?? '',
    ...activeTraceContext(),
  };
}

const TYPE_URL_PREFIX = 'type.googleapis.com/';

/** Wraps an encoded message as `Any`, e.g. `packPayload('messenger.user.v1.UserUpdated', UserUpdated.encode(m).finish())`. */
export function packPayload(typeName: string, bytes: Uint8Array): Any {
  return { typeUrl: `${TYPE_URL_PREFIX}${typeName}`, value: Buffer.from(bytes) };
}

/** The fully-qualified message name in an `Any` (whatever its URL prefix), for dispatching on it. */
export function payloadTypeName(payload: Any | undefined): string {
  if (!payload) return '';
  return payload.typeUrl.slice(payload.typeUrl.lastIndexOf('/') + 1);
}
