// Checks of the gateway's options, run when a plugin registers: a bad value
// stops start-up with the option named, rather than failing a request later.

/** `value`, or `fallback` when absent; refused unless a whole number of at least 1. */
export function positiveInt(name: string, value: number | undefined, fallback?: number): number {
  const v = value ?? fallback;
  if (v === undefined || !Number.isSafeInteger(v) || v <= 0)
    throw new TypeError(`gateway: ${name} must be a positive integer`);
  return v;
}

/** The same, where 0 is allowed (it turns something off, or means "at once"). */
export function nonNegativeInt(name: string, value: number | undefined, fallback?: number): number {
  const v = value ?? fallback;
  if (v === undefined || !Number.isSafeInteger(v) || v < 0)
    throw new TypeError(`gateway: ${name} must be a non-negative integer`);
  return v;
}
