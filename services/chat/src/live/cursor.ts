// Cursors into the event log: what an update id carries. For every
// partition (`topic#n`), the offset up to which a stream has had everything
// meant for it, and the hub that issued it.

/** Offsets by partition key (`partitionKey`). */
export type Cursor = Map<string, number>;

/** `resume_after` is not a cursor any hub issued. */
export class InvalidCursorError extends Error {
  constructor() {
    super('not an update id');
    this.name = 'InvalidCursorError';
  }
}

/** The most partitions of one topic a cursor may name. */
const MAX_PARTITIONS = 10_000;

export function partitionKey(topic: string, partition: number): string {
  return `${topic}#${partition}`;
}

/** Raises each offset of `cursor` to `floor`'s where that is further on, adding the partitions only `floor` names. */
export function raiseTo(cursor: Cursor, floor: Cursor): void {
  for (const [key, offset] of floor) cursor.set(key, Math.max(offset, cursor.get(key) ?? offset));
}

/** base64url of `{"h": hub id, "t": {topic: [offset or null, by partition]}}`. */
export function encodeCursor(hub: string, cursor: Cursor): string {
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
  return Buffer.from(JSON.stringify({ h: hub, t: topics })).toString('base64url');
}

/** The hub and offsets of an update id; InvalidCursorError when it is not one. */
export function decodeCursor(token: string): { hub: string; cursor: Cursor } {
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
    if (!Array.isArray(offsets) || offsets.length > MAX_PARTITIONS) throw new InvalidCursorError();
    offsets.forEach((offset: unknown, partition) => {
      if (offset === null) return;
      if (!Number.isSafeInteger(offset) || (offset as number) < -1) throw new InvalidCursorError();
      cursor.set(partitionKey(topic, partition), offset as number);
    });
  }
  return { hub: h, cursor };
}
