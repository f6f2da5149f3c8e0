// Distributed tracing (OpenTelemetry), the part the request paths use: only
// `@opentelemetry/api`, no SDK (that is `./sdk.ts`, loaded by the processes
// that start tracing). Tracing is off unless a process starts it; while off,
// `activeTracer()` is undefined and nothing in the request paths creates
// spans, reads or writes `traceparent`, or wraps a call: the cost is one
// check made when a server, client or bus is built.
import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
  trace,
} from '@opentelemetry/api';

export { type Attributes, context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace };

/** Values of OTEL_TRACES_EXPORTER and OTEL_TRACES_SAMPLER (the subset of the standard ones served). */
export const TRACES_EXPORTERS = ['none', 'otlp'] as const;
export const TRACES_SAMPLERS = [
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
  'always_on',
  'always_off',
  'traceidratio',
] as const;

let tracer: Tracer | undefined;

/** The tracer while tracing is on; undefined while off (the default). */
export function activeTracer(): Tracer | undefined {
  return tracer;
}

/** @internal sdk.ts's switch. */
export function setActiveTracer(value: Tracer | undefined): void {
  tracer = value;
}

type Carrier = Record<string, unknown>;
const getter: TextMapGetter<Carrier> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    if (typeof value === 'string') return value;
    if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
    if (Buffer.isBuffer(value)) return value.toString('latin1');
    return undefined;
  },
};
const setter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/**
 * The remote parent carried by `traceparent`/`tracestate` in HTTP headers,
 * gRPC metadata or Kafka headers (lower-case keys). An absent or malformed
 * header gives the root context: a new trace starts.
 */
export function extractParent(carrier: Carrier): Context {
  return propagation.extract(ROOT_CONTEXT, carrier, getter);
}

/** Writes `traceparent` (and `tracestate`) of `ctx` into `carrier`. */
export function injectContext(ctx: Context, carrier: Record<string, string>): void {
  propagation.inject(ctx, carrier, setter);
}

/** Runs `fn` with `span` as the active span, so what it starts is the span's child. */
export function withSpan<T>(parent: Context, span: Span, fn: () => T): T {
  return context.with(trace.setSpan(parent, span), fn);
}

/** `rpc.*` attributes and the span name of a gRPC method path `/pkg.Service/Method`. */
export function rpcSpanStart(path: string): { name: string; attributes: Attributes } {
  const slash = path.lastIndexOf('/');
  return {
    name: path.slice(1),
    attributes: { 'rpc.system': 'grpc', 'rpc.service': path.slice(1, slash), 'rpc.method': path.slice(slash + 1) },
  };
}

/**
 * Ends a gRPC span with its status code. A server span is an error only for
 * the codes that mean the server failed (OpenTelemetry's gRPC conventions);
 * a client span for every code but OK.
 */
export function endRpcSpan(span: Span, code: number, kind: SpanKind): void {
  span.setAttribute('rpc.grpc.status_code', code);
  if (code !== 0 && (kind !== SpanKind.SERVER || SERVER_ERROR_CODES.has(code))) {
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

/** UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS. */
const SERVER_ERROR_CODES: ReadonlySet<number> = new Set([2, 4, 12, 13, 14, 15]);

/** `trace_id`/`span_id` of the active span, for log lines; undefined while tracing is off or outside a span. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  if (tracer === undefined) return undefined;
  const span = trace.getActiveSpan();
  if (span === undefined) return undefined;
  const { traceId, spanId, traceFlags } = span.spanContext();
  // An unsampled span is not exported: its ids would point nowhere.
  return (traceFlags & 1) === 1 ? { trace_id: traceId, span_id: spanId } : undefined;
}

/** The W3C trace context an event carries (envelope fields of these names). */
export interface TraceContextFields {
  readonly traceparent: string;
  readonly tracestate: string;
}

const NO_TRACE_CONTEXT: TraceContextFields = { traceparent: '', tracestate: '' };

/** The active span's trace context, or empty fields while tracing is off or outside a span. */
export function activeTraceContext(): TraceContextFields {
  if (tracer === undefined) return NO_TRACE_CONTEXT;
  const carrier: Record<string, string> = {};
  injectContext(context.active(), carrier);
  return { traceparent: carrier.traceparent ?? '', tracestate: carrier.tracestate ?? '' };
}
