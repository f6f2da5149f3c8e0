import {
  type activeTracer,
  context,
  endRpcSpan,
  injectContext,
  rpcSpanStart,
  SpanKind,
  trace,
} from '@messenger/platform/tracing';
import type { Upstream, UpstreamCall } from './upstream.ts';

type Tracer = NonNullable<ReturnType<typeof activeTracer>>;

/**
 * An upstream whose every call (either transport, unary or stream) is a
 * client span, child of the active span (the HTTP request's), with its
 * `traceparent` in the call's metadata so the service's span is its child.
 * Used only while tracing is on.
 */
export function tracedUpstream(inner: Upstream, tracer: Tracer): Upstream {
  const start = (call: UpstreamCall) => {
    const { name, attributes } = rpcSpanStart(call.path);
    const parent = context.active();
    const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
    const metadata: Record<string, string> = { ...call.metadata };
    injectContext(trace.setSpan(parent, span), metadata);
    return { span, call: { ...call, metadata } };
  };
  return {
    unary(call) {
      const traced = start(call);
      const pending = inner.unary(traced.call);
      void pending.result.then((response) => endRpcSpan(traced.span, response.status.code, SpanKind.CLIENT));
      return pending;
    },
    serverStream(call, observer) {
      const traced = start(call);
      return inner.serverStream(traced.call, {
        onHeaders: observer.onHeaders?.bind(observer),
        onMessage: (message) => observer.onMessage(message),
        onEnd: (status) => {
          endRpcSpan(traced.span, status.code, SpanKind.CLIENT);
          observer.onEnd(status);
        },
      });
    },
    health: (service, timeoutMs) => inner.health(service, timeoutMs),
    close: () => inner.close(),
  };
}
