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
export { KafkaEventBus, type KafkaEventBusOptions } from './kafka-event-bus.ts';
export { MemoryOutbox } from './memory-outbox.ts';
export { MongoOutbox } from './mongo-outbox.ts';
export {
  type OutboxEntry,
  type OutboxRelay,
  type OutboxRelayOptions,
  type OutboxSource,
  startOutboxRelay,
} from './outbox-relay.ts';
