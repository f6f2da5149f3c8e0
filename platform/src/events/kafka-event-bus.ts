import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConnectionOptions } from 'node:tls';
import { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import {
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type ICustomPartitioner,
  type IHeaders,
  Kafka,
  type KafkaMessage,
  type logCreator,
  logLevel,
  type Message,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import type { Logger } from '../logger.ts';
import {
  assertPublishable,
  assertSubscription,
  backoffMs,
  DEFAULT_RETRY_POLICY,
  type DeadLetterInfo,
  type DeliveryMeta,
  deadLetterTopic,
  type EventBus,
  EventBusError,
  EventBusErrorCode,
  failureReason,
  type RetryPolicy,
  requireInt,
  resolveRetryPolicy,
  type Subscription,
  type SubscriptionHandle,
} from './event-bus.ts';
import { partitionOf } from './partitioner.ts';

/** How often a member's first join is tried before `subscribe` fails, and the pause after the first failure (then doubled). */
const FIRST_JOIN_ATTEMPTS = 3;
const FIRST_JOIN_RETRY_MS = 500;

export interface KafkaEventBusOptions extends Partial<RetryPolicy> {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** Handler failures, dead letters, consumer crashes, and kafkajs's own warnings and errors. */
  readonly log?: Logger;
  /** TLS to the brokers: true verifies against the system CAs; an object sets `ca` and the like. Default off. */
  readonly ssl?: boolean | ConnectionOptions;
  /** SASL authentication (plain, scram-sha-256, scram-sha-512). Default none. */
  readonly sasl?: SASLOptions;
  /** The idempotent producer (default true). librdkafka's mock cluster refuses it: false there. */
  readonly idempotentProducer?: boolean;
  /**
   * Create each topic with the admin API before its first use, a `.dlq` on
   * its first dead letter (default true). Off where the broker refuses it and creates topics on
   * first use instead, as the mock cluster does (with 4 partitions).
   */
  readonly createTopics?: boolean;
  /** Partitions of the topics this bus creates (default 4, as in embedded mode). */
  readonly partitions?: number;
  /** Replication factor of the topics this bus creates (default -1: the broker's default). */
  readonly replicationFactor?: number;
  /** A member that sends no heartbeat for this long is dropped from its group (default 30 000). */
  readonly sessionTimeoutMs?: number;
  /** How long a rebalance waits for the members to rejoin (default 60 000). */
  readonly rebalanceTimeoutMs?: number;
  /** Default 3000; must be below sessionTimeoutMs. */
  readonly heartbeatIntervalMs?: number;
  /**
   * How long a fetch waits for new events (default 500). Also bounds how long
   * leaving a group waits for an idle consumer.
   */
  readonly maxWaitTimeInMs?: number;
  /** Partitions one subscriber handles at the same time (default 4). */
  readonly partitionsConsumedConcurrently?: number;
  /** Default 1000. */
  readonly connectionTimeoutMs?: number;
  /** Default 30 000. */
  readonly requestTimeoutMs?: number;
  /**
   * How kafkajs retries a failed broker request (connect, produce, metadata)
   * before giving up; a publish rejects only after these (default 5 retries
   * from 300 ms, kafkajs's defaults).
   */
  readonly brokerRetry?: {
    readonly retries?: number;
    readonly initialRetryTime?: number;
    readonly maxRetryTime?: number;
  };
}

/**
 * The event bus on Apache Kafka (kafkajs). An envelope travels as the
 * message value (protobuf), keyed by `envelope.key`, with CloudEvents-style
 * headers so tools can route and inspect without decoding it.
 *
 * Each subscription is one kafkajs consumer (one group member), run with
 * kafkajs's `eachBatch` and offsets committed by hand, only past handled (or
 * dead-lettered) events: its commit still works while the consumer stops, so
 * a handler that succeeds during unsubscribe() or close() is committed
 * (`eachMessage` with `consumer.commitOffsets` silently drops that commit).
 * Retries run inside the batch, heartbeating while they wait, so the
 * partition waits and its order holds; a rebalance cuts a wait short and the
 * event goes to the partition's next owner. A broadcast member's private
 * group starts at the partitions' ends as of subscribe() and keeps its
 * positions in memory, seeking to them on every join; it commits them as
 * well, only so its lag is visible, and is deleted when its member leaves.
 */
export class KafkaEventBus implements EventBus {
  readonly #kafka: Kafka;
  readonly #producer: Producer;
  readonly #admin: Admin;
  readonly #log: Logger | undefined;
  readonly #retry: RetryPolicy;
  readonly #createTopics: boolean;
  readonly #partitions: number;
  readonly #replicationFactor: number;
  readonly #consumer: {
    readonly sessionTimeout: number;
    readonly rebalanceTimeout: number;
    readonly heartbeatInterval: number;
    readonly maxWaitTimeInMs: number;
    readonly concurrency: number;
  };
  readonly #members = new Set<Member>();
  readonly #sending = new Set<Promise<void>>();
  readonly #created = new Set<string>();
  #producerReady: Promise<Producer> | undefined;
  #adminReady: Promise<Admin> | undefined;
  #closing: Promise<void> | undefined;

  constructor(opts: KafkaEventBusOptions) {
    if (!Array.isArray(opts.brokers) || opts.brokers.length === 0 || !opts.brokers.every(isHostPort)) {
      throw invalid(`brokers must be a non-empty list of host:port, got ${JSON.stringify(opts.brokers)}`);
    }
    if (typeof opts.clientId !== 'string' || opts.clientId === '') throw invalid('clientId is required');
    this.#retry = resolveRetryPolicy(opts, DEFAULT_RETRY_POLICY);
    this.#log = opts.log;
    this.#createTopics = opts.createTopics ?? true;
    this.#partitions = opts.partitions ?? 4;
    this.#replicationFactor = opts.replicationFactor ?? -1;
    requireInt('partitions', this.#partitions, 1);
    if (this.#replicationFactor !== -1) requireInt('replicationFactor', this.#replicationFactor, 1);
    this.#consumer = {
      sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
      rebalanceTimeout: opts.rebalanceTimeoutMs ?? 60_000,
      heartbeatInterval: opts.heartbeatIntervalMs ?? 3000,
      maxWaitTimeInMs: opts.maxWaitTimeInMs ?? 500,
      concurrency: opts.partitionsConsumedConcurrently ?? 4,
    };
    requireInt('sessionTimeoutMs', this.#consumer.sessionTimeout, 1);
    requireInt('rebalanceTimeoutMs', this.#consumer.rebalanceTimeout, 1);
    requireInt('heartbeatIntervalMs', this.#consumer.heartbeatInterval, 1);
    if (this.#consumer.heartbeatInterval >= this.#consumer.sessionTimeout) {
      throw invalid('heartbeatIntervalMs must be below sessionTimeoutMs');
    }
    requireInt('maxWaitTimeInMs', this.#consumer.maxWaitTimeInMs, 0);
    requireInt('partitionsConsumedConcurrently', this.#consumer.concurrency, 1);
    const connectionTimeout = opts.connectionTimeoutMs ?? 1000;
    const requestTimeout = opts.requestTimeoutMs ?? 30_000;
    requireInt('connectionTimeoutMs', connectionTimeout, 1);
    requireInt('requestTimeoutMs', requestTimeout, 1);
    const retry = { retries: 5, initialRetryTime: 300, maxRetryTime: 30_000, ...opts.brokerRetry };
    requireInt('brokerRetry.retries', retry.retries, 0);
    requireInt('brokerRetry.initialRetryTime', retry.initialRetryTime, 1);
    requireInt('brokerRetry.maxRetryTime', retry.maxRetryTime, retry.initialRetryTime);

    this.#kafka = new Kafka({
      clientId: opts.clientId,
      brokers: [...opts.brokers],
      connectionTimeout,
      requestTimeout,
      retry,
      ...(opts.ssl !== undefined ? { ssl: opts.ssl } : {}),
      ...(opts.sasl !== undefined ? { sasl: opts.sasl } : {}),
      ...(opts.log
        ? { logLevel: logLevel.WARN, logCreator: kafkaLogCreator(opts.log) }
        : { logLevel: logLevel.NOTHING }),
    });
    const idempotent = opts.idempotentProducer ?? true;
    this.#producer = this.#kafka.producer({
      idempotent,
      // Bounded even when idempotent (kafkajs retries forever by default), so
      // a publish fails during an outage and the outbox keeps its events.
      retry,
      ...(idempotent ? { maxInFlightRequests: 1 } : {}),
      createPartitioner: keyPartitioner,
    });
    this.#admin = this.#kafka.admin();
  }

  /** Connects the producer now rather than on the first publish, so a bad address fails start-up. Optional. */
  async connect(): Promise<void> {
    this.#assertOpen();
    await this.#connectedProducer();
  }

  /**
   * Resolves once a broker answered a metadata request: the cluster is
   * reachable with this bus's address, TLS and credentials, so the producer
   * can publish and the consumers can fetch. For the process's health.
   */
  async ping(): Promise<void> {
    this.#assertOpen();
    const admin = await this.#connectedAdmin();
    await admin.describeCluster();
  }

  async publish(topic: string, events: readonly EventEnvelope[]): Promise<void> {
    this.#assertOpen();
    assertPublishable(topic, events);
    if (events.length === 0) return;
    // Encode the whole batch first: a bad event sends none of it.
    const messages = events.map((e) => ({
      key: e.key,
      value: Buffer.from(EventEnvelope.encode(e).finish()),
      headers: cloudEventHeaders(e),
    }));
    await this.#send(topic, messages);
  }

  async subscribe(sub: Subscription): Promise<SubscriptionHandle> {
    this.#assertOpen();
    assertSubscription(sub);
    const broadcast = sub.delivery === 'broadcast';
    const member: Member = {
      sub,
      retry: resolveRetryPolicy(sub.retry, this.#retry),
      groupId: broadcast ? `${sub.group}.${randomUUID()}` : sub.group,
      // A broadcast group is private and short-lived: it resumes from the
      // positions it keeps in memory, never from its commits.
      positions: broadcast ? new Map() : undefined,
      consumer: undefined,
      stopping: false,
      stop: new AbortController(),
      ready: Promise.resolve(),
      leaving: undefined,
    };
    this.#members.add(member);
    member.ready = this.#joinWithRetry(member);
    try {
      await member.ready;
    } catch (err) {
      this.#members.delete(member);
      throw err;
    }
    if (member.stopping) {
      // close() came while joining.
      await this.#leave(member);
      throw new EventBusError(EventBusErrorCode.Closed, 'the event bus is closed');
    }
    return { group: member.groupId, unsubscribe: () => this.#leave(member) };
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    // Consumers first: their in-flight handlers may still dead-letter through the producer.
    await Promise.all([...this.#members].map((m) => this.#leave(m)));
    await Promise.allSettled([...this.#sending]);
    const disconnect = async (what: string, client: Producer | Admin, ready: Promise<unknown> | undefined) => {
      // A client that never connected has nothing to close.
      const connected = await ready?.then(
        () => true,
        () => false,
      );
      if (!connected) return;
      await client.disconnect().catch((err: unknown) => this.#log?.warn({ err }, `kafka ${what} disconnect failed`));
    };
    await Promise.all([
      disconnect('producer', this.#producer, this.#producerReady),
      disconnect('admin', this.#admin, this.#adminReady),
    ]);
  }

  /** Creates the member's consumer and resolves once it has joined its group and has its partitions. */
  async #join(member: Member): Promise<void> {
    const topics = member.sub.topics;
    await this.#ensureTopics(topics);
    if (member.positions) {
      // Broadcast starts at the end of each partition as of now. Asking the
      // consumer for "latest" instead would take the end at its first fetch,
      // after subscribe() resolved, and miss what was published in between.
      const admin = await this.#connectedAdmin();
      const ends = await Promise.all(topics.map(async (t) => ({ t, offsets: await admin.fetchTopicOffsets(t) })));
      for (const { t, offsets } of ends) {
        for (const p of offsets) member.positions.set(partitionKey(t, p.partition), p.high);
      }
    }
    const consumer = this.#kafka.consumer({
      groupId: member.groupId,
      sessionTimeout: this.#consumer.sessionTimeout,
      rebalanceTimeout: this.#consumer.rebalanceTimeout,
      heartbeatInterval: this.#consumer.heartbeatInterval,
      maxWaitTimeInMs: this.#consumer.maxWaitTimeInMs,
    });
    member.consumer = consumer;
    let joined = false;
    let crash: Error | undefined;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      joined = true;
      // Emitted synchronously inside the join, before the first fetch of the
      // new generation, so a seek here decides where that fetch starts.
      if (!member.positions) return;
      for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
        for (const partition of partitions) {
          const offset = member.positions.get(partitionKey(topic, partition));
          if (offset !== undefined) consumer.seek({ topic, partition, offset });
        }
      }
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      crash ??= payload.error;
      if (member.stopping) return;
      this.#log?.error(
        { group: member.groupId, err: payload.error, restart: payload.restart },
        payload.restart ? 'kafka consumer crashed; restarting it' : 'kafka consumer crashed and stopped',
      );
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [...topics], fromBeginning: member.positions === undefined });
      // Resolves once the first join and sync are done (or failed: CRASH).
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.#consumer.concurrency,
        eachBatch: (payload) => this.#consumeBatch(member, payload),
      });
      if (!joined) throw crash ?? new Error(`kafka consumer of group ${member.groupId} did not join`);
    } catch (err) {
      member.consumer = undefined;
      await consumer.disconnect().catch(() => {});
      throw err;
    }
  }

  /**
   * The first join, tried up to FIRST_JOIN_ATTEMPTS times. kafkajs restarts
   * a consumer that crashes after joining, but a first join that fails with
   * an error it does not retry ends `run` at once: a coordinator that moved
   * or restarted mid-join, or the librdkafka mock answering a sync during a
   * rebalance with INVALID_REQUEST. Each try is a fresh consumer.
   */
  async #joinWithRetry(member: Member): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#join(member);
        return;
      } catch (err) {
        if (member.stopping || attempt >= FIRST_JOIN_ATTEMPTS) throw err;
        this.#log?.warn({ err, group: member.groupId, attempt }, 'kafka consumer failed to join; trying again');
        await sleep(FIRST_JOIN_RETRY_MS * attempt);
      }
    }
  }

  #leave(member: Member): Promise<void> {
    member.leaving ??= (async () => {
      member.stopping = true;
      member.stop.abort();
      await member.ready.catch(() => {});
      // Waits for the batches in hand (their handlers finish and commit), then leaves the group.
      await member.consumer
        ?.disconnect()
        .catch((err: unknown) => this.#log?.warn({ err, group: member.groupId }, 'kafka consumer disconnect failed'));
      // A broadcast group ends with its member; deleting it keeps its commits
      // from showing as a stale, growing lag until the broker expires them.
      if (member.positions && member.consumer) await this.#deleteGroup(member.groupId);
      this.#members.delete(member);
    })();
    return member.leaving;
  }

  /**
   * Handles a batch of one partition in order; returns early when the member
   * stops. The offset after the last handled event is committed at the end of
   * the batch, at least every second within it, before any retry wait, and
   * before rejoining on a rebalance: a crash repeats little, and a quick run
   * of events costs one commit rather than one each.
   */
  async #consumeBatch(member: Member, payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    let uncommitted: string | undefined;
    let lastCommit = performance.now();
    const flush = async () => {
      if (uncommitted === undefined) return;
      const offset = uncommitted;
      uncommitted = undefined;
      lastCommit = performance.now();
      // Commits directly, unlike consumer.commitOffsets, which does nothing once the consumer is stopping.
      await payload.commitOffsetsIfNecessary({
        topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset }] }],
      });
    };
    const at: PartitionInHand = { topic: batch.topic, partition: batch.partition, heartbeat: payload.heartbeat, flush };
    try {
      for (const message of batch.messages) {
        if (member.stopping || !payload.isRunning() || payload.isStale()) break;
        if (!(await this.#deliver(member, at, message))) break;
        const next = (BigInt(message.offset) + 1n).toString();
        member.positions?.set(partitionKey(batch.topic, batch.partition), next);
        // A broadcast group commits too, though nobody resumes it: its lag then
        // shows in the broker's group offsets (kafka_consumergroup_lag) like any group's.
        uncommitted = next;
        payload.resolveOffset(message.offset);
        if (performance.now() - lastCommit >= COMMIT_INTERVAL_MS) await flush();
        // As kafkajs does between messages: learns of a rebalance, and throws so the member rejoins.
        if (!member.stopping) await payload.heartbeat();
      }
    } catch (err) {
      // The generation being left still takes commits while the rebalance waits for us; if
      // it refuses, the next owner repeats those events (at least once).
      await flush().catch(() => {});
      throw err;
    }
    await flush();
  }

  /** Runs the handler with retries; true once the event may be committed, false if the member stopped first. */
  async #deliver(member: Member, at: PartitionInHand, message: KafkaMessage): Promise<boolean> {
    const { topic, partition } = at;
    const where = { topic, partition, offset: message.offset, group: member.groupId };
    try {
      decode(message);
    } catch (err) {
      // Retrying cannot fix bytes that are not an envelope.
      this.#log?.error({ ...where, err }, 'undecodable event dead-lettered');
      return this.#deadLetter(member, at, message, { ...where, attempts: 1, reason: failureReason(err) });
    }
    const deadLetter = deadLetterInfoOf(message.headers);
    const policy = member.retry;
    for (let attempt = 1; ; attempt++) {
      if (member.stopping) return false;
      const meta: DeliveryMeta = {
        topic,
        partition,
        offset: message.offset,
        attempt,
        ...(deadLetter ? { deadLetter } : {}),
      };
      try {
        // A fresh copy per attempt, as a broker redelivery would give.
        await this.#withHeartbeats(at, () => member.sub.handle(decode(message), meta));
        return true;
      } catch (err) {
        // A leaving member neither retries nor dead-letters: the next owner gets the event afresh.
        if (member.stopping) return false;
        if (attempt >= policy.maxAttempts) {
          this.#log?.error({ ...where, attempt, err }, 'event handler gave up; event dead-lettered');
          return this.#deadLetter(member, at, message, { ...where, attempts: attempt, reason: failureReason(err) });
        }
        this.#log?.warn({ ...where, attempt, err }, 'event handler failed; retrying');
        if (!(await this.#wait(member, at, backoffMs(policy, attempt)))) return false;
      }
    }
  }

  /**
   * Copies the message unchanged (key, value, headers) to `<topic>.dlq` with
   * the failure in `dlq_*` headers; true once the broker acked it, false if
   * the member stopped first (the event then stays uncommitted).
   */
  async #deadLetter(
    member: Member,
    at: PartitionInHand,
    message: KafkaMessage,
    info: DeadLetterInfo,
  ): Promise<boolean> {
    const copy: Message = {
      key: message.key,
      value: message.value,
      headers: { ...message.headers, ...deadLetterHeaders(info) },
    };
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#withHeartbeats(at, () => this.#send(deadLetterTopic(info.topic), [copy]));
        return true;
      } catch (err) {
        if (member.stopping) return false;
        this.#log?.error({ ...info, err, attempt }, 'dead-lettering failed; retrying');
        const wait = Math.max(MIN_DEAD_LETTER_BACKOFF_MS, backoffMs(member.retry, attempt));
        if (!(await this.#wait(member, at, wait))) return false;
      }
    }
  }

  /**
   * Commits what was handled, then waits `ms`, heartbeating meanwhile so the
   * member keeps its partitions.
   * False if the member stops meanwhile; throws (kafkajs's error) if a
   * rebalance began, which makes the member rejoin rather than hold it up.
   */
  async #wait(member: Member, at: PartitionInHand, ms: number): Promise<boolean> {
    await at.flush();
    const interval = this.#consumer.heartbeatInterval;
    const deadline = performance.now() + ms;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) return true;
      try {
        await sleep(Math.min(left, interval), undefined, { signal: member.stop.signal });
      } catch {
        return false;
      }
      if (left > interval) await at.heartbeat();
    }
  }

  /**
   * Heartbeats while `work` runs, so a slow handler does not cost the member
   * its partitions. A failed heartbeat (a rebalance) is left for the
   * heartbeat after the event, which rethrows it.
   */
  async #withHeartbeats<T>(at: PartitionInHand, work: () => Promise<T>): Promise<T> {
    const timer = setInterval(() => {
      at.heartbeat().catch(() => {});
    }, this.#consumer.heartbeatInterval);
    try {
      return await work();
    } finally {
      clearInterval(timer);
    }
  }

  async #send(topic: string, messages: Message[]): Promise<void> {
    const sending = (async () => {
      await this.#ensureTopics([topic]);
      const producer = await this.#connectedProducer();
      await producer.send({ topic, messages, acks: -1 });
    })();
    this.#sending.add(sending);
    try {
      await sending;
    } finally {
      this.#sending.delete(sending);
    }
  }

  async #ensureTopics(topics: readonly string[]): Promise<void> {
    if (!this.#createTopics) return;
    const missing = [...new Set(topics)].filter((t) => !this.#created.has(t));
    if (missing.length === 0) return;
    const admin = await this.#connectedAdmin();
    // Resolves false, not an error, for topics that exist already.
    await admin.createTopics({
      topics: missing.map((topic) => ({
        topic,
        numPartitions: this.#partitions,
        replicationFactor: this.#replicationFactor,
      })),
      waitForLeaders: true,
    });
    for (const t of missing) this.#created.add(t);
  }

  #connectedProducer(): Promise<Producer> {
    this.#producerReady ??= this.#producer.connect().then(
      () => this.#producer,
      async (err: unknown) => {
        // The next publish tries again. A connect that failed after the socket
        // opened (a refused TLS or SASL handshake) leaves it open: close it.
        this.#producerReady = undefined;
        await this.#producer.disconnect().catch(() => {});
        throw err;
      },
    );
    return this.#producerReady;
  }

  async #deleteGroup(groupId: string): Promise<void> {
    try {
      const admin = await this.#connectedAdmin();
      await admin.deleteGroups([groupId]);
    } catch (err) {
      // Best effort: the broker drops an empty group's offsets after offsets.retention.minutes.
      this.#log?.debug({ err, group: groupId }, 'kafka broadcast group not deleted');
    }
  }

  #connectedAdmin(): Promise<Admin> {
    this.#adminReady ??= this.#admin.connect().then(
      () => this.#admin,
      async (err: unknown) => {
        this.#adminReady = undefined;
        await this.#admin.disconnect().catch(() => {});
        throw err;
      },
    );
    return this.#adminReady;
  }

  #assertOpen(): void {
    if (this.#closing) throw new EventBusError(EventBusErrorCode.Closed, 'the event bus is closed');
  }
}

