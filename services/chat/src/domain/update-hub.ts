// The live-updates hub of one replica: every event of the subscribed topics
// comes in (broadcast delivery: every replica sees every event), is kept in
// a bounded window, and goes to the open streams of its recipients.
//
// Resuming. An update id is a cursor into the event log itself: for every
// partition (topic#n) this hub has seen, the offset up to which the stream
// has had everything meant for it. Offsets are the log's own, the same on
// every replica, so a cursor issued by one replica can be resumed on
// another: that replica replays the events of its window above the
// cursor's offsets. Where it cannot be sure to have them all (a partition
// it has not seen, or seen only from later on, or a window already past the
// cursor) it answers with a resync instead. Order is per partition, and a
// chat's events share one partition (their key is the chat id), so a
// stream gets each chat's updates in order, replayed or live.

import { randomBytes } from 'node:crypto';

/** Where an event sits in the log. */
export interface LogPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** One event as the hub handles it: who gets it, and what (opaque to the hub). */
export interface HubEvent<P> {
  /** The envelope id: a duplicate (an outbox relay may publish twice) is delivered once. */
  readonly eventId: string;
  readonly time: Date;
  readonly recipients: readonly string[];
  readonly payload: P;
}

export type Delivery<P> =
  | { readonly kind: 'update'; readonly updateId: string; readonly time: Date; readonly payload: P }
  /**
   * The resume point is outside the window: the client must reload; the
   * stream continues from now, and `updateId` is "now" to resume from.
   */
  | { readonly kind: 'resync'; readonly updateId: string };

export interface UpdateHubOptions {
  /** Events kept per partition for resuming (default 10 000). */
  readonly windowPerPartition?: number;
  /** And for at most this long (default 24 h). */
  readonly windowMaxAgeMs?: number;
  /** Deliveries a stream may have waiting before it is cut off as too slow (default 1000). */
  readonly queueLimit?: number;
  /** Event ids remembered to drop duplicates (default 100 000). */
  readonly dedupeLimit?: number;
  readonly now?: () => number;
}

export class UpdateHubClosedError extends Error {
  constructor() {
    super('the update hub is closed');
    this.name = 'UpdateHubClosedError';
  }
}

/** The stream's reader fell behind by more than the queue limit; it should reconnect and resume. */
export class StreamOverflowError extends Error {
  constructor() {
    super('the stream fell behind');
    this.name = 'StreamOverflowError';
  }
}

/** `resume_after` is not a cursor any hub issued. */
export class InvalidCursorError extends Error {
  constructor() {
    super('not an update id');
    this.name = 'InvalidCursorError';
  }
}

interface Stored<P> {
  readonly offset: number;
  /** Arrival order across partitions, for merging a replay. */
  readonly arrival: number;
  readonly receivedAt: number;
  readonly event: HubEvent<P>;
}

interface PartitionState<P> {
  readonly key: string;
  readonly topic: string;
  readonly partition: number;
  /** The newest offset seen. */
  last: number;
  /** Every event above this offset is in `window` (those still kept). */
  replayableAfter: number;
  /** The first offset this hub saw: where its knowledge of the partition starts. */
  readonly firstSeen: number;
  readonly window: Stored<P>[];
  /** Index of the oldest kept entry in `window` (dropped ones are spliced out in bulk). */
  head: number;
}

/** Offsets by partition key (`topic#n`). */
type Cursor = Map<string, number>;

export class UpdateHub<P> {
  /** Names this hub in its cursors: a cursor of its own can be trusted further. */
  readonly id = randomBytes(6).toString('base64url');
  readonly #perPartition: number;
  readonly #maxAgeMs: number;
  readonly #queueLimit: number;
  readonly #dedupeLimit: number;
  readonly #now: () => number;
  readonly #partitions = new Map<string, PartitionState<P>>();
  readonly #streams = new Map<string, Set<UpdateStream<P>>>();
  readonly #seenIds = new Set<string>();
  readonly #seenOrder: string[] = [];
  #seenHead = 0;
  #arrivals = 0;
  #closed = false;

