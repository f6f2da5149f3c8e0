import { isDeepStrictEqual } from 'node:util';
import { type Collection, type Document, type IndexDirection, MongoServerError } from 'mongodb';

/**
 * One index a store wants, as it should exist: its name, its key in order,
 * and the options that change what it holds or enforces. The definition in
 * the code is the index's version: change the key or an option and the next
 * start-up replaces the index of that name.
 */
export interface IndexDefinition {
  readonly name: string;
  readonly key: Readonly<Record<string, IndexDirection>>;
  readonly unique?: boolean;
  readonly partialFilterExpression?: Document;
  readonly expireAfterSeconds?: number;
}

/** What start-up does to bring a collection's indexes to its definitions. */
export type IndexAction =
  | { readonly kind: 'create'; readonly index: IndexDefinition }
  | { readonly kind: 'replace'; readonly index: IndexDefinition }
  | { readonly kind: 'unknown'; readonly name: string };

/** The `_id` index every collection has; no store defines it and it cannot be dropped. */
const ID_INDEX = '_id_';

/** The parts of a definition that decide whether an existing index is the one wanted. */
function shapeOf(index: Document): Document {
  return {
    // Key order is part of the index, so the entries are compared as a list.
    key: Object.entries(index.key ?? {}),
    unique: index.unique === true,
    partialFilterExpression: index.partialFilterExpression,
    expireAfterSeconds: index.expireAfterSeconds,
  };
}

/**
 * The actions that turn `current` (a collection's `listIndexes()` output)
 * into `wanted`: create what is missing, replace what differs in key or
 * options (MongoDB cannot change them in place, and creating a changed
 * index under a taken name fails with IndexOptionsConflict), and report
 * what no definition names. Unknown indexes are never dropped: an operator
 * may have added one, or a newer release still running beside this one
 * during a rolling upgrade may use it.
 */
export function planIndexes(current: readonly Document[], wanted: readonly IndexDefinition[]): IndexAction[] {
  const existing = new Map(current.map((index) => [String(index.name), index]));
  const actions: IndexAction[] = [];
  for (const index of wanted) {
    const found = existing.get(index.name);
    if (!found) actions.push({ kind: 'create', index });
    else if (!isDeepStrictEqual(shapeOf(found), shapeOf(index))) actions.push({ kind: 'replace', index });
  }
  const names = new Set(wanted.map((index) => index.name));
  for (const name of existing.keys()) {
    if (name !== ID_INDEX && !names.has(name)) actions.push({ kind: 'unknown', name });
  }
  return actions;
}

/** The server's code for a collection that does not exist (yet). */
const NAMESPACE_NOT_FOUND = 26;

/** `listIndexes()` output; a collection that does not exist yet has none, where the server answers with an error. */
async function currentIndexes<T extends Document>(collection: Collection<T>): Promise<Document[]> {
  try {
    return await collection.listIndexes().toArray();
  } catch (error) {
    if (error instanceof MongoServerError && error.code === NAMESPACE_NOT_FOUND) return [];
    throw error;
  }
}

/**
 * Brings `collection`'s indexes to `wanted` at start-up and resolves with
 * what it did. A replaced index is dropped before it is built again under
 * its name, so until the build finishes its queries scan and, for a unique
 * index, its uniqueness is not enforced: replace indexes in a quiet window
 * (docs/OPERATIONS.md). Unknown indexes are reported as a process warning.
 */
export async function reconcileIndexes<T extends Document>(
  collection: Collection<T>,
  wanted: readonly IndexDefinition[],
): Promise<IndexAction[]> {
  const current = await currentIndexes(collection);
  const actions = planIndexes(current, wanted);
  for (const action of actions) {
    if (action.kind === 'unknown') {
      process.emitWarning(
        `MongoDB collection ${collection.collectionName} has index ${action.name}, which this release does not define; it is kept`,
        'MongoIndexWarning',
      );
      continue;
    }
    if (action.kind === 'replace') await collection.dropIndex(action.index.name);
    const { key, ...options } = action.index;
    await collection.createIndex({ ...key }, options);
  }
  return actions;
}
