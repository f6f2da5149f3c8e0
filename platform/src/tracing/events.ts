// Producer and consumer spans around an event bus (either adapter).
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import type { EventBus } from '../events/event-bus.ts';
import {
  type Attributes,
  activeTracer,
  context,
  extractParent,
  injectContext,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from './index.ts';

/**
 * The bus with a producer span per event published, child of the trace
 * context the envelope was made in (the request that caused it, carried
 * through the outbox), and a consumer span per delivery, child of the
 * producer span. The envelope leaves with the producer span's context, which
 * the Kafka adapter also copies into the `traceparent`/`tracestate` headers.
 * `system` is `messaging.system` (`kafka`); unset for the in-process bus.
 * The bus itself while tracing is off.
 */
export function tracedEventBus(bus: EventBus, system: string | undefined): EventBus {
  const tracer = activeTracer();
  if (tracer === undefined) return bus;
  const base: Attributes = system === undefined ? {} : { 'messaging.system': system };
  const attributes = (topic: string, event: EventEnvelope, operation: 'send' | 'process'): Attributes => ({
    ...base,
    'messaging.destination.name': topic,
    'messaging.operation.type': operation,
    'messaging.message.id': event.id,
    'messenger.event.type': event.type,
  });
  const parentOf = (event: EventEnvelope) =>
    event.traceparent === ''
      ? context.active()
      : extractParent({ traceparent: event.traceparent, tracestate: event.tracestate });

  return {
    async publish(topic, events) {
      const spans: Span[] = [];
      const stamped = events.map((event) => {
        const parent = parentOf(event);
        const span = tracer.startSpan(
          `send ${topic}`,
          { kind: SpanKind.PRODUCER, attributes: attributes(topic, event, 'send') },
          parent,
        );
        spans.push(span);
        const carrier: Record<string, string> = {};
        injectContext(trace.setSpan(parent, span), carrier);
        return { ...event, traceparent: carrier.traceparent ?? '', tracestate: carrier.tracestate ?? '' };
      });
      try {
        await bus.publish(topic, stamped);
      } catch (error) {
        for (const span of spans) span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        for (const span of spans) span.end();
      }
    },

    subscribe(sub) {
      return bus.subscribe({
        ...sub,
        handle: async (event, meta) => {
          const parent = parentOf(event);
          const span = tracer.startSpan(
            `process ${meta.topic}`,
            {
              kind: SpanKind.CONSUMER,
              attributes: { ...attributes(meta.topic, event, 'process'), 'messaging.consumer.group.name': sub.group },
            },
            parent,
          );
          try {
            await context.with(trace.setSpan(parent, span), () => sub.handle(event, meta));
          } catch (error) {
            span.setStatus({ code: SpanStatusCode.ERROR });
            throw error;
          } finally {
            span.end();
          }
        },
      });
    },

    close: () => bus.close(),
  };
}
