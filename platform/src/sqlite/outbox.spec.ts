import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createEnvelope, packPayload } from '../events/envelope.ts';
import { InProcessEventBus } from '../events/in-process-event-bus.ts';
import { type OutboxEntry, startOutboxRelay } from '../events/outbox-relay.ts';
import { SqliteDatabase } from './database.ts';
import { outboxSchema, SqliteOutbox } from './outbox.ts';

const log = pino({ level: 'silent' });
const things = { name: 'things', migrations: ['CREATE TABLE things (n INTEGER NOT NULL) STRICT'] };

function entry(n: number): OutboxEntry {
  return {
    topic: 'things',
    envelope: createEnvelope({
      type: 'test.thing.changed',
      source: 'test',
      key: 'thing',
      payload: packPayload('test.Thing', Buffer.from([n])),
    }),
  };
}

let dir: string;
let file: string;
let db: SqliteDatabase;
let outbox: SqliteOutbox;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sqlite-outbox-'));
  file = join(dir, 'store.db');
  db = SqliteDatabase.open(file, [outboxSchema, things]);
  outbox = new SqliteOutbox(db);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A change and its entries in one transaction, as a store writes them. */
function write(n: number, entries: readonly OutboxEntry[], fail = false): void {
  db.transaction(() => {
    db.prepare('INSERT INTO things (n) VALUES (?)').run(n);
    outbox.append(entries);
    if (fail) throw new Error('rolled back');
  });
}

const payloads = async () => (await outbox.pendingEvents(100)).map((e) => e.envelope.payload?.value[0]);

describe('SqliteOutbox', () => {
  it('keeps entries in commit order, whole envelopes, until they are marked published', async () => {
    const [a, b, c] = [entry(1), entry(2), entry(3)];
    write(1, [a, b]);
    write(2, [c]);
    const pending = await outbox.pendingEvents(100);
    expect(pending).toEqual([a, b, c]);
    await expect(outbox.pendingEvents(2)).resolves.toEqual([a, b]);
    await outbox.markPublished([a.envelope.id, c.envelope.id]);
    await expect(outbox.pendingEvents(100)).resolves.toEqual([b]);
    await outbox.markPublished([]);
    expect(await payloads()).toEqual([2]);
  });

  it('writes entries only with a change that commits, and wakes listeners only then', async () => {
    let wakes = 0;
    const stop = outbox.onCommit(() => {
      wakes++;
    });
    write(1, [entry(1), entry(2)]);
    expect(wakes).toBe(1);
    expect(() => write(2, [entry(3)], true)).toThrow('rolled back');
    write(3, []);
    expect(wakes).toBe(1);
    expect(await payloads()).toEqual([1, 2]);
    stop();
    write(4, [entry(4)]);
    expect(wakes).toBe(1);
    expect(() => outbox.append([entry(5)])).toThrow(/needs a transaction/);
  });

  it('keeps unpublished entries across a reopen, numbering new ones after them', async () => {
    write(1, [entry(1), entry(2)]);
    const [first] = await outbox.pendingEvents(1);
    await outbox.markPublished([first?.envelope.id ?? '']);
    db.close();
    db = SqliteDatabase.open(file, [outboxSchema, things]);
    outbox = new SqliteOutbox(db);
    write(2, [entry(3)]);
    expect(await payloads()).toEqual([2, 3]);
  });

  it('feeds the relay: a commit is published at once and the entries leave the outbox', async () => {
    const bus = new InProcessEventBus({ log });
    const seen: number[] = [];
    let all: () => void = () => {};
    const published = new Promise<void>((resolve) => {
      all = resolve;
    });
    await bus.subscribe({
      topics: ['things'],
      group: 'g',
      delivery: 'shared',
      handle: async (e) => {
        seen.push(e.payload?.value[0] ?? -1);
        if (seen.length === 3) all();
      },
    });
    // A poll interval far beyond the test's timeout: only the commit signal can get them out.
    const relay = startOutboxRelay({ source: outbox, bus, log, pollIntervalMs: 3_600_000 });
    try {
      write(1, [entry(1), entry(2)]);
      write(2, [entry(3)]);
      await published;
      expect(seen).toEqual([1, 2, 3]);
    } finally {
      await relay.stop();
      await bus.close();
    }
    await expect(outbox.pendingEvents(100)).resolves.toEqual([]);
  });
});
