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
import { type Cursor, decodeCursor, encodeCursor, partitionKey, raiseTo } from './cursor.ts';
import { IdleTimers } from './idle-timers.ts';
import { Mailbox } from './mailbox.ts';
import { type Kept, PartitionWindow } from './partition-window.ts';
import { RecentIds } from './recent-ids.ts';

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
  | { readonly kind: 'resync'; readonly updateId: string }
  /**
   * The first delivery of a stream opened from now: where it starts. Until
   * its first update a client has no other resume point, and reconnecting
   * "from now" again would skip, unseen, whatever was logged in between and
   * not yet delivered (a replica that stopped before reading it, say); from
   * this one another replica replays it or answers with a resync.
   */
  | { readonly kind: 'start'; readonly updateId: string };

/** One open stream: what its reader takes deliveries from. */
export interface UpdateStream<P> {
  readonly userId: string;
  /**
   * The next delivery; `idle` when nothing came for `idleMs`, `closed` when
   * the stream or hub ended or `signal` aborted. Throws StreamOverflowError
   * once the reader has fallen too far behind.
   */
  next(idleMs: number, signal?: AbortSignal): Promise<Delivery<P> | 'idle' | 'closed'>;
  /** Stops taking deliveries and leaves the hub; what is queued can still be read. Idempotent. */
  end(): void;
}

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

/** An open stream as the hub holds it. */
interface OpenStream<P> {
  readonly userId: string;
  readonly mailbox: Mailbox<Delivery<P>>;
  /**
   * Offsets the stream already had when it resumed from a replica further
   * ahead than this one: events up to them are skipped as they arrive here.
   */
  readonly floor: Cursor;
}

export class UpdateHub<P> {
  /** Names this hub in its cursors: a cursor of its own can be trusted further. */
  readonly id = randomBytes(6).toString('base64url');
  readonly #window: { readonly size: number; readonly maxAgeMs: number };
  readonly #queueLimit: number;
  readonly #now: () => number;
  readonly #partitions = new Map<string, PartitionWindow<HubEvent<P>>>();
  readonly #streams = new Map<string, Set<OpenStream<P>>>();
  readonly #seen: RecentIds;
  /** One timer for the idle waits of every stream (heartbeats). */
  readonly #idle = new IdleTimers();
  #arrivals = 0;
  #closed = false;