const MIN_DEAD_LETTER_BACKOFF_MS = 100;
const COMMIT_INTERVAL_MS = 1000;

/** The partition a batch handler is working through. */
interface PartitionInHand {
  readonly topic: string;
  readonly partition: number;
  /** kafkajs's; throws once the group is rebalancing. */
  heartbeat(): Promise<void>;
  /** Commits the offset after the last handled event, if not yet committed. */
  flush(): Promise<void>;
}

/** One subscription: one kafkajs consumer, one group member. */
interface Member {
  readonly sub: Subscription;
  readonly retry: RetryPolicy;
  readonly groupId: string;
  /** Broadcast only: the next offset to handle, by `topic#partition`. */
  readonly positions: Map<string, string> | undefined;
  consumer: Consumer | undefined;
  /** Set once unsubscribe() or close() began: no new deliveries or retries. */
  stopping: boolean;
  /** Cuts retry waits short when stopping. */
  readonly stop: AbortController;
  /** The join; settles once the member joined its group or failed to. */
  ready: Promise<void>;
  leaving: Promise<void> | undefined;
}

/** CloudEvents binary-mode headers (Kafka protocol binding, `ce_` prefix), and the W3C trace context. */
function cloudEventHeaders(e: EventEnvelope): IHeaders {
  return {
    ce_specversion: '1.0',
    ce_id: e.id,
    ce_type: e.type,
    ce_source: e.source,
    ...(e.time ? { ce_time: e.time.toISOString() } : {}),
    ...(e.traceparent === '' ? {} : { traceparent: e.traceparent }),
    ...(e.tracestate === '' ? {} : { tracestate: e.tracestate }),
    'content-type': 'application/protobuf',
  };
}

