import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';

/**
 * The port every service publishes and consumes events through. Two adapters
 * implement it — `InProcessEventBus` (embedded mode) and the Kafka adapter —
 * and both pass `runEventBusContract`, so a consumer behaves the same on both.
 *
 * Semantics (Kafka's, kept by every adapter):
 * - A topic has a fixed number of partitions; `envelope.key` picks the
 *   partition, so the events of one key are delivered in publish order.
 * - Delivery is at least once. Within a group a partition is handled by one
 *   member, one event at a time: a handler that throws gets the same event
 *   again (attempt 2, 3, … after an exponential backoff) before any later event
 *   of that partition. After `maxAttempts` the event goes unchanged to the dead-
 *   letter topic `<topic>.dlq` with the failure reason, and the partition moves on.
 * - An event's offset is committed only after its handler resolved (or after it
 *   was dead-lettered); a member that leaves or dies before that leaves the
 *   event to the group's next owner of the partition. Handlers must therefore
 *   be idempotent (deduplicate by `envelope.id`).
 * - A handler may run concurrently for different partitions, never for two
 *   events of one partition in one group.
 */
export interface EventBus {
  /**
   * Appends the events to the topic and resolves once they are stored (a
   * broker ack); handlers run later, never inside this call. Events with the
   * same key keep their array order. On rejection some events may have been
   * stored: retry the whole batch (consumers dedupe by id).
   */
  publish(topic: string, events: readonly EventEnvelope[]): Promise<void>;
  /**
   * Joins the subscription's group and resolves once its partitions are
   * assigned, so every event published after it resolves is delivered. A new
   * shared group starts at the earliest retained event of each partition; a
   * group that has committed offsets resumes from them.
   */
  subscribe(sub: Subscription): Promise<SubscriptionHandle>;
  /**
   * Drains and stops: no new deliveries or retries start, the handlers in
   * flight are awaited (and committed if they succeed), then `publish` and
   * `subscribe` reject with `closed`. Idempotent. A handler that never settles
   * keeps it waiting, so bound it with the shutdown deadline.
   */
  close(): Promise<void>;
}

export type Delivery = 'shared' | 'broadcast';

export interface Subscription {
  readonly topics: readonly string[];
  /** The consumer group, e.g. `chat.user-events`; names the service and purpose. */
  readonly group: string;
  /**
   * `shared`: the live members of a group split the partitions between them
   * (round-robin, reassigned as members join and leave), so each event is
   * handled by one member — load sharing across replicas.
   * `broadcast`: this subscriber gets a group of its own (`<group>.<uuid>`) and
   * so every event, starting with those published after `subscribe` resolves —
   * for state every replica keeps, e.g. live updates to connected clients.
   */
  readonly delivery: Delivery;
  /** Overrides the bus's retry policy for this subscription. */
  readonly retry?: Partial<RetryPolicy>;
  /** Resolve when the event's effect is stored; throw to have it redelivered. */
  handle(event: EventEnvelope, meta: DeliveryMeta): Promise<void>;
}

export interface SubscriptionHandle {
  /** The group actually joined; for `broadcast` the generated private one. */
  readonly group: string;
  /**
   * Leaves the group: no new deliveries or retries for this member, its
   * handlers in flight are awaited; one that succeeds is committed, one that
   * fails is left uncommitted for the member that takes the partition over.
   * Idempotent.
   */
  unsubscribe(): Promise<void>;
}

export interface DeliveryMeta {
  readonly topic: string;
  readonly partition: number;
  /** The event's position in its partition, in decimal (Kafka offsets are int64). */
  readonly offset: string;
  /** 1 on the first delivery to this member; counts its retries of the event. */
  readonly attempt: number;
  /** Set on events read from a dead-letter topic: why and where they failed. */
  readonly deadLetter?: DeadLetterInfo;
}

/** What the bus records with a dead-lettered event (Kafka: message headers). */
export interface DeadLetterInfo {
  /** The topic, partition and offset the event failed on. */
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** The group whose handler gave up on it. */
  readonly group: string;
  readonly attempts: number;
  /** The last error's message; internal, for operators only. */
  readonly reason: string;
}

