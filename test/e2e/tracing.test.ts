// Distributed tracing through the whole system on loopback: one HTTP request
// with a W3C `traceparent` is followed through the gateway, its upstream call
// (either transport) and the services, and on through the outbox and Kafka
// (mock cluster) to a consumer; a malformed header starts a new trace without
// failing the request. Spans are read from an in-memory exporter.
import { randomBytes, randomUUID } from 'node:crypto';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import { SpanKind } from '@messenger/platform/tracing';
import { startTracing, type Tracing } from '@messenger/platform/tracing/sdk';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { Gateway } from './support/http.ts';
import { type KafkaSystem, SYSTEM_ENV, startKafkaSystem } from './support/system.ts';
import { waitFor } from './support/wait.ts';

const exporter = new InMemorySpanExporter();
let tracing: Tracing | undefined;

beforeAll(() => {
  tracing = startTracing({
    serviceName: 'messenger-test',
    exporter: 'none',
    endpoint: '',
    sampler: 'parentbased_always_on',
    samplerRatio: 1,
    spanExporter: exporter,
  });
});
afterAll(async () => {
  await tracing?.shutdown();
});

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const spansOf = (traceId: string) => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);

describe.each(['http2', 'grpc-js'] as const)('traces through the gateway on the %s upstream', (transport) => {
  let system: RunningSystem;
  let gw: Gateway;

  beforeAll(async () => {
    system = await startSystem(loadEmbeddedConfig({ ...SYSTEM_ENV, GATEWAY_UPSTREAM_TRANSPORT: transport }));
    gw = new Gateway(system.gatewayUrl);
  }, 60_000);
  afterAll(async () => {
    await system?.stop();
  });

  it('continues the caller’s trace: HTTP server span → upstream client span → service server span → service-to-service call', async () => {
    const traceId = hex(16);
    const callerSpanId = hex(8);
    const tag = `trace${hex(4)}`;
    const res = await fetch(`${gw.url}/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpanId}-01` },
      body: JSON.stringify({ email: `${tag}@example.com`, password: 'correct horse battery staple', nickname: tag }),
    });
    expect(res.status).toBe(200);
    await waitFor('the gateway span to end', () =>
      spansOf(traceId).some((s) => s.kind === SpanKind.SERVER && s.name.startsWith('POST ')),
    );
    const spans = spansOf(traceId);

    const http = spans.find((s) => s.kind === SpanKind.SERVER && s.name === 'POST /v1/auth/register');
    expect(http).toBeDefined();
    expect(parentOf(http as ReadableSpan)).toBe(callerSpanId);
    expect(http?.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/auth/register',
      'http.response.status_code': 200,
    });

    const upstream = spans.find(
      (s) => s.kind === SpanKind.CLIENT && s.name === 'messenger.auth.v1.AuthService/Register',
    );
    expect(upstream).toBeDefined();
    expect(parentOf(upstream as ReadableSpan)).toBe(http?.spanContext().spanId);

    const served = spans.find((s) => s.kind === SpanKind.SERVER && s.name === 'messenger.auth.v1.AuthService/Register');
    expect(served).toBeDefined();
    expect(parentOf(served as ReadableSpan)).toBe(upstream?.spanContext().spanId);
    expect(served?.attributes).toMatchObject({
      'rpc.system': 'grpc',
      'rpc.service': 'messenger.auth.v1.AuthService',
      'rpc.method': 'Register',
      'rpc.grpc.status_code': 0,
    });

    // The auth service's own call (through the platform client pool) is the next hop of the same trace.
    const onward = spans.find(
      (s) =>
        s.kind === SpanKind.CLIENT && parentOf(s) === served?.spanContext().spanId && s.name.startsWith('messenger.'),
    );
    expect(onward).toBeDefined();
    const onwardServed = spans.find((s) => s.kind === SpanKind.SERVER && parentOf(s) === onward?.spanContext().spanId);
    expect(onwardServed?.name).toBe(onward?.name);

    // Nothing a caller sent in the body is recorded.
    const recorded = JSON.stringify(spans.map((s) => s.attributes));
    expect(recorded).not.toContain(tag);
    expect(recorded).not.toContain('correct horse');
  });

  it('traces a live-updates stream: its upstream stream and the service’s span are in the caller’s trace', async () => {
    const account = await gw.register('streamer');
    const traceId = hex(16);
    const abort = new AbortController();
    const res = await fetch(`${gw.url}/v1/updates`, {
      headers: {
        authorization: `Bearer ${account.accessToken}`,
        accept: 'text/event-stream',
        traceparent: `00-${traceId}-${hex(8)}-01`,
      },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    abort.abort();
    const method = 'messenger.chat.v1.ChatService/StreamUpdates';
    const find = (kind: SpanKind, name: string) => spansOf(traceId).find((s) => s.kind === kind && s.name === name);
    await waitFor('the stream’s spans to end', () =>
      [find(SpanKind.SERVER, 'GET /v1/updates'), find(SpanKind.CLIENT, method), find(SpanKind.SERVER, method)].every(
        (s) => s !== undefined,
      ),
    );
    const client = find(SpanKind.CLIENT, method) as ReadableSpan;
    expect(parentOf(client)).toBe(find(SpanKind.SERVER, 'GET /v1/updates')?.spanContext().spanId);
    expect(parentOf(find(SpanKind.SERVER, method) as ReadableSpan)).toBe(client.spanContext().spanId);
  });

  it('starts a new trace when traceparent is malformed, and the request succeeds', async () => {
    const before = new Set(exporter.getFinishedSpans().map((s) => s.spanContext().spanId));
    const res = await fetch(`${gw.url}/v1/auth/jwks`, {
      headers: { traceparent: '00-not-a-trace-context-zz' },
    });
    expect(res.status).toBe(200);
    const fresh = () =>
      exporter
        .getFinishedSpans()
        .filter((s) => !before.has(s.spanContext().spanId) && s.kind === SpanKind.SERVER && s.name.startsWith('GET '));
    await waitFor('the gateway span to end', () => fresh().length > 0);
    const [http] = fresh();
    expect(http?.parentSpanContext).toBeUndefined();
    expect(http?.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    const served = spansOf(http?.spanContext().traceId as string).filter(
      (s) => s.kind === SpanKind.SERVER && s.attributes['rpc.system'] === 'grpc',
    );
    expect(served.length).toBeGreaterThan(0);
  });
});

describe('traces through the outbox and Kafka', () => {
  let k: KafkaSystem;

  beforeAll(async () => {
    k = await startKafkaSystem('tracing', ['chat.events']);
  }, 90_000);
  afterAll(async () => {
    await k?.stop();
  }, 30_000);

  it('a message sent with a traceparent is produced and consumed in the same trace', async () => {
    const gw = k.gateway;
    const [ann, bob] = [await gw.register('ann'), await gw.register('bob')];
    await gw.ok('POST', `/v1/friends/${bob.userId}`, ann.accessToken, {});
    await gw.ok('POST', `/v1/friends/${ann.userId}/confirm`, bob.accessToken, {});
    const chat = (
      await gw.ok('POST', '/v1/chats', ann.accessToken, {
        type: 'CHAT_TYPE_GROUP',
        title: 'traced',
        memberIds: [bob.userId],
      })
    ).chat as { chatId: string };

    const traceId = hex(16);
    const callerSpanId = hex(8);
    const res = await fetch(`${gw.url}/v1/chats/${chat.chatId}/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${ann.accessToken}`,
        'content-type': 'application/json',
        traceparent: `00-${traceId}-${callerSpanId}-01`,
      },
      body: JSON.stringify({ clientMessageId: randomUUID(), text: 'secret words' }),
    });
    expect(res.status).toBe(200);

    const produced = () => spansOf(traceId).find((s) => s.kind === SpanKind.PRODUCER && s.name === 'send chat.events');
    const consumed = () =>
      spansOf(traceId).filter((s) => s.kind === SpanKind.CONSUMER && parentOf(s) === produced()?.spanContext().spanId);
    await waitFor('a consumer span of the produced event', () => consumed().length > 0);

    const producer = produced() as ReadableSpan;
    expect(producer.attributes).toMatchObject({
      'messaging.destination.name': 'chat.events',
      'messaging.operation.type': 'send',
    });
    // The producer span descends from the chat service's server span of the request.
    const served = spansOf(traceId).find(
      (s) => s.kind === SpanKind.SERVER && s.name === 'messenger.chat.v1.ChatService/SendMessage',
    );
    expect(served).toBeDefined();
    expect(parentOf(producer)).toBe(served?.spanContext().spanId);
    const [consumer] = consumed();
    expect(consumer?.name).toBe('process chat.events');
    expect(consumer?.attributes).toMatchObject({
      'messaging.operation.type': 'process',
      'messaging.message.id': producer.attributes['messaging.message.id'],
    });
    expect(consumer?.attributes['messaging.consumer.group.name']).toEqual(expect.any(String));

    // The event on the topic carries the producer span's context (also in its Kafka headers). The test's own
    // reader of the topic is another consumer: it may get the event after the system's consumer did.
    const onTopic = () => k.events.find((e) => e.id === producer.attributes['messaging.message.id']);
    await waitFor('the event on the topic', () => onTopic() !== undefined);
    const event = onTopic();
    expect(event?.traceparent).toBe(`00-${traceId}-${producer.spanContext().spanId}-01`);
    // No message text in any span.
    expect(JSON.stringify(spansOf(traceId).map((s) => s.attributes))).not.toContain('secret words');
  });
});
