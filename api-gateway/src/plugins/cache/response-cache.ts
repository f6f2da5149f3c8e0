import { createHash } from 'node:crypto';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { Access, CacheScope } from '@messenger/gen/messenger/options/v1/options';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import type { Route } from '../../routing/route-table.ts';
import type { CachedResponse, CacheMark, ResponseCacheStore } from './cache-store.ts';

/** What a fill produced: the JSON text to send, or the error to answer with. */
export type FillOutcome =
  | { readonly ok: true; readonly body: string }
  | { readonly ok: false; readonly error: unknown };

export interface ResponseCache {
  /** Whether the route's responses are cached at all (declared cacheable, and a GET). */
  covers(route: Route): boolean;
  /**
   * Answers a cacheable request: from the cache, or by running `fill` — once
   * for all concurrent misses of the same key in this process. A hit in a
   * store of this process is answered before this returns (no promise).
   */
  serve(
    route: Route,
    req: FastifyRequest,
    reply: FastifyReply,
    fill: () => Promise<FillOutcome>,
  ): FastifyReply | Promise<FastifyReply>;
  /**
   * For answering before routing: the route this canonical URL was last
   * filled for in this process (so the route Fastify's router chose for
   * it), when the store is in this process. A URL that is not canonical is
   * never found.
   */
  filledRoute(url: string): Route | undefined;
  /** That route's entry for this URL and user, read without waiting; undefined when there is none. */
  peek(route: Route, url: string, userId: string): PeekedHit | undefined;
  /** Event types that invalidate something, with their topics (`<service>.events`). */
  readonly topics: readonly string[];
  /** Applies one event: drops every entry of the methods listing its type, for the ids in its key. */
  onEvent(event: EventEnvelope): Promise<void>;
}

/** A hit found by `peek`: the cached response and its own headers. */
export interface PeekedHit {
  readonly entry: CachedResponse;
  /** `etag`, `cache-control`, `x-cache`, and `vary` when keyed by user, as name, value, name, value… */
  readonly headers: string[];
}

export interface ResponseCacheOptions {
  /** Reports its own failures (RedisCacheStore counts and logs them, and skips Redis for a while after one). */
  readonly store: ResponseCacheStore;
  readonly routes: readonly Route[];
  /** Called after each event that dropped entries (metrics). */
  readonly onInvalidated?: (eventType: string) => void;
  /** Canonical URLs remembered with the route that filled them, for `filledRoute`; default 10 000. */
  readonly urlsKept?: number;
}

export const JSON_TYPE = 'application/json; charset=utf-8';

/** A request the cache answers past its synchronous lookup (a remote store, or a miss). */
interface Lookup {
  readonly route: Route;
  readonly req: FastifyRequest;
  readonly reply: FastifyReply;
  readonly fill: () => Promise<FillOutcome>;
  readonly key: string;
  readonly privateScope: boolean;
}

/**
 * The response cache: only methods whose contract declares a cache
 * policy, only GET bindings. Keys are the route plus the request URL (path
 * and query as sent), plus the caller for PRIVATE scope; a hit costs no
 * decoding.
 *
 * Invalidation is by event: a method's `invalidated_by` lists event types;
 * an event's key names the entities it changed (one id, or several joined
 * by `:` as the subscriber service's pair ids are). Entries are tagged with
 * the entity they depend on — the caller for PRIVATE scope, the path
 * variables' values for PUBLIC scope (`GET /v1/users/{user_id}` → the user
 * id). Entries with neither (a PUBLIC search with no path variable) are kept
 * for their TTL only.
 */