export interface RetryPolicy {
  /** Deliveries of one event before it is dead-lettered, the first included. */
  readonly maxAttempts: number;
  /** The wait before the second attempt; it doubles for each further one. */
  readonly initialBackoffMs: number;
  /** The cap on that wait. */
  readonly maxBackoffMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  initialBackoffMs: 50,
  maxBackoffMs: 30_000,
};

/** The closed set of failures the bus itself reports (handler errors are not among them). */
export const EventBusErrorCode = {
  /** The bus was closed; nothing more can be published or subscribed. */
  Closed: 'closed',
  /** A bad option, topic name, subscription or envelope: a programming error. */
  InvalidArgument: 'invalid_argument',
} as const;
export type EventBusErrorCode = (typeof EventBusErrorCode)[keyof typeof EventBusErrorCode];

export class EventBusError extends Error {
  readonly code: EventBusErrorCode;
  constructor(code: EventBusErrorCode, message: string) {
    super(message);
    this.name = 'EventBusError';
    this.code = code;
  }
}

const DLQ_SUFFIX = '.dlq';

export function deadLetterTopic(topic: string): string {
  return `${topic}${DLQ_SUFFIX}`;
}

/** The wait before attempt `attempt + 1`, after `attempt` failures. */
export function backoffMs(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.initialBackoffMs * 2 ** (attempt - 1), policy.maxBackoffMs);
}

/** Fills a partial policy from `base` and rejects values that cannot work. */
export function resolveRetryPolicy(
  partial: Partial<RetryPolicy> | undefined,
  base: RetryPolicy = DEFAULT_RETRY_POLICY,
): RetryPolicy {
  const policy = { ...base, ...stripUndefined(partial ?? {}) };
  requireInt('maxAttempts', policy.maxAttempts, 1);
  requireInt('initialBackoffMs', policy.initialBackoffMs, 0);
  requireInt('maxBackoffMs', policy.maxBackoffMs, policy.initialBackoffMs);
  return policy;
}

// Kafka's rule, checked in embedded mode too so a name that Kafka would
// refuse fails in the first test run. The limit leaves room for `.dlq`.
const TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;
const MAX_TOPIC_LENGTH = 249 - DLQ_SUFFIX.length;

export function assertTopicName(topic: string): void {
  if (!TOPIC_NAME.test(topic) || topic.length > MAX_TOPIC_LENGTH || topic === '.' || topic === '..') {
    throw invalid(`topic ${JSON.stringify(topic)} must be 1-${MAX_TOPIC_LENGTH} of [a-zA-Z0-9._-]`);
  }
}

/** Checks a batch before anything of it is stored. */
export function assertPublishable(topic: string, events: readonly EventEnvelope[]): void {
  assertTopicName(topic);
  for (const event of events) {
    // Consumers deduplicate by id and order by key: neither may be missing.
    if (event.id === '') throw invalid(`event of type ${JSON.stringify(event.type)} has no id`);
    if (event.key === '') throw invalid(`event ${event.id} has no key`);
    if (event.type === '') throw invalid(`event ${event.id} has no type`);
  }
}

export function assertSubscription(sub: Subscription): void {
  if (sub.topics.length === 0) throw invalid('a subscription needs at least one topic');
  for (const topic of sub.topics) assertTopicName(topic);
  if (!TOPIC_NAME.test(sub.group)) throw invalid(`group ${JSON.stringify(sub.group)} must be of [a-zA-Z0-9._-]`);
  if (sub.delivery !== 'shared' && sub.delivery !== 'broadcast') {
    throw invalid(`delivery must be 'shared' or 'broadcast', not ${JSON.stringify(sub.delivery)}`);
  }
  if (typeof sub.handle !== 'function') throw invalid('a subscription needs a handle function');
}

/** The reason recorded with a dead-lettered event. */
export function failureReason(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
}

export function requireInt(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw invalid(`${name} must be an integer >= ${min}, got ${value}`);
  }
}

function invalid(message: string): EventBusError {
  return new EventBusError(EventBusErrorCode.InvalidArgument, message);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
