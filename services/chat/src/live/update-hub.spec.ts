import { randomUUID } from 'node:crypto';
import { InvalidCursorError } from './cursor.ts';
import { StreamOverflowError } from './mailbox.ts';
import {
  type Delivery,
  UpdateHub,
  UpdateHubClosedError,
  type UpdateHubOptions,
  type UpdateStream,
} from './update-hub.ts';

type Payload = string;

describe('UpdateHub', () => {
  const event = (payload: string, recipients: string[], eventId: string = randomUUID()) => ({
    eventId,
    time: new Date(0),
    recipients,
    payload,
  });
  /** A log of `partitions` partitions per topic, numbering offsets as a bus would. */
  const log = () => {
    const next = new Map<string, number>();
    return (
      hubs: UpdateHub<Payload>[],
      topic: string,
      partition: number,
      payload: string,
      to: string[],
      id?: string,
    ) => {
      const key = `${topic}#${partition}`;
      const offset = next.get(key) ?? 0;
      next.set(key, offset + 1);
      const e = event(payload, to, id);
      for (const hub of hubs) hub.publish({ topic, partition, offset }, e);
      return offset;
    };
  };
  /** Everything queued now, without waiting. */
  const drain = async (stream: UpdateStream<Payload>): Promise<Delivery<Payload>[]> => {
    const out: Delivery<Payload>[] = [];
    for (;;) {
      const next = await stream.next(1);
      if (next === 'idle' || next === 'closed') return out;
      out.push(next);
    }
  };
  /** What a stream got, its start position left out. */
  const payloads = (ds: Delivery<Payload>[]) =>
    ds.filter((d) => d.kind !== 'start').map((d) => (d.kind === 'update' ? d.payload : 'RESYNC'));
  const lastId = (ds: Delivery<Payload>[]) => {
    const last = ds.at(-1);
    if (!last) throw new Error('nothing delivered');
    return last.updateId;
  };
  const hub = (opts: UpdateHubOptions = {}) => new UpdateHub<Payload>(opts);
  /** A stream opened from now, its start position already taken. */
  const openFromNow = async (h: UpdateHub<Payload>, userId: string) => {
    const stream = h.open(userId, undefined);
    expect(await stream.next(1)).toMatchObject({ kind: 'start' });
    return stream;
  };

  it('delivers an event to the open streams of its recipients only, once per duplicate id', async () => {
    const h = hub();
    const publish = log();
    const [a1, a2, b] = [h.open('a', undefined), h.open('a', undefined), h.open('b', undefined)];
    publish([h], 'chat.events', 0, 'x', ['a']);
    const dup = randomUUID();
    publish([h], 'chat.events', 1, 'y', ['a', 'b', 'a'], dup);
    publish([h], 'chat.events', 1, 'y again', ['a', 'b'], dup);
    h.publish({ topic: 'chat.events', partition: 1, offset: 0 }, event('redelivered offset', ['a']));
    const [toA1, toA2, toB] = [await drain(a1), await drain(a2), await drain(b)];
    expect(payloads(toA1)).toEqual(['x', 'y']);
    expect(payloads(toA2)).toEqual(['x', 'y']);
    expect(payloads(toB)).toEqual(['y']);
    // One delivery object per event for all its streams: a reader may encode it once for all.
    expect(toA2.at(-1)).toBe(toA1.at(-1));
    expect(toB.at(-1)).toBe(toA1.at(-1));
    expect(h.streamCount).toBe(3);
    a1.end();
    expect(h.streamCount).toBe(2);
  });

  it('resumes after an update id with exactly what was missed, in order, on this or another replica', async () => {
    const [one, two] = [hub(), hub()];
    const publish = log();
    publish([one, two], 's', 0, 'before', ['a']);
    // Both replicas have seen every partition in play (a cursor names the ones its hub has seen).
    publish([one, two], 'c', 2, 'unrelated', ['z']);
    const first = one.open('a', undefined);
    publish([one, two], 'c', 0, 'm1', ['a']);
    publish([one, two], 'c', 1, 'other chat', ['b']);
    publish([one, two], 'c', 0, 'm2', ['a']);
    const seen = await drain(first);
    expect(payloads(seen)).toEqual(['m1', 'm2']);
    first.end();
    publish([one, two], 'c', 0, 'm3', ['a']);
    publish([one, two], 'c', 2, 'n1', ['a', 'b']);
    publish([one, two], 's', 0, 'f1', ['a']);
    publish([one, two], 'c', 0, 'm4', ['a']);
    for (const h of [one, two]) {
      const resumed = h.open('a', lastId(seen));
      expect(payloads(await drain(resumed))).toEqual(['m3', 'n1', 'f1', 'm4']);
      resumed.end();
    }
    // A cursor taken mid-replay resumes mid-replay.
    const partial = await drain(two.open('a', lastId(seen)));
    const third = two.open('a', partial[1]?.updateId);
    expect(payloads(await drain(third))).toEqual(['f1', 'm4']);
    // Then live: nothing twice, nothing lost.
    publish([one, two], 'c', 0, 'm5', ['a']);
    expect(payloads(await drain(third))).toEqual(['m5']);
  });

  it('replays to each member of a large group exactly what was meant for them', async () => {
    const h = hub();
    const publish = log();
    const members = Array.from({ length: 1000 }, () => randomUUID());
    const [first, last] = [members[0] as string, members[999] as string];
    const start = await openFromNow(h, first);
    const from = lastId(await drain(h.open(last, undefined)));
    start.end();
    // Repeats and any order, as events may list them.
    publish([h], 'c', 0, 'to all', [...members].reverse().concat(members.slice(0, 10)));
    publish([h], 'c', 0, 'to the last two', members.slice(998));
    publish([h], 'c', 0, 'to the first', [first]);
    expect(payloads(await drain(h.open(last, from)))).toEqual(['to all', 'to the last two']);
    expect(payloads(await drain(h.open(first, from)))).toEqual(['to all', 'to the first']);
    expect(payloads(await drain(h.open(members[500] as string, from)))).toEqual(['to all']);
    expect(payloads(await drain(h.open('not a member', from)))).toEqual([]);
  });

  it('asks to resync when the window no longer holds the resume point', async () => {
    const h = hub({ windowPerPartition: 3 });
    const publish = log();
    const s = h.open('a', undefined);
    publish([h], 'c', 0, 'm1', ['a']);
    const cursor = lastId(await drain(s));
    s.end();
    for (let i = 2; i <= 4; i++) publish([h], 'c', 0, `m${i}`, ['a']);
    // m2..m4 are the three kept: still complete.
    expect(payloads(await drain(h.open('a', cursor)))).toEqual(['m2', 'm3', 'm4']);
    publish([h], 'c', 0, 'm5', ['a']);
    const late = h.open('a', cursor);
    const got = await drain(late);
    expect(payloads(got)).toEqual(['RESYNC']);
    // The resync carries "now": resuming from it misses nothing later.
    late.end();
    publish([h], 'c', 0, 'm6', ['a']);
    expect(payloads(await drain(h.open('a', lastId(got))))).toEqual(['m6']);
  });

  it('asks to resync when the missed updates would not fit in the stream’s queue', async () => {
    const h = hub({ queueLimit: 5 });
    const publish = log();
    const s = h.open('a', undefined);
    publish([h], 'c', 0, 'm0', ['a']);
    const cursor = lastId(await drain(s));
    s.end();
    for (let i = 1; i <= 4; i++) publish([h], 'c', 0, `m${i}`, ['a']);
    // Others' events do not count against a's queue.
    for (let i = 0; i < 10; i++) publish([h], 'c', 1, `other${i}`, ['b']);
    expect(payloads(await drain(h.open('a', cursor)))).toEqual(['m1', 'm2', 'm3', 'm4']);
    publish([h], 'c', 0, 'm5', ['a']);
    // Five missed: a replay would fill the queue and get the stream cut, again on every resume.
    const late = h.open('a', cursor);
    const got = await drain(late);
    expect(payloads(got)).toEqual(['RESYNC']);
    late.end();
    publish([h], 'c', 0, 'm6', ['a']);
    expect(payloads(await drain(h.open('a', lastId(got))))).toEqual(['m6']);
  });

  it('asks to resync, rather than guess, for a partition it cannot vouch for', async () => {
    const publish = log();
    const early = hub();
    publish([early], 'c', 0, 'm1', ['a']);
    const s = early.open('a', undefined);
    publish([early], 'c', 0, 'm2', ['a']);
    const cursor = lastId(await drain(s));
    publish([early], 'c', 0, 'm3', ['a']);
    // A replica that started later never saw offset 2 (m3), which came after the cursor.
    const late = hub();
    publish([early, late], 'c', 0, 'm4', ['a']);
    expect(payloads(await drain(late.open('a', cursor)))).toEqual(['RESYNC']);
    // One that saw everything after the cursor is fine however late it started.
    const later = hub();
    const cursorAtM4 = lastId(await drain(s));
    publish([early, late, later], 'c', 0, 'm5', ['a']);
    expect(payloads(await drain(later.open('a', cursorAtM4)))).toEqual(['m5']);
    // A partition the cursor does not name: only the issuing hub knows all of it came later.
    publish([early, late, later], 'c', 3, 'n1', ['a']);
    expect(payloads(await drain(early.open('a', cursor)))).toEqual(['m3', 'm4', 'm5', 'n1']);
    expect(payloads(await drain(late.open('a', lastId(await drain(late.open('a', cursor))))))).toEqual([]);
    expect(payloads(await drain(later.open('a', cursorAtM4)))).toEqual(['RESYNC']);
  });

  it('skips what a stream already had when it resumes on a replica that is behind', async () => {
    const [fast, slow] = [hub(), hub()];
    const publish = log();
    publish([fast, slow], 'c', 0, 'm0', ['a']);
    const s = fast.open('a', undefined);
    // The slow replica has not yet received m1 and m2.
    fast.publish({ topic: 'c', partition: 0, offset: 1 }, event('m1', ['a'], 'id1'));
    fast.publish({ topic: 'c', partition: 0, offset: 2 }, event('m2', ['a'], 'id2'));
    const cursor = lastId(await drain(s));
    const resumed = slow.open('a', cursor);
    expect(payloads(await drain(resumed))).toEqual([]);
    slow.publish({ topic: 'c', partition: 0, offset: 1 }, event('m1', ['a'], 'id1'));
    slow.publish({ topic: 'c', partition: 0, offset: 2 }, event('m2', ['a'], 'id2'));
    slow.publish({ topic: 'c', partition: 0, offset: 3 }, event('m3', ['a'], 'id3'));
    const got = await drain(resumed);
    expect(payloads(got)).toEqual(['m3']);
    // Its cursor is resumable on the fast replica too.
    fast.publish({ topic: 'c', partition: 0, offset: 3 }, event('m3', ['a'], 'id3'));
    fast.publish({ topic: 'c', partition: 0, offset: 4 }, event('m4', ['a'], 'id4'));
    expect(payloads(await drain(fast.open('a', lastId(got))))).toEqual(['m4']);
  });

  it('refuses a cursor it did not issue', () => {
    const h = hub();
    for (const bad of ['x', Buffer.from('{"h":1}').toString('base64url'), Buffer.from('[]').toString('base64url')]) {
      expect(() => h.open('a', bad)).toThrow(InvalidCursorError);
    }
    const negative = Buffer.from(JSON.stringify({ h: 'x', t: { c: [-5] } })).toString('base64url');
    expect(() => h.open('a', negative)).toThrow(InvalidCursorError);
  });

  it('cuts off a reader that falls too far behind, and ends every stream when closed', async () => {
    const h = hub({ queueLimit: 2 });
    const publish = log();
    const slow = h.open('a', undefined);
    for (let i = 0; i < 3; i++) publish([h], 'c', 0, `m${i}`, ['a']);
    await expect(slow.next(1)).rejects.toThrow(StreamOverflowError);
    expect(h.streamCount).toBe(0);

    const waiting = await openFromNow(h, 'b');
    const pending = waiting.next(10_000);
    h.close();
    await expect(pending).resolves.toBe('closed');
    expect(() => h.open('b', undefined)).toThrow(UpdateHubClosedError);
  });

  it('wakes a waiting reader at once, reports idle after the interval, and stops on abort', async () => {
    const h = hub();
    const publish = log();
    const s = await openFromNow(h, 'a');
    const started = Date.now();
    setTimeout(() => publish([h], 'c', 0, 'late', ['a']), 20);
    const next = await s.next(5000);
    expect(next !== 'idle' && next !== 'closed' && next.kind === 'update' && next.payload).toBe('late');
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(s.next(20)).resolves.toBe('idle');
    const abort = new AbortController();
    const waiting = s.next(5000, abort.signal);
    abort.abort();
    await expect(waiting).resolves.toBe('closed');
  });

  it('starts a stream opened from now with its position, which resumes like any update id', async () => {
    const [one, two] = [hub(), hub()];
    const publish = log();
    publish([one, two], 'c', 0, 'before', ['a']);
    const [start] = await drain(one.open('a', undefined));
    expect(start?.kind).toBe('start');
    // Logged after the stream opened, read by the replica only after the client left: replayed.
    publish([one, two], 'c', 0, 'missed', ['a']);
    expect(payloads(await drain(one.open('a', start?.updateId)))).toEqual(['missed']);
    expect(payloads(await drain(two.open('a', start?.updateId)))).toEqual(['missed']);
    // A replica that started after it cannot know what came in between: a resync, never silence.
    const later = hub();
    publish([one, two, later], 'c', 0, 'after', ['a']);
    expect(payloads(await drain(later.open('a', start?.updateId)))).toEqual(['RESYNC']);
    // Resuming is no fresh start.
    expect((await drain(one.open('a', start?.updateId))).map((d) => d.kind)).toEqual(['update', 'update']);
  });

  it('drops the oldest events by age as well as by count', async () => {
    let now = 0;
    const h = hub({ windowMaxAgeMs: 1000, now: () => now });
    const publish = log();
    const s = h.open('a', undefined);
    publish([h], 'c', 0, 'm1', ['a']);
    const cursor = lastId(await drain(s));
    publish([h], 'c', 0, 'm2', ['a']);
    now = 2000;
    publish([h], 'c', 0, 'm3', ['a']);
    expect(payloads(await drain(h.open('a', cursor)))).toEqual(['RESYNC']);
  });

  it('hands a signal to open streams of its recipients only, with no update id, and never replays it', async () => {
    const hub = new UpdateHub<Payload>();
    const publish = log();
    const ann = await openFromNow(hub, 'ann');
    const bob = await openFromNow(hub, 'bob');
    publish([hub], 'chat.events', 0, 'm1', ['ann']);
    const [stored] = await drain(ann);
    hub.signal(['ann'], new Date(0), 'typing');
    const live = await drain(ann);
    expect(live).toEqual([{ kind: 'update', updateId: '', time: new Date(0), payload: 'typing' }]);
    expect(await drain(bob)).toEqual([]);
    // Resuming from before the signal replays stored events only.
    const resumed = hub.open('ann', stored?.kind === 'update' ? stored.updateId : '');
    publish([hub], 'chat.events', 0, 'm2', ['ann']);
    expect(payloads(await drain(resumed))).toEqual(['m2']);
    hub.close();
  });
});
