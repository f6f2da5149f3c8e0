import { randomUUID } from 'node:crypto';
import { setTimeout as sleep, setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
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

export interface InProcessEventBusOptions extends Partial<RetryPolicy> {
  /** Partitions per topic; 4 by default. */
  readonly partitions?: number;
  /**
   * At most this many events are kept per partition (default 100 000); older
   * ones are dropped, like Kafka's retention. A group lagging further behind
   * skips to the oldest retained event (logged), as Kafka's
   * `auto.offset.reset=earliest` does. Events every group of the topic has
   * handled go sooner: memory is all this bus has, and nothing reads them
   * again (a group that joins a topic later starts at what is left).
   */
  readonly retainPerPartition?: number;
  /** Where handler failures, dead letters and skipped events are reported. */
  readonly log?: Logger;
}

/**
 * The event bus of embedded mode: Kafka's model kept in memory. Each topic is
 * a set of append-only partition logs holding the encoded envelopes (so
 * consumers get their own decoded copy, exactly as from a broker); each group
 * keeps a committed offset per partition; each assigned partition is consumed
 * by one loop that handles one event at a time and commits it once handled.
 * Nothing survives the process, so a group's offsets last as long as the bus.
 * A partition keeps only what some group of its topic has yet to handle
 * (and at most the retention bound); with no group yet, it keeps up to the
 * bound.
 */
export class InProcessEventBus implements EventBus {
  readonly #partitions: number;
  readonly #retain: number;
  readonly #retry: RetryPolicy;
  readonly #log: Logger | undefined;
  readonly #topics = new Map<string, Topic>();
  readonly #groups = new Map<string, Group>();
  /** Every consuming loop still running, revoked ones included: what close() waits for. */
  readonly #loops = new Set<Promise<void>>();
  #closing: Promise<void> | undefined;

  constructor(opts: InProcessEventBusOptions = {}) {
    this.#partitions = opts.partitions ?? 4;
    this.#retain = opts.retainPerPartition ?? 100_000;
    requireInt('partitions', this.#partitions, 1);
    requireInt('retainPerPartition', this.#retain, 1);
    this.#retry = resolveRetryPolicy(opts, DEFAULT_RETRY_POLICY);
    this.#log = opts.log;
  }

  async publish(topic: string, events: readonly EventEnvelope[]): Promise<void> {
    this.#assertOpen();
    assertPublishable(topic, events);
    // Encode the whole batch first: a bad event stores none of it.
    const entries = events.map((e) => ({ key: e.key, bytes: EventEnvelope.encode(e).finish() }));
    const logs = this.#topic(topic).partitions;
    for (const entry of entries) logAt(logs, partitionOf(entry.key, logs.length)).append(entry);
  }

  async subscribe(sub: Subscription): Promise<SubscriptionHandle> {
    this.#assertOpen();
    assertSubscription(sub);
    const retry = resolveRetryPolicy(sub.retry, this.#retry);
    const broadcast = sub.delivery === 'broadcast';
    const groupId = broadcast ? `${sub.group}.${randomUUID()}` : sub.group;
    const group = this.#groups.get(groupId) ?? this.#createGroup(groupId, broadcast, sub.topics);
    for (const name of sub.topics) this.#topic(name).groups.add(group);
    const member: Member = { sub, retry, topics: new Set(sub.topics), leaving: undefined };
    group.members.push(member);
    this.#rebalance(group);
    return { group: groupId, unsubscribe: () => this.#leave(group, member) };
  }

  #createGroup(id: string, broadcast: boolean, topics: readonly string[]): Group {
    const group: Group = { id, broadcast, members: [], committed: new Map(), assignments: new Map() };
    if (broadcast) {
      // A broadcast subscriber wants what happens from now on, not history.
      for (const name of topics) {
        this.#topic(name).partitions.forEach((log, p) => {
          group.committed.set(partitionKey(name, p), log.end);
        });
      }
    }
    this.#groups.set(id, group);
    return group;
  }

  /**
   * Resolves once `group` has handled (committed) every event published to
   * `topic` before the call: what a consumer's owner waits on before
   * stopping it when nothing published may be left for a later run.
   */
  async caughtUp(group: string, topic: string): Promise<void> {
    const logs = this.#topic(topic).partitions;
    const ends = logs.map((log) => log.end);
    const done = () => {
      const committed = this.#groups.get(group)?.committed;
      return ends.every((end, p) => (committed?.get(partitionKey(topic, p)) ?? logAt(logs, p).start) >= end);
    };
    while (!done()) await sleep(5);
  }

  close(): Promise<void> {
    this.#closing ??= this.#drain();
    return this.#closing;
  }

  async #drain(): Promise<void> {
    for (const group of this.#groups.values()) {
      for (const member of group.members) member.leaving ??= Promise.resolve();
      group.members = [];
      for (const a of group.assignments.values()) revoke(a);
      group.assignments.clear();
    }
    await Promise.all(this.#loops);
  }

  #leave(group: Group, member: Member): Promise<void> {
    member.leaving ??= (async () => {
      const tasks = [...group.assignments.values()].filter((a) => a.member === member).map((a) => a.task);
      group.members = group.members.filter((m) => m !== member);
      this.#rebalance(group);
      await Promise.all(tasks);
      if (group.broadcast) {
        this.#groups.delete(group.id);
        for (const name of member.topics) this.#topic(name).groups.delete(group);
      }
    })();
    return member.leaving;
  }

  /**
   * Deals each topic's partitions round-robin to the group's members that
   * subscribe to it, in join order. A partition changing hands is revoked
   * gracefully: its new owner starts once the old one has finished (and
   * committed) the event in hand, so one group never handles two events of a
   * partition at once.
   */
  #rebalance(group: Group): void {
    const topics = new Set(group.members.flatMap((m) => [...m.topics]));
    for (const a of group.assignments.values()) topics.add(a.topic.name);
    for (const name of topics) {
      const owners = group.members.filter((m) => m.topics.has(name));
      const topic = this.#topic(name);
      for (let p = 0; p < topic.partitions.length; p++) {
        const key = partitionKey(name, p);
        const owner = owners[p % Math.max(owners.length, 1)];
        const current = group.assignments.get(key);
        if (current?.member === owner) continue;
        if (current) revoke(current);
        if (owner) group.assignments.set(key, this.#assign(group, topic, p, owner, current?.task));
        else group.assignments.delete(key);
      }
    }
  }

  #assign(
    group: Group,
    topic: Topic,
    partition: number,
    member: Member,
    previous: Promise<void> | undefined,
  ): Assignment {
    const a: Assignment = {
      group,
      topic,
      partition,
      member,
      revoked: false,
      stop: new AbortController(),
      wake: undefined,
      task: Promise.resolve(),
    };
    const loop = this.#consume(a, previous);
    this.#loops.add(loop);
    a.task = loop.finally(() => this.#loops.delete(loop));
    return a;
  }

  async #consume(a: Assignment, previous: Promise<void> | undefined): Promise<void> {
    await previous;
    // Also keeps handlers out of the call stack of publish and subscribe.
    await yieldToEventLoop();
    const log = logAt(a.topic.partitions, a.partition);
    const key = partitionKey(a.topic.name, a.partition);
    let sinceYield = 0;
    while (!a.revoked) {
      let offset = a.group.committed.get(key) ?? log.start;
      if (offset < log.start) {
        this.#log?.warn(
          { topic: a.topic.name, partition: a.partition, group: a.group.id, skipped: log.start - offset },
          'consumer group fell behind retention; skipping to the oldest retained event',
        );
        offset = log.start;
      }
      const entry = log.at(offset);
      if (!entry) {
        await log.nextAppend(a);
        continue;
      }
      if (!(await this.#deliver(a, entry, offset))) return;
      a.group.committed.set(key, offset + 1);
      // The log starts at the slowest group's position, so only that group's commit can move it.
      if (offset === log.start) log.dropBefore(handledByAll(a.topic, a.partition, log));
      // A run of handlers that resolve at once is a chain of microtasks;
      // stepping out now and then lets timers and I/O run.
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        await yieldToEventLoop();
      }
    }
  }

  /** Handles one event to the end: true once it may be committed, false if the member stopped first. */
  async #deliver(a: Assignment, entry: LogEntry, offset: number): Promise<boolean> {
    const policy = a.member.retry;
    for (let attempt = 1; ; attempt++) {
      if (a.revoked) return false;
      const meta: DeliveryMeta = {
        topic: a.topic.name,
        partition: a.partition,
        offset: String(offset),
        attempt,
        ...(entry.deadLetter ? { deadLetter: entry.deadLetter } : {}),
      };
      try {
        await a.member.sub.handle(EventEnvelope.decode(entry.bytes), meta);
        return true;
      } catch (err) {
        // A leaving member neither retries nor dead-letters: the next owner gets the event afresh.
        if (a.revoked) return false;
        const where = { topic: meta.topic, partition: meta.partition, offset: meta.offset, group: a.group.id };
        if (attempt >= policy.maxAttempts) {
          this.#log?.error({ ...where, attempt, err }, 'event handler gave up; event dead-lettered');
          this.#deadLetter(entry, { ...where, attempts: attempt, reason: failureReason(err) });
          return true;
        }
        this.#log?.warn({ ...where, attempt, err }, 'event handler failed; retrying');
        try {
          await sleep(backoffMs(policy, attempt), undefined, { signal: a.stop.signal });
        } catch {
          return false;
        }
      }
    }
  }

  /** Appends the event unchanged to `<topic>.dlq`, the reason stored beside it. */
  #deadLetter(entry: LogEntry, deadLetter: DeadLetterInfo): void {
    const logs = this.#topic(deadLetterTopic(deadLetter.topic)).partitions;
    logAt(logs, partitionOf(entry.key, logs.length)).append({ key: entry.key, bytes: entry.bytes, deadLetter });
  }

  #topic(name: string): Topic {
    let topic = this.#topics.get(name);
    if (!topic) {
      const partitions = Array.from({ length: this.#partitions }, () => new PartitionLog(this.#retain));
      topic = { name, partitions, groups: new Set() };
      this.#topics.set(name, topic);
    }
    return topic;
  }

  #assertOpen(): void {
    if (this.#closing) throw new EventBusError(EventBusErrorCode.Closed, 'the event bus is closed');
  }
}

