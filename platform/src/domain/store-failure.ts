/**
 * A failure from a store's closed set of kinds (`duplicate`, `conflict`, …).
 * Adapters translate their driver's errors into these, so domain code
 * handles one vocabulary whatever the database. Each store names its own set:
 * `class StoreError extends StoreFailure<'duplicate' | 'conflict'> {}`, so
 * a kind outside the set does not compile.
 */
export class StoreFailure<K extends string> extends Error {
  readonly kind: K;
  constructor(kind: K, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StoreError';
    this.kind = kind;
  }
}
