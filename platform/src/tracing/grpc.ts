// gRPC spans for the platform's grpc-js servers and client pool.
import { InterceptingCall, type Interceptor, type Metadata } from '@grpc/grpc-js';
import {
  activeTracer,
  context,
  endRpcSpan,
  extractParent,
  injectContext,
  rpcSpanStart,
  SpanKind,
  trace,
} from './index.ts';

/** A server span, the parent of everything its handler does. */
export interface ServerCallSpan {
  run<T>(fn: () => Promise<T>): Promise<T>;
  end(code: number): void;
}

/**
 * The server span of one call, a child of the caller's span when its
 * metadata carries `traceparent`; undefined while tracing is off.
 */
export function startServerSpan(path: string, metadata: Metadata): ServerCallSpan | undefined {
  const tracer = activeTracer();
  if (tracer === undefined) return undefined;
  const parent = extractParent(metadata.getMap());
  const { name, attributes } = rpcSpanStart(path);
  const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  const active = trace.setSpan(parent, span);
  return {
    run: (fn) => context.with(active, fn),
    end: (code) => endRpcSpan(span, code, SpanKind.SERVER),
  };
}

/**
 * The client pool's interceptors while tracing is on: a client span per
 * call, child of the active span, its `traceparent` sent in the metadata.
 * None while off, so a call then passes through no extra layer.
 */
export function tracingInterceptors(): Interceptor[] {
  return activeTracer() === undefined ? [] : [clientSpanInterceptor];
}

const clientSpanInterceptor: Interceptor = (options, nextCall) => {
  const tracer = activeTracer();
  if (tracer === undefined) return new InterceptingCall(nextCall(options));
  const { name, attributes } = rpcSpanStart(options.method_definition.path);
  const parent = context.active();
  const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
  return new InterceptingCall(nextCall(options), {
    start(metadata, _listener, next) {
      const carrier: Record<string, string> = {};
      injectContext(trace.setSpan(parent, span), carrier);
      for (const key in carrier) metadata.set(key, carrier[key] as string);
      next(metadata, {
        onReceiveStatus(status, nextStatus) {
          endRpcSpan(span, status.code, SpanKind.CLIENT);
          nextStatus(status);
        },
      });
    },
  });
};