const DLQ_HEADERS = {
  topic: 'dlq_topic',
  partition: 'dlq_partition',
  offset: 'dlq_offset',
  group: 'dlq_group',
  attempts: 'dlq_attempts',
  reason: 'dlq_reason',
} as const;

function deadLetterHeaders(info: DeadLetterInfo): IHeaders {
  return {
    [DLQ_HEADERS.topic]: info.topic,
    [DLQ_HEADERS.partition]: String(info.partition),
    [DLQ_HEADERS.offset]: info.offset,
    [DLQ_HEADERS.group]: info.group,
    [DLQ_HEADERS.attempts]: String(info.attempts),
    [DLQ_HEADERS.reason]: info.reason,
  };
}

function deadLetterInfoOf(headers: IHeaders | undefined): DeadLetterInfo | undefined {
  const topic = header(headers, DLQ_HEADERS.topic);
  if (topic === undefined) return undefined;
  return {
    topic,
    partition: Number(header(headers, DLQ_HEADERS.partition)),
    offset: header(headers, DLQ_HEADERS.offset) ?? '',
    group: header(headers, DLQ_HEADERS.group) ?? '',
    attempts: Number(header(headers, DLQ_HEADERS.attempts)),
    reason: header(headers, DLQ_HEADERS.reason) ?? '',
  };
}

