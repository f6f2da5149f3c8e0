// Turning tracing on and off in a process, and what a log line carries while on.
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { createLogger } from '../logger.ts';
import { activeTracer, context, extractParent, ROOT_CONTEXT, trace } from './index.ts';
import { startTracing, type TracingOptions } from './sdk.ts';

const OFF: TracingOptions = {
  serviceName: 'test',
  exporter: 'none',
  endpoint: '',
  sampler: 'parentbased_always_on',
  samplerRatio: 1,
};

function lines() {
  const out: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'info', destination: { write: (l: string) => out.push(JSON.parse(l)) } });
  return { log, out };
}

it('stays off with OTEL_TRACES_EXPORTER=none: no tracer, and log lines carry no trace ids', () => {
  expect(startTracing(OFF)).toBeUndefined();
  expect(activeTracer()).toBeUndefined();
  const { log, out } = lines();
  log.info('hello');
  expect(out[0]).not.toHaveProperty('trace_id');
});

it('refuses otlp without an endpoint, at start-up', () => {
  expect(() => startTracing({ ...OFF, exporter: 'otlp' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  expect(activeTracer()).toBeUndefined();
});

it('names the active sampled span on each log line written inside it, and nothing outside it', async () => {
  const exporter = new InMemorySpanExporter();
  const tracing = startTracing({ ...OFF, spanExporter: exporter });
  try {
    const tracer = activeTracer();
    if (tracer === undefined) throw new Error('tracing did not start');
    const { log, out } = lines();
    const span = tracer.startSpan('work');
    context.with(trace.setSpan(ROOT_CONTEXT, span), () => log.info('inside'));
    span.end();
    log.info('outside');
    // A caller that asked not to be sampled: its span is not exported, so its ids would lead nowhere.
    const unsampled = extractParent({ traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-00` });
    const quiet = tracer.startSpan('quiet', {}, unsampled);
    context.with(trace.setSpan(unsampled, quiet), () => log.info('unsampled'));
    quiet.end();

    const { traceId, spanId } = span.spanContext();
    expect(out[0]).toMatchObject({ msg: 'inside', trace_id: traceId, span_id: spanId });
    expect(out[1]).not.toHaveProperty('trace_id');
    expect(out[2]).not.toHaveProperty('trace_id');
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['work']);
  } finally {
    await tracing?.shutdown();
  }
  expect(activeTracer()).toBeUndefined();
});
