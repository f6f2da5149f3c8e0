import {
  activeTracer,
  context,
  extractParent,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@messenger/platform/tracing';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const TRACE = Symbol('trace');
type Context = ReturnType<typeof context.active>;
type Traced = FastifyRequest & { [TRACE]?: { span: Span; active: Context } };

/**
 * A server span per HTTP request while tracing is on: named by the method
 * and the route's contract template (`GET /v1/users/{user_id}`), a child of
 * the client's `traceparent` when it sends a valid one (otherwise the root of
 * a new trace: a malformed header is ignored, never refused). The request's
 * work runs with the span active, so each upstream call is its child. Only
 * the method, route template and status are recorded: no path values, query,
 * headers or body.
 */
export function traceRequests(app: FastifyInstance): void {
  const tracer = activeTracer();
  if (tracer === undefined) return;
  app.addHook('onRequest', (req: Traced, _reply, done) => {
    const parent = extractParent(req.headers);
    const config = req.routeOptions.config as { template?: string } | undefined;
    const route = config?.template ?? req.routeOptions.url;
    const span = tracer.startSpan(
      route === undefined ? req.method : `${req.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': req.method, ...(route === undefined ? {} : { 'http.route': route }) },
      },
      parent,
    );
    const active = trace.setSpan(parent, span);
    req[TRACE] = { span, active };
    context.with(active, done);
  });
  // A body is read in the socket's events, outside the request's context:
  // the handler is entered in it again.
  app.addHook('preHandler', (req: Traced, _reply, done) => {
    const traced = req[TRACE];
    if (traced === undefined) done();
    else context.with(traced.active, done);
  });
  app.addHook('onResponse', (req: Traced, reply, done) => {
    end(req, reply.statusCode);
    done();
  });
  app.addHook('onRequestAbort', (req: Traced, done) => {
    end(req, undefined);
    done();
  });
}

function end(req: Traced, status: number | undefined): void {
  const traced = req[TRACE];
  if (traced === undefined) return;
  req[TRACE] = undefined;
  if (status !== undefined) {
    traced.span.setAttribute('http.response.status_code', status);
    // Server spans are errors for 5xx only: a 4xx is the client's doing.
    if (status >= 500) traced.span.setStatus({ code: SpanStatusCode.ERROR });
  }
  traced.span.end();
}