function header(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

function decode(message: KafkaMessage): EventEnvelope {
  if (!message.value) throw new Error('the message has no value');
  return EventEnvelope.decode(message.value);
}

/** `partitionOf` on the message key, so a key lands in the partition embedded mode would pick. */
const keyPartitioner: ICustomPartitioner =
  () =>
  ({ partitionMetadata, message }) =>
    partitionOf(message.key?.toString() ?? '', partitionMetadata.length);

function partitionKey(topic: string, partition: number): string {
  return `${topic}#${partition}`;
}

function isHostPort(value: unknown): boolean {
  return typeof value === 'string' && /^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(value);
}

// kafkajs warns about this on every start; bounded retries are deliberate (see the producer).
const IGNORED_KAFKAJS_WARNINGS = new Set([
  'Limiting retries for the idempotent producer may invalidate EoS guarantees',
]);

/** Sends kafkajs's log lines (WARN and up) to pino. */
function kafkaLogCreator(log: Logger): logCreator {
  const kafkaLog = log.child({ component: 'kafkajs' });
  return () =>
    ({ namespace, level, log: entry }) => {
      const { message, timestamp: _timestamp, logger: _logger, ...fields } = entry;
      if (IGNORED_KAFKAJS_WARNINGS.has(message)) return;
      const line = { namespace, ...fields };
      // A failed request is logged as an error even when kafkajs retries it
      // or it is routine (a heartbeat answered "rebalancing"); what finally
      // fails reaches us as a rejection or a consumer crash, logged as such.
      if (level === logLevel.ERROR && namespace !== 'Connection') kafkaLog.error(line, message);
      else if (level <= logLevel.WARN) kafkaLog.warn(line, message);
      else if (level === logLevel.INFO) kafkaLog.info(line, message);
      else kafkaLog.debug(line, message);
    };
}

function invalid(message: string): EventBusError {
  return new EventBusError(EventBusErrorCode.InvalidArgument, message);
}
