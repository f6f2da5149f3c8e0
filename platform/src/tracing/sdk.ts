// Starting tracing in a process: the OpenTelemetry SDK, sampler and OTLP/HTTP
// exporter. Only process start-up (and tests) import this.
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  SimpleSpanProcessor,
  type SpanExporter,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { ConfigOf, commonSettings } from '../config.ts';
import { activeTracer, setActiveTracer, type TRACES_EXPORTERS, type TRACES_SAMPLERS } from './index.ts';

export interface TracingOptions {
  /** `service.name` of every span (OTEL_SERVICE_NAME, else the process's own name). */
  readonly serviceName: string;
  /** `none`: tracing stays off; `otlp`: spans are sent to `endpoint`. */
  readonly exporter: (typeof TRACES_EXPORTERS)[number];
  /** The collector's OTLP/HTTP base URL; spans go to `<endpoint>/v1/traces`. */
  readonly endpoint: string;
  readonly sampler: (typeof TRACES_SAMPLERS)[number];
  /** The ratio of the `*traceidratio` samplers, 0 to 1. */
  readonly samplerRatio: number;
  /** Replaces the OTLP exporter, every span handed over as it ends (tests: `InMemorySpanExporter`). */
  readonly spanExporter?: SpanExporter;
}

export interface Tracing {
  /** Sends the spans still queued, then turns tracing off. */
  shutdown(): Promise<void>;
}

/**
 * Turns tracing on for this process (once; a second start is refused): the
 * W3C trace-context propagator, an AsyncLocalStorage context so a span
 * opened for a request is the parent of what that request does, the sampler,
 * and the exporter. Returns undefined when the settings leave tracing off.
 */
export function startTracing(opts: TracingOptions): Tracing | undefined {
  if (opts.spanExporter === undefined && opts.exporter === 'none') return undefined;
  if (activeTracer() !== undefined) throw new Error('tracing is already started in this process');
  const processor =
    opts.spanExporter !== undefined
      ? new SimpleSpanProcessor({ exporter: opts.spanExporter })
      : new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: tracesUrl(opts.endpoint) }) });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': opts.serviceName }),
    sampler: samplerOf(opts.sampler, opts.samplerRatio),
    spanProcessors: [processor],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  setActiveTracer(provider.getTracer('messenger'));
  return {
    async shutdown() {
      setActiveTracer(undefined);
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** The tracing options from a process's settings (`commonSettings`); `serviceName` names the process. */
export function tracingOptionsOf(
  config: Pick<
    ConfigOf<typeof commonSettings>,
    'tracesExporter' | 'otlpEndpoint' | 'otelServiceName' | 'tracesSampler' | 'tracesSamplerArg'
  >,
  serviceName: string,
): TracingOptions {
  return {
    serviceName: config.otelServiceName || serviceName,
    exporter: config.tracesExporter,
    endpoint: config.otlpEndpoint,
    sampler: config.tracesSampler,
    samplerRatio: config.tracesSamplerArg,
  };
}

/** The signal path of an OTLP/HTTP base endpoint, as the OpenTelemetry SDKs derive it. */
function tracesUrl(endpoint: string): string {
  if (endpoint === '') throw new Error('OTEL_EXPORTER_OTLP_ENDPOINT must be set when OTEL_TRACES_EXPORTER=otlp');
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}

function samplerOf(name: (typeof TRACES_SAMPLERS)[number], ratio: number): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}
