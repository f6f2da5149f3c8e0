// The event bus port, the envelope, the in-process adapter, the outbox relay and
// the commit signal outboxes wake it with; the Kafka adapter is
// `@messenger/platform/events/kafka`, the MongoDB outbox `@messenger/platform/mongo`.
export { CommitSignal } from './commit-signal.ts';
export { createEnvelope, type NewEvent, packPayload, payloadTypeName } from './envelope.ts';
export {
  DEFAULT_RETRY_POLICY,
  type DeadLetterInfo,
  type Delivery,
  type DeliveryMeta,
  deadLetterTopic,
  type EventBus,
  EventBusError,
  EventBusErrorCode,
  type RetryPolicy,
  type Subscription,
  type SubscriptionHandle,
} from './event-bus.ts';
export { InProcessEventBus, type InProcessEventBusOptions } from './in-process-event-bus.ts';
export { MemoryOutbox } from './memory-outbox.ts';
export {
  type OutboxEntry,
  type OutboxRelay,
  type OutboxRelayOptions,
  type OutboxSource,
  startOutboxRelay,
} from './outbox-relay.ts';
export { InMemoryRelayLease, type RelayLease } from './relay-lease.ts';