const YIELD_EVERY = 64;

interface LogEntry {
  readonly key: string;
  /** The encoded envelope, decoded afresh for each delivery. */
  readonly bytes: Uint8Array;
  readonly deadLetter?: DeadLetterInfo;
}

interface Topic {
  readonly name: string;
  readonly partitions: readonly PartitionLog[];
  /** The groups that consume it, their members present or not (a shared group resumes where it left). */
  readonly groups: Set<Group>;
}

/** The first offset of the partition that some group of the topic has not handled; its start if none. */
function handledByAll(topic: Topic, partition: number, log: PartitionLog): number {
  if (topic.groups.size === 0) return log.start;
  const key = partitionKey(topic.name, partition);
  let first = log.end;
  for (const group of topic.groups) first = Math.min(first, group.committed.get(key) ?? log.start);
  return first;
}

interface Member {
  readonly sub: Subscription;
  readonly retry: RetryPolicy;
  readonly topics: ReadonlySet<string>;
  /** Set once it starts leaving; resolves when it has left. */
  leaving: Promise<void> | undefined;
}

interface Group {
  readonly id: string;
  readonly broadcast: boolean;
  /** Live members in join order. */
  members: Member[];
  /** The next offset to handle, by `topic#partition`; absent means the oldest retained. */
  readonly committed: Map<string, number>;
  readonly assignments: Map<string, Assignment>;
}

