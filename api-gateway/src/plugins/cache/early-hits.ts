import { performance } from 'node:perf_hooks';
import { Access, type RateLimitClass } from '@messenger/gen/messenger/options/v1/options';
import type { UserCaller } from '@messenger/platform/auth';
import { acceptRequestId, type Logger, REQUEST_ID_KEY } from '@messenger/platform/logger';
import type { BoundHistogram, HistogramSeries } from '@messenger/platform/metrics';
import { type Drain, type EarlyResponder, logRequestDone, RELEASE_HEADER } from '../../instance.ts';
import type { Route } from '../../routing/route-table.ts';
import { JSON_TYPE, type ResponseCache } from './response-cache.ts';

export interface EarlyHitsOptions {
  readonly cache: ResponseCache;
  /** The auth plugin's `admittedNow`. */
  readonly admittedNow: (header: string, access: Access) => UserCaller | undefined;
  /** The rate-limit plugin's `countSignedInNow`. */
  readonly countSignedInNow: (cls: RateLimitClass, userId: string) => string[] | undefined;
  /** The instance's duration metric. */
  readonly requestDuration: BoundHistogram<'method' | 'route' | 'status'>;
  readonly log: Logger;
  readonly release?: string;
  readonly drain: Drain;
}

/**
 * Cache hits answered before Fastify routes the request. Through Fastify a
 * hit took 2.3× a bare Fastify route's instructions, a third to a half of
 * what it paid over bare being Fastify's request, reply, hook and header
 * plumbing around five small steps; here those steps run straight on
 * node:http's request.
 *
 * It answers only what it can answer as the full path would, without
 * waiting: a GET with no body and no `If-None-Match`, of a canonical URL
 * this process has filled for a non-public RPC, with a remembered token
 * that route admits, an entry in this process's store, and a count within
 * the caller's rate-limit budget in this process's counters. Anything else
 * — a refusal, a 304, a miss, Redis in play, a token to verify — it leaves
 * to Fastify having written and counted nothing. The response is the full
 * path's hit: the same status, body and headers, the same duration metric
 * and debug line.
 */
export function earlyHits(opts: EarlyHitsOptions): EarlyResponder {
  const { cache, admittedNow, countSignedInNow, drain, log } = opts;
  const release = opts.release || undefined;
  const durations = new Map<Route, HistogramSeries>();
  const durationOf = (route: Route): HistogramSeries => {
    let series = durations.get(route);
    if (series === undefined) {
      series = opts.requestDuration.series({ method: 'GET', route: route.template.source, status: '200' });
      durations.set(route, series);
    }
    return series;
  };

  return (req, res) => {
    if (req.method !== 'GET') return false;
    // The few headers it needs, read from the parser's list: building
    // node's headers object (every name lower-cased and stored) would cost
    // more than the rest of the answer. Fastify builds it if it gets the request.
    let authorization: string | undefined;
    let requestId: string | undefined;
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      switch (name.length) {
        case 13: // authorization, if-none-match
          if (!equalsLower(name, 'authorization')) {
            if (equalsLower(name, 'if-none-match')) return false;
          } else if (authorization === undefined) authorization = raw[i + 1];
          else return false;
          break;
        case 12: // x-request-id
          if (!equalsLower(name, REQUEST_ID_KEY)) break;
          if (requestId !== undefined) return false;
          requestId = raw[i + 1];
          break;
        case 14: // content-length: a body goes the full way
        case 17: // transfer-encoding
          if (equalsLower(name, 'content-length') || equalsLower(name, 'transfer-encoding')) return false;
          break;
      }
    }
    if (authorization === undefined) return false;
    const started = performance.now();
    // Only canonical URLs are ever filled, so one that is not is never found here.
    const url = req.url as string;
    const route = cache.filledRoute(url);
    // A public route counts its budget by client IP, not by user: Fastify's.
    if (route === undefined || route.method.access === Access.ACCESS_PUBLIC) return false;
    const caller = admittedNow(authorization, route.method.access);
    if (caller === undefined) return false;
    const hit = cache.peek(route, url, caller.userId);
    if (hit === undefined) return false;
    const limits = countSignedInNow(route.method.rateLimit, caller.userId);
    if (limits === undefined) return false;

    const id = acceptRequestId(requestId);
    const out = [REQUEST_ID_KEY, id];
    if (release !== undefined) out.push(RELEASE_HEADER, release);
    for (const value of limits) out.push(value);
    for (const value of hit.headers) out.push(value);
    const body = hit.entry.body;
    out.push('content-type', JSON_TYPE, 'content-length', String(Buffer.byteLength(body)));
    if (drain.draining) out.push('connection', 'close');
    res.writeHead(200, out);
    res.end(body);
    const ms = performance.now() - started;
    durationOf(route).observe(ms / 1000);
    logRequestDone(log, id, 'GET', route.template.source, 200, ms);
    return true;
  };
}

/** Whether a header name, in whatever case the client sent it, is `lower`. */
function equalsLower(name: string, lower: string): boolean {
  return name === lower || name.toLowerCase() === lower;
}