export function createResponseCache(opts: ResponseCacheOptions): ResponseCache {
  const { store } = opts;
  // Only with a store in this process: a remote one has no hit to peek at.
  const filledUrls =
    store.peek === undefined ? undefined : new LRUCache<string, Route>({ max: opts.urlsKept ?? 10_000 });
  const inflight = new Map<string, Promise<{ entry: CachedResponse } | { error: unknown }>>();
  const methodsByEvent = new Map<string, Set<string>>();
  for (const route of opts.routes) {
    const policy = route.method.cache;
    if (!policy || route.httpMethod !== 'GET') continue;
    for (const type of policy.invalidatedBy) {
      let set = methodsByEvent.get(type);
      if (!set) {
        set = new Set();
        methodsByEvent.set(type, set);
      }
      set.add(route.method.path);
    }
  }
  const topics = [...new Set([...methodsByEvent.keys()].map((t) => `${t.slice(0, t.indexOf('.'))}.events`))];

  return {
    topics,
    covers: (route) => route.method.cache !== undefined && route.httpMethod === 'GET' && !route.serverStreaming,

    serve(route, req, reply, fill) {
      const policy = route.method.cache;
      if (!policy) return Promise.reject(new Error(`${route.method.path} is not cacheable`));
      const privateScope = policy.scope === CacheScope.CACHE_SCOPE_PRIVATE;
      const userId = req.caller?.userId;
      if (privateScope && userId === undefined) return serveUncached(reply, fill);
      // The URL as sent: a hit needs no decoding at all; a URL that does not
      // decode never succeeds, so never gets an entry.
      const key = keyOf(route, privateScope, userId, req.url);
      if (store.peek !== undefined) {
        const hit = store.peek(key);
        if (hit !== undefined) return respond(route, req, reply, hit, 'HIT', privateScope);
        return serveMiss({ route, req, reply, fill, key, privateScope });
      }
      return serveRemote({ route, req, reply, fill, key, privateScope });
    },

    filledRoute: (url) => filledUrls?.get(url),

    peek(route, url, userId) {
      const privateScope = route.method.cache?.scope === CacheScope.CACHE_SCOPE_PRIVATE;
      const entry = store.peek?.(keyOf(route, privateScope, userId, url));
      if (entry === undefined) return undefined;
      return { route, entry, headers: cacheHeaders(route, entry, 'HIT', privateScope) };
    },

    async onEvent(event) {
      const methods = methodsByEvent.get(event.type);
      if (!methods || event.key === '') return;
      const ids = event.key.split(':').filter((id) => id !== '');
      const tags: string[] = [];
      for (const method of methods) for (const id of ids) tags.push(`${method}|${id}`);
      // A failure here rejects, so the bus redelivers the event.
      await store.invalidate(tags);
      opts.onInvalidated?.(event.type);
    },
  };

  /** A private response with nobody to key it by is never cached. */
  async function serveUncached(reply: FastifyReply, fill: () => Promise<FillOutcome>): Promise<FastifyReply> {
    const outcome = await fill();
    if (!outcome.ok) throw outcome.error;
    return reply.header('content-type', JSON_TYPE).header('cache-control', 'no-store').send(outcome.body);
  }

  /** A store in another process: looked up first; a store that fails is a miss (served, uncached). */
  async function serveRemote(lookup: Lookup): Promise<FastifyReply> {
    const { route, req, reply, key, privateScope } = lookup;
    const hit = await store.get(key).catch(() => undefined);
    if (hit !== undefined) return respond(route, req, reply, hit, 'HIT', privateScope);
    return serveMiss(lookup);
  }

  async function serveMiss({ route, req, reply, fill, key, privateScope }: Lookup): Promise<FastifyReply> {
    const userId = req.caller?.userId;
    const ttlMs = (route.method.cache?.ttlSeconds ?? 0) * 1000;
    let flight = inflight.get(key);
    if (flight === undefined) {
      const tags = privateScope
        ? [`${route.method.path}|${userId}`]
        : route.pathBindings.map((b) => `${route.method.path}|${b.valueOf(req.params as Record<string, string>)}`);
      flight = runFill(key, ttlMs, tags, fill);
      inflight.set(key, flight);
      filledUrls?.set(req.url, route);
      void flight.finally(() => inflight.delete(key));
    }
    const result = await flight;
    if ('error' in result) throw result.error;
    return respond(route, req, reply, result.entry, 'MISS', privateScope);
  }

  async function runFill(
    key: string,
    ttlMs: number,
    tags: readonly string[],
    fill: () => Promise<FillOutcome>,
  ): Promise<{ entry: CachedResponse } | { error: unknown }> {
    // Without a mark (the store failed) the fill is served but not stored.
    const mark: CacheMark | undefined = await store.mark(tags).catch(() => undefined);
    const outcome = await fill();
    if (!outcome.ok) return { error: outcome.error };
    const entry: CachedResponse = { body: outcome.body, etag: etagOf(outcome.body), storedAt: Date.now() };
    if (mark !== undefined) await store.set(key, entry, ttlMs, tags, mark).catch(() => undefined);
    return { entry };
  }
}

/** The route plus the URL as sent (canonical ids), plus the caller for private scope. */
function keyOf(route: Route, privateScope: boolean, userId: string | undefined, url: string): string {
  return `${route.operationId}|${privateScope ? `u:${userId}` : 'p'}|${url}`;
}

/** A cached response's own headers, as name, value, name, value… */
function cacheHeaders(route: Route, entry: CachedResponse, state: 'HIT' | 'MISS', privateScope: boolean): string[] {
  const ttl = route.method.cache?.ttlSeconds ?? 0;
  const age = Math.max(0, Math.floor((Date.now() - entry.storedAt) / 1000));
  const maxAge = Math.max(0, ttl - age);
  // Shared caches may keep only what anonymous callers could read anyway.
  const shared = !privateScope && route.method.access === Access.ACCESS_PUBLIC;
  const headers = [
    'etag',
    entry.etag,
    'cache-control',
    `${shared ? 'public' : 'private'}, max-age=${maxAge}`,
    'x-cache',
    state,
  ];
  if (privateScope) headers.push('vary', 'authorization');
  return headers;
}

function respond(
  route: Route,
  req: FastifyRequest,
  reply: FastifyReply,
  entry: CachedResponse,
  state: 'HIT' | 'MISS',
  privateScope: boolean,
): FastifyReply {
  const headers = cacheHeaders(route, entry, state, privateScope);
  for (let i = 0; i < headers.length; i += 2) reply.header(headers[i] as string, headers[i + 1]);
  if (matchesEtag(req.headers['if-none-match'], entry.etag)) return reply.code(304).send();
  return reply.header('content-type', JSON_TYPE).send(entry.body);
}

export function etagOf(body: string): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`;
}

/** `If-None-Match`: a list of tags or `*`, compared weakly (`W/"x"` matches `"x"`). */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  for (const raw of header.split(',')) {
    const tag = raw.trim();
    if (tag === etag || (tag.startsWith('W/') && tag.slice(2) === etag)) return true;
  }
  return false;
}