  constructor(opts: UpdateHubOptions = {}) {
    const settings = {
      windowPerPartition: opts.windowPerPartition ?? 10_000,
      windowMaxAgeMs: opts.windowMaxAgeMs ?? 24 * 60 * 60 * 1000,
      queueLimit: opts.queueLimit ?? 1000,
      dedupeLimit: opts.dedupeLimit ?? 100_000,
    };
    for (const [name, value] of Object.entries(settings)) {
      if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
    }
    this.#window = { size: settings.windowPerPartition, maxAgeMs: settings.windowMaxAgeMs };
    this.#queueLimit = settings.queueLimit;
    this.#seen = new RecentIds(settings.dedupeLimit);
    this.#now = opts.now ?? Date.now;
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
    const window = this.#partition(position);
    if (position.offset <= window.last) return; // a redelivery of the log (at-least-once)
    window.last = position.offset;
    if (this.#seen.seenBefore(event.eventId)) return;
    // Kept with its recipients sorted: a replay asks, for every kept event,
    // whether one user is among them (a binary search, where a group of
    // thousands would cost a scan per event and reconnecting stream).
    const recipients = sortedUnique(event.recipients);
    window.keep({
      offset: position.offset,
      arrival: ++this.#arrivals,
      receivedAt: this.#now(),
      event: { ...event, recipients },
    });
    // One delivery for every recipient (built when the first is found): a
    // reader may encode it once for all of them.
    let delivery: Extract<Delivery<P>, { kind: 'update' }> | undefined;
    for (const userId of recipients) {
      const streams = this.#streams.get(userId);
      if (!streams) continue;
      delivery ??= {
        kind: 'update',
        updateId: encodeCursor(this.id, this.#positions()),
        time: event.time,
        payload: event.payload,
      };
      for (const stream of streams) this.#deliver(stream, window.key, position.offset, delivery);
    }
  }

  /**
   * Opens a stream for a user, from now or resuming after `resumeAfter` (an
   * update id this or another replica issued). Throws InvalidCursorError
   * when it is not one, UpdateHubClosedError after close().
   */
  open(userId: string, resumeAfter: string | undefined): UpdateStream<P> {
    if (this.#closed) throw new UpdateHubClosedError();
    const resume = resumeAfter === undefined || resumeAfter === '' ? undefined : decodeCursor(resumeAfter);
    const stream: OpenStream<P> = {
      userId,
      mailbox: new Mailbox(this.#queueLimit, () => this.#detach(stream), this.#idle),
      floor: new Map(),
    };
    let set = this.#streams.get(userId);
    if (!set) {
      set = new Set();
      this.#streams.set(userId, set);
    }
    set.add(stream);
    if (!resume) {
      stream.mailbox.put({ kind: 'start', updateId: encodeCursor(this.id, this.#positions()) });
    } else {
      const start = this.#resumePoints(resume.hub, resume.cursor);
      if (start === undefined) {
        stream.mailbox.put({ kind: 'resync', updateId: encodeCursor(this.id, this.#positions()) });
      } else {
        for (const [key, offset] of resume.cursor) {
          if (offset > (this.#partitions.get(key)?.last ?? Number.NEGATIVE_INFINITY)) stream.floor.set(key, offset);
        }
        this.#replay(stream, start);
      }
    }
    return {
      userId,
      next: (idleMs, signal) => stream.mailbox.take(idleMs, signal),
      end: () => stream.mailbox.close(),
    };
  }

  /** Ends every stream (they see `closed`) and refuses new ones. */
  close(): void {
    this.#closed = true;
    for (const set of [...this.#streams.values()]) for (const stream of [...set]) stream.mailbox.close();
    this.#streams.clear();
  }

  #detach(stream: OpenStream<P>): void {
    const set = this.#streams.get(stream.userId);
    set?.delete(stream);
    if (set?.size === 0) this.#streams.delete(stream.userId);
  }

  /** Queues an event for a stream, unless its floor says it had it already. */
  #deliver(
    stream: OpenStream<P>,
    key: string,
    offset: number,
    delivery: Extract<Delivery<P>, { kind: 'update' }>,
  ): void {
    if (stream.floor.size === 0) {
      stream.mailbox.put(delivery);
      return;
    }
    const floor = stream.floor.get(key);
    if (floor !== undefined && offset <= floor) return;
    // The stream resumed from a replica further ahead: its update ids keep that replica's offsets.
    const cursor = this.#positions();
    raiseTo(cursor, stream.floor);
    // Once this hub has caught up with the floor, the hub's own positions are the cursor again.
    for (const [k, f] of stream.floor) if ((this.#partitions.get(k)?.last ?? -1) >= f) stream.floor.delete(k);
    stream.mailbox.put({ ...delivery, updateId: encodeCursor(this.id, cursor) });
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
    for (const [key, window] of this.#partitions) {
      const offset = cursor.get(key);
      if (offset === undefined) {
        // The issuing hub had seen nothing of this partition yet. Only this
        // hub itself knows that all it has of the partition came later.
        if (!own || window.replayableAfter !== window.firstSeen - 1) return undefined;
        start.set(key, window.firstSeen - 1);
      } else {
        if (offset < window.replayableAfter) return undefined;
        start.set(key, offset);
      }
    }
    return start;
  }

  /**
   * Queues, in arrival order, the kept events above `start` meant for the
   * stream's user. When they are more than the stream's queue holds, it
   * queues a resync instead: the replay would overflow the queue at once,
   * the stream would be cut as a slow reader, and its client would resume
   * from the same point into the same overflow — a loop that adds load just
   * when a replica is behind. Reloading state is cheaper than that many
   * updates anyway.
   */
  #replay(stream: OpenStream<P>, start: Cursor): void {
    const pending: { key: string; kept: Kept<HubEvent<P>>; mine: boolean }[] = [];
    let forStream = 0;
    for (const [key, window] of this.#partitions) {
      for (const kept of window.after(start.get(key) ?? window.last)) {
        const mine = includesSorted(kept.event.recipients, stream.userId);
        pending.push({ key, kept, mine });
        if (mine) forStream++;
      }
    }
    if (forStream >= this.#queueLimit) {
      stream.mailbox.put({ kind: 'resync', updateId: encodeCursor(this.id, this.#positions()) });
      return;
    }
    pending.sort((a, b) => a.kept.arrival - b.kept.arrival);
    const cursor: Cursor = new Map(start);
    raiseTo(cursor, stream.floor);
    for (const { key, kept, mine } of pending) {
      cursor.set(key, kept.offset);
      if (!mine) continue;
      stream.mailbox.put({
        kind: 'update',
        updateId: encodeCursor(this.id, cursor),
        time: kept.event.time,
        payload: kept.event.payload,
      });
    }
  }

  /**
   * Hands an ephemeral payload to the open streams of its recipients, now
   * only: it is not kept in any window, never replayed, and its update id is
   * empty, so it moves no stream's resume point.
   */
  signal(recipients: readonly string[], time: Date, payload: P): void {
    if (this.#closed) return;
    const delivery: Delivery<P> = { kind: 'update', updateId: '', time, payload };
    for (const userId of new Set(recipients)) {
      for (const stream of this.#streams.get(userId) ?? []) stream.mailbox.put(delivery);
    }
  }

  #partition(position: LogPosition): PartitionWindow<HubEvent<P>> {
    const key = partitionKey(position.topic, position.partition);
    let window = this.#partitions.get(key);
    if (!window) {
      window = new PartitionWindow(key, position.offset, this.#window);
      this.#partitions.set(key, window);
    }
    return window;
  }

  #positions(): Cursor {
    const cursor: Cursor = new Map();
    for (const [key, window] of this.#partitions) cursor.set(key, window.last);
    return cursor;
  }
}

/** The ids in code-unit order (as `<` compares strings), each once. */
function sortedUnique(ids: readonly string[]): readonly string[] {
  const sorted = [...ids].sort();
  let n = 0;
  for (const id of sorted) if (n === 0 || sorted[n - 1] !== id) sorted[n++] = id;
  sorted.length = n;
  return sorted;
}

function includesSorted(sorted: readonly string[], id: string): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = sorted[mid] as string;
    if (at === id) return true;
    if (at < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
