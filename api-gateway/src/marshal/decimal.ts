/**
 * An integer's decimal digits, for values that may be new on every request
 * (a message's sequence, a timestamp's nanoseconds, the remaining budget).
 *
 * toFixed, not String() or a template literal: those keep each number's text
 * in V8's number-to-string cache, which lives in the old generation, so the
 * text of a new number outlives two scavenges and is promoted, one string
 * per value per request. Recurring values lose nothing by it worth
 * measuring (docs/PERFORMANCE.md, Promoted with the stream table).
 */
export function decimal(integer: number): string {
  return integer.toFixed(0);
}