  constructor(opts: UpdateHubOptions = {}) {
    this.#perPartition = opts.windowPerPartition ?? 10_000;
    this.#maxAgeMs = opts.windowMaxAgeMs ?? 24 * 60 * 60 * 1000;
    this.#queueLimit = opts.queueLimit ?? 1000;
    this.#dedupeLimit = opts.dedupeLimit ?? 100_000;
    this.#now = opts.now ?? Date.now;
    for (const [name, value] of Object.entries({
      windowPerPartition: this.#perPartition,
      windowMaxAgeMs: this.#maxAgeMs,
      queueLimit: this.#queueLimit,
      dedupeLimit: this.#dedupeLimit,
    })) {
      if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
    }
  }

  /** Open streams, for metrics and tests. */
  get streamCount(): number {
    let n = 0;
    for (const set of this.#streams.values()) n += set.size;
    return n;
  }

  /**
   * Takes the next event of a partition (in offset order, as the bus
   * delivers them) and hands it to the open streams of its recipients.
   * Synchronous, so a stream opened in between sees it either in its replay
   * or live, never both or neither.
   */
  publish(position: LogPosition, event: HubEvent<P>): void {
    if (this.#closed) return;
    const state = this.#partition(position);
    if (position.offset <= state.last) return; // a redelivery of the log (at-least-once)
    state.last = position.offset;
    if (this.#isDuplicate(event.eventId)) return;
    const now = this.#now();
    state.window.push({ offset: position.offset, arrival: ++this.#arrivals, receivedAt: now, event });
    this.#trim(state, now);
    let updateId: string | undefined;
    for (const userId of new Set(event.recipients)) {
      const streams = this.#streams.get(userId);
      if (!streams) continue;
      updateId ??= this.#encode(this.#positions());
      for (const stream of streams) stream.push(state.key, position.offset, updateId, event);
    }
  }

  /**
   * Opens a stream for a user, from now or resuming after `resumeAfter` (an
   * update id this or another replica issued). Throws InvalidCursorError
   * when it is not one, UpdateHubClosedError after close().
   */
  open(userId: string, resumeAfter: string | undefined): UpdateStream<P> {
    if (this.#closed) throw new UpdateHubClosedError();
    const stream = new UpdateStream<P>(this, userId, this.#queueLimit);
    if (resumeAfter !== undefined && resumeAfter !== '') {
      const { hub, cursor } = this.#decode(resumeAfter);
      const start = this.#resumePoints(hub, cursor);
      if (start === undefined) {
        stream.enqueue({ kind: 'resync', updateId: this.#encode(this.#positions()) });
      } else {
        for (const [key, offset] of cursor) {
          if (offset > (this.#partitions.get(key)?.last ?? Number.NEGATIVE_INFINITY)) stream.floor.set(key, offset);
        }
        this.#replay(stream, start);
      }
    }
    let set = this.#streams.get(userId);
    if (!set) {
      set = new Set();
      this.#streams.set(userId, set);
    }
    set.add(stream);
    return stream;
  }

  /** Ends every stream (they see `closed`) and refuses new ones. */
  close(): void {
    this.#closed = true;
    for (const set of this.#streams.values()) for (const stream of set) stream.end();
    this.#streams.clear();
  }

  /** @internal called by UpdateStream when it ends. */
  detach(stream: UpdateStream<P>): void {
    const set = this.#streams.get(stream.userId);
    set?.delete(stream);
    if (set?.size === 0) this.#streams.delete(stream.userId);
  }

  /** @internal the update id for a stream whose floor is ahead of this hub (it resumed from a faster replica). */
  encodeWithFloor(floor: Cursor): string {
    const cursor = this.#positions();
    for (const [key, offset] of floor) cursor.set(key, Math.max(offset, cursor.get(key) ?? offset));
    return this.#encode(cursor);
  }

  /** @internal the newest offset seen on a partition. */
  lastOffset(key: string): number | undefined {
    return this.#partitions.get(key)?.last;
  }

  /**
   * For each partition this hub knows, the offset above which the stream
   * must be replayed; undefined when the window cannot guarantee that.
   */
  #resumePoints(hub: string, cursor: Cursor): Cursor | undefined {
    const own = hub === this.id;
    const start: Cursor = new Map();
    for (const key of cursor.keys()) {
      // An offset on a partition this hub never saw: what came after it may predate this hub.
      if (!this.#partitions.has(key)) return undefined;
    }
    for (const [key, state] of this.#partitions) {
      const offset = cursor.get(key);
      if (offset === undefined) {
        // The issuing hub had seen nothing of this partition yet. Only this
        // hub itself knows that all it has of the partition came later.
        if (!own || state.replayableAfter !== state.firstSeen - 1) return undefined;
        start.set(key, state.firstSeen - 1);
      } else {
        if (offset < state.replayableAfter) return undefined;
        start.set(key, offset);
      }
    }
    return start;
  }

  /** Queues, in arrival order, the kept events above `start` meant for the stream's user. */
  #replay(stream: UpdateStream<P>, start: Cursor): void {
    const pending: { key: string; stored: Stored<P> }[] = [];
    for (const [key, state] of this.#partitions) {
      const from = start.get(key) ?? state.last;
      // Offsets grow along the window: find the first one above `from`, so a
      // short absence costs a short replay whatever the window's size.
      let lo = state.head;
      let hi = state.window.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((state.window[mid] as Stored<P>).offset > from) hi = mid;
        else lo = mid + 1;
      }
      for (let i = lo; i < state.window.length; i++) pending.push({ key, stored: state.window[i] as Stored<P> });
    }
    pending.sort((a, b) => a.stored.arrival - b.stored.arrival);
    const cursor: Cursor = new Map(start);
    for (const [key, offset] of stream.floor) cursor.set(key, Math.max(offset, cursor.get(key) ?? offset));
    for (const { key, stored } of pending) {
      cursor.set(key, stored.offset);
      if (!stored.event.recipients.includes(stream.userId)) continue;
      stream.enqueue({
        kind: 'update',
        updateId: this.#encode(cursor),
        time: stored.event.time,
        payload: stored.event.payload,
      });
    }
  }

  #partition(position: LogPosition): PartitionState<P> {
    const key = `${position.topic}#${position.partition}`;
    let state = this.#partitions.get(key);
    if (!state) {
      state = {
        key,
        topic: position.topic,
        partition: position.partition,
        last: position.offset - 1,
        replayableAfter: position.offset - 1,
        firstSeen: position.offset,
        window: [],
        head: 0,
      };
      this.#partitions.set(key, state);
    }
    return state;
  }

  #trim(state: PartitionState<P>, now: number): void {
    const oldest = now - this.#maxAgeMs;
    for (;;) {
      const first = state.window[state.head];
      if (!first) break;
      if (state.window.length - state.head <= this.#perPartition && first.receivedAt >= oldest) break;
      state.replayableAfter = first.offset;
      state.window[state.head] = undefined as unknown as Stored<P>;
      state.head++;
    }
    if (state.head >= 1024 && state.head * 2 >= state.window.length) {
      state.window.splice(0, state.head);
      state.head = 0;
    }
  }

  #isDuplicate(eventId: string): boolean {
    if (this.#seenIds.has(eventId)) return true;
    this.#seenIds.add(eventId);
    this.#seenOrder.push(eventId);
    if (this.#seenOrder.length - this.#seenHead > this.#dedupeLimit) {
      this.#seenIds.delete(this.#seenOrder[this.#seenHead] as string);
      this.#seenHead++;
      if (this.#seenHead >= 1024 && this.#seenHead * 2 >= this.#seenOrder.length) {
        this.#seenOrder.splice(0, this.#seenHead);
        this.#seenHead = 0;
      }
    }
    return false;
  }

  #positions(): Cursor {
    const cursor: Cursor = new Map();
    for (const [key, state] of this.#partitions) cursor.set(key, state.last);
    return cursor;
  }

  /** base64url of `{"h": hub id, "t": {topic: [offset or null, by partition]}}`. */
  #encode(cursor: Cursor): string {
    const topics: Record<string, (number | null)[]> = {};
    for (const [key, offset] of cursor) {
      const at = key.lastIndexOf('#');
      const topic = key.slice(0, at);
      const partition = Number(key.slice(at + 1));
      const offsets = topics[topic] ?? [];
      topics[topic] = offsets;
      while (offsets.length < partition) offsets.push(null);
      offsets[partition] = offset;
    }
    return Buffer.from(JSON.stringify({ h: this.id, t: topics })).toString('base64url');
  }

  #decode(token: string): { hub: string; cursor: Cursor } {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    } catch {
      throw new InvalidCursorError();
    }
    if (typeof parsed !== 'object' || parsed === null) throw new InvalidCursorError();
    const { h, t } = parsed as { h?: unknown; t?: unknown };
    if (typeof h !== 'string' || typeof t !== 'object' || t === null || Array.isArray(t)) {
      throw new InvalidCursorError();
    }
    const cursor: Cursor = new Map();
    for (const [topic, offsets] of Object.entries(t)) {
      if (!Array.isArray(offsets) || offsets.length > 10_000) throw new InvalidCursorError();
      offsets.forEach((offset: unknown, partition) => {
        if (offset === null) return;
        if (!Number.isSafeInteger(offset) || (offset as number) < -1) throw new InvalidCursorError();
        cursor.set(`${topic}#${partition}`, offset as number);
      });
    }
    return { hub: h, cursor };
  }
}

/** One open stream: what its reader takes deliveries from. */
export class UpdateStream<P> {
  readonly userId: string;
  /**
   * Offsets the stream already had when it resumed from a replica further
   * ahead than this one: events up to them are skipped as they arrive here.
   */
  readonly floor: Cursor = new Map();
  readonly #hub: UpdateHub<P>;
  readonly #limit: number;
  readonly #queue: Delivery<P>[] = [];
  #head = 0;
  #wake: (() => void) | undefined;
  #ended = false;
  #overflowed = false;

  constructor(hub: UpdateHub<P>, userId: string, limit: number) {
    this.#hub = hub;
    this.userId = userId;
    this.#limit = limit;
  }

  /** @internal */
  push(key: string, offset: number, updateId: string, event: HubEvent<P>): void {
    if (this.floor.size > 0) {
      const floor = this.floor.get(key);
      if (floor !== undefined && offset <= floor) return;
      updateId = this.#hub.encodeWithFloor(this.floor);
      // Once this hub has caught up with the floor, the hub's own positions are the cursor again.
      for (const [k, f] of this.floor) if ((this.#hub.lastOffset(k) ?? -1) >= f) this.floor.delete(k);
    }
    this.enqueue({ kind: 'update', updateId, time: event.time, payload: event.payload });
  }

  /** @internal */
  enqueue(delivery: Delivery<P>): void {
    if (this.#ended) return;
    if (this.#queue.length - this.#head >= this.#limit) {
      this.#overflowed = true;
      this.end();
      return;
    }
    this.#queue.push(delivery);
    this.#wake?.();
  }

  /**
   * The next delivery; `idle` when nothing came for `idleMs`, `closed` when
   * the stream or hub ended or `signal` aborted. Throws StreamOverflowError
   * once the reader has fallen too far behind.
   */
  async next(idleMs: number, signal?: AbortSignal): Promise<Delivery<P> | 'idle' | 'closed'> {
    for (;;) {
      if (this.#overflowed) throw new StreamOverflowError();
      const delivery = this.#queue[this.#head];
      if (delivery) {
        this.#queue[this.#head] = undefined as unknown as Delivery<P>;
        this.#head++;
        if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
          this.#queue.splice(0, this.#head);
          this.#head = 0;
        }
        return delivery;
      }
      if (this.#ended || signal?.aborted) return 'closed';
      const woke = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => done(false), idleMs);
        const onAbort = () => done(true);
        signal?.addEventListener('abort', onAbort, { once: true });
        const done = (value: boolean) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.#wake = undefined;
          resolve(value);
        };
        this.#wake = () => done(true);
      });
      if (!woke) return 'idle';
    }
  }

  /** Stops taking deliveries and leaves the hub; what is queued can still be read. Idempotent. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#hub.detach(this);
    this.#wake?.();
  }
}