/** One partition in one member's hands, with the loop consuming it. */
interface Assignment {
  readonly group: Group;
  readonly topic: Topic;
  readonly partition: number;
  readonly member: Member;
  revoked: boolean;
  /** Cuts a retry backoff short when revoked. */
  readonly stop: AbortController;
  /** Set while the loop waits for an append. */
  wake: (() => void) | undefined;
  /** The loop; settles after its last commit. */
  task: Promise<void>;
}

function revoke(a: Assignment): void {
  a.revoked = true;
  a.stop.abort();
  a.wake?.();
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}#${partition}`;
}

function logAt(logs: readonly PartitionLog[], partition: number): PartitionLog {
  const log = logs[partition];
  if (!log) throw new Error(`no partition ${partition}`);
  return log;
}

/**
 * An append-only log with a moving start: `[start, end)` are the retained
 * offsets. Dropped entries are spliced out in bulk, so appending stays O(1)
 * amortised at the retention bound.
 */
class PartitionLog {
  readonly #retain: number;
  #entries: (LogEntry | undefined)[] = [];
  #head = 0;
  #start = 0;
  readonly #waiters = new Set<() => void>();

  constructor(retain: number) {
    this.#retain = retain;
  }

  get start(): number {
    return this.#start;
  }

  get end(): number {
    return this.#start + this.#entries.length - this.#head;
  }

  at(offset: number): LogEntry | undefined {
    return offset >= this.#start ? this.#entries[this.#head + offset - this.#start] : undefined;
  }

  append(entry: LogEntry): void {
    this.#entries.push(entry);
    this.dropBefore(this.end - this.#retain);
    for (const wake of [...this.#waiters]) wake();
  }

  /** Drops the entries before `offset`. */
  dropBefore(offset: number): void {
    while (this.#start < offset && this.#head < this.#entries.length) {
      this.#entries[this.#head] = undefined;
      this.#head++;
      this.#start++;
    }
    if (this.#head >= 1024 && this.#head * 2 >= this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Resolves on the next append, or when the assignment is revoked. */
  nextAppend(a: Assignment): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.#waiters.delete(wake);
        a.wake = undefined;
        resolve();
      };
      this.#waiters.add(wake);
      a.wake = wake;
    });
  }
}
