import { canonicalId } from '@messenger/platform/domain';

/**
 * A UUID that stands alone in the URL (a whole path segment, a query value,
 * or a part of a `:`- or `,`-joined one) and has an upper-case letter.
 */
const NON_CANONICAL_UUID =
  /(?<![0-9A-Za-z_.~-])(?=[0-9a-f-]*[A-F])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![0-9A-Za-z_.~-])/g;

/**
 * The URL with every UUID in its canonical (lowercase) form. Services store
 * and name ids so, and events carry them so: the cache's keys and tags, the
 * rate limiter and the upstream call must see the same spelling, or an
 * upper-case URL would be served an entry its entity's events never drop.
 */
export function canonicalUrl(url: string): string {
  return url.replace(NON_CANONICAL_UUID, canonicalId);
}
