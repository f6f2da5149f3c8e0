// Server-streaming RPCs over HTTP: SSE (ids, Last-Event-ID resume,
// heartbeats), NDJSON, cancellation on disconnect, and the stream's end on
// logout, token expiry and shutdown.
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SessionsRevoked } from '@messenger/gen/messenger/auth/v1/events';
import { createEnvelope, InProcessEventBus, packPayload } from '@messenger/platform/events';
import { RECONNECT_MAX_MS, RECONNECT_MIN_MS } from '../src/routes/streaming.ts';
import { type GatewayFixture, startGateway } from './fixture.ts';

interface Reading {
  text: string;
  done: boolean;
}

/** Reads a streamed body until `until(text)` holds (or the stream ends, or time runs out). */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  acc: Reading,
  until: (text: string) => boolean,
  timeoutMs = 5000,
): Promise<string> {
  const decoder = new TextDecoder();
  const deadline = Date.now() + timeoutMs;
  while (!until(acc.text) && !acc.done) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out; got so far:\n${acc.text}`);
    const chunk = await Promise.race([reader.read(), sleep(left).then(() => undefined)]);
    if (chunk === undefined) continue;
    if (chunk.done) acc.done = true;
    else acc.text += decoder.decode(chunk.value, { stream: true });
  }
  return acc.text;
}

interface SseEvent {
  id?: string;
  event?: string;
  data?: unknown;
}

/** The SSE `retry:` values in `text` (all of it, or one event block), in order. */
function retries(text: string): number[] {
  return [...text.matchAll(/^retry: (\d+)$/gm)].map((m) => Number(m[1]));
}

function lastBlock(text: string): string {
  return text.trimEnd().split('\n\n').at(-1) ?? '';
}

function events(text: string): SseEvent[] {
  return (
    text
      .split('\n\n')
      // A block of comments and `retry:` only is no event (nothing is dispatched).
      .filter((block) => block.split('\n').some((l) => l.startsWith('data') || l.startsWith('event')))
      .map((block) => {
        const e: SseEvent = {};
        for (const line of block.split('\n')) {
          const at = line.indexOf(': ');
          if (at < 0 || line.startsWith(':')) continue;
          const [k, v] = [line.slice(0, at), line.slice(at + 2)];
          if (k === 'id') e.id = v;
          if (k === 'event') e.event = v;
          if (k === 'data') e.data = JSON.parse(v);
        }
        return e;
      })
  );
}

describe('streaming', () => {
  let fx: GatewayFixture;
  let bus: InProcessEventBus;
  let base: string;
  const open: AbortController[] = [];

  beforeAll(async () => {
    bus = new InProcessEventBus();
    fx = await startGateway({ eventBus: bus, streaming: { heartbeatMs: 150 } });
    await fx.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(fx.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const c of open) c.abort();
    await fx.close();
    await bus.close();
  });

  /** How many StreamUpdates calls resuming after `resume` the gateway cancelled. */
  const cancelledCalls = (resume: string) => fx.upstream.state.cancelledResumes.filter((r) => r === resume).length;

  async function connect(headers: Record<string, string>, query = '') {
    const abort = new AbortController();
    open.push(abort);
    const res = await fetch(`${base}/v1/updates${query}`, { headers, signal: abort.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    return { res, reader, acc: { text: '', done: false } as Reading, abort };
  }

  it('serves Server-Sent Events with the update ids as event ids, and heartbeats', async () => {
    const token = await fx.auth.token('u1');
    const { res, reader, acc, abort } = await connect({
      authorization: `Bearer ${token}`,
      accept: 'text/event-stream',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(res.headers.get('x-request-id')).toBeTruthy();
    await readUntil(reader, acc, (t) => events(t).length >= 3);
    expect(events(acc.text)).toEqual([
      { id: '1', data: { update: { updateId: '1', text: 'update 1' } } },
      { id: '2', data: { update: { updateId: '2', text: 'update 2' } } },
      { id: '3', data: { update: { updateId: '3', text: 'update 3' } } },
    ]);
    await readUntil(reader, acc, (t) => t.includes(': keep-alive\n\n'));
    abort.abort();
  });

  it("resumes from Last-Event-ID through the request's resume field", async () => {
    const token = await fx.auth.token('u1');
    const { reader, acc, abort } = await connect({ authorization: `Bearer ${token}`, 'last-event-id': '2' });
    await readUntil(reader, acc, (t) => events(t).length >= 3);
    expect(events(acc.text).map((e) => e.id)).toEqual(['3', '4', '5']);
    expect(fx.upstream.state.streamResumes.at(-1)).toBe('2');
    abort.abort();
  });

  it('serves newline-delimited JSON when asked', async () => {
    const token = await fx.auth.token('u1');
    const { res, reader, acc, abort } = await connect(
      { authorization: `Bearer ${token}`, accept: 'application/x-ndjson' },
      '?resumeAfter=10',
    );
    expect(res.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    await readUntil(reader, acc, (t) => t.split('\n').filter(Boolean).length >= 3);
    expect(
      acc.text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { result: { update: { updateId: '11', text: 'update 11' } } },
      { result: { update: { updateId: '12', text: 'update 12' } } },
      { result: { update: { updateId: '13', text: 'update 13' } } },
    ]);
    abort.abort();
  });

  it('gives streams that are sent the same messages, in either format, each its own full events', async () => {
    // The route renders a message that reaches several streams once: an SSE
    // stream, an NDJSON one and another SSE one, all resuming from 20, then
    // one from 21 whose messages interleave with theirs.
    const token = await fx.auth.token('u1');
    const opened = await Promise.all([
      connect({ authorization: `Bearer ${token}`, accept: 'text/event-stream' }, '?resumeAfter=20'),
      connect({ authorization: `Bearer ${token}`, accept: 'application/x-ndjson' }, '?resumeAfter=20'),
      connect({ authorization: `Bearer ${token}`, accept: 'text/event-stream' }, '?resumeAfter=20'),
      connect({ authorization: `Bearer ${token}`, accept: 'text/event-stream' }, '?resumeAfter=21'),
    ]);
    const [sse1, ndjson, sse2, later] = opened;
    for (const s of [sse1, sse2, later]) await readUntil(s.reader, s.acc, (t) => events(t).length >= 3);
    await readUntil(ndjson.reader, ndjson.acc, (t) => t.split('\n').filter(Boolean).length >= 3);
    const expected = (from: number) =>
      [1, 2, 3].map((k) => ({
        id: String(from + k),
        data: { update: { updateId: String(from + k), text: `update ${from + k}` } },
      }));
    expect(events(sse1.acc.text)).toEqual(expected(20));
    expect(events(sse2.acc.text)).toEqual(expected(20));
    expect(events(later.acc.text)).toEqual(expected(21));
    expect(
      ndjson.acc.text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    ).toEqual(expected(20).map((e) => ({ result: e.data })));
    for (const s of opened) s.abort.abort();
  });

  it('cancels the upstream call when the client goes away', async () => {
    const token = await fx.auth.token('u1');
    // A resume point no other test uses names this call among the cancelled ones.
    const { reader, acc, abort } = await connect({ authorization: `Bearer ${token}` }, '?resumeAfter=700');
    await readUntil(reader, acc, (t) => events(t).length >= 1);
    expect(cancelledCalls('700')).toBe(0);
    abort.abort();
    for (let i = 0; i < 100 && cancelledCalls('700') === 0; i++) await sleep(20);
    expect(cancelledCalls('700')).toBe(1);
  });

  it('answers a call refused at once with its real status', async () => {
    const token = await fx.auth.token('u1');
    const res = await fetch(`${base}/v1/updates?resumeAfter=bad`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 3, details: expect.any(Array) });
    const anonymous = await fetch(`${base}/v1/updates`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="messenger"');
  });

  it('opens the stream as soon as the service accepts it, before any update exists', async () => {
    const token = await fx.auth.token('u1');
    for (const accept of ['text/event-stream', 'application/x-ndjson']) {
      // No update ever comes on this stream: only the service's acceptance opens it.
      const { res, reader, acc, abort } = await connect(
        { authorization: `Bearer ${token}`, accept },
        '?resumeAfter=quiet',
      );
      expect(res.status).toBe(200);
      if (accept === 'text/event-stream') {
        await readUntil(reader, acc, (t) => t.includes('\n\n'));
        expect(acc.text).toMatch(/^:ok\nretry: \d+\n\n$/);
      }
      abort.abort();
    }
  });

  it('answers an upstream authentication failure before the stream opened with 401 and a Status', async () => {
    const token = await fx.auth.token('u1');
    const res = await fetch(`${base}/v1/updates?resumeAfter=session-ended`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await res.json()).toEqual({ code: 16, message: 'the session has ended', details: expect.any(Array) });
  });

  it('reports a failure after the service accepted the stream as an error event on the open stream', async () => {
    const token = await fx.auth.token('u1');
    const { res, reader, acc } = await connect({ authorization: `Bearer ${token}` }, '?resumeAfter=broken');
    expect(res.status).toBe(200);
    await readUntil(reader, acc, () => false);
    expect(events(acc.text)).toEqual([{ event: 'error', data: expect.objectContaining({ code: 14 }) }]);
  });

  it('sends heartbeats to every idle stream', async () => {
    const token = await fx.auth.token('u1');
    const streams = await Promise.all(
      [1, 2, 3].map(() => connect({ authorization: `Bearer ${token}` }, '?resumeAfter=quiet')),
    );
    for (const { reader, acc } of streams) {
      await readUntil(reader, acc, (t) => t.split(': keep-alive\n\n').length > 2);
    }
    for (const { abort } of streams) abort.abort();
  });

  it('announces a reconnection delay, drawn per stream within bounds, as each stream opens', async () => {
    const token = await fx.auth.token('u1');
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      const { reader, acc, abort } = await connect({ authorization: `Bearer ${token}` });
      await readUntil(reader, acc, (t) => retries(t).length > 0);
      abort.abort();
      delays.push(...retries(acc.text));
    }
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(RECONNECT_MIN_MS);
      expect(d).toBeLessThanOrEqual(RECONNECT_MAX_MS);
    }
    expect(new Set(delays).size).toBeGreaterThan(1);
  });

  it('repeats the reconnection delay in the error event when the upstream stream ends unavailable', async () => {
    const token = await fx.auth.token('u1');
    const { reader, acc } = await connect({ authorization: `Bearer ${token}` }, '?resume_after=restarting');
    await readUntil(reader, acc, () => false);
    const [opened] = retries(acc.text);
    expect(events(acc.text).at(-1)).toEqual({ event: 'error', data: expect.objectContaining({ code: 14 }) });
    expect(retries(lastBlock(acc.text))).toEqual([opened]);
  });

  it('ends the stream cleanly on logout (auth.session.revoked)', async () => {
    const token = await fx.auth.token('u7', { sessionId: 'logout-me' });
    const { reader, acc } = await connect({ authorization: `Bearer ${token}` }, '?resumeAfter=800');
    await readUntil(reader, acc, (t) => events(t).length >= 3);
    expect(cancelledCalls('800')).toBe(0);
    const payload = SessionsRevoked.encode({ userId: 'u7', sessionIds: ['logout-me'], all: false, reason: 1 }).finish();
    await bus.publish('auth.events', [
      createEnvelope({
        type: 'auth.session.revoked',
        source: 'auth',
        key: 'u7',
        payload: packPayload('messenger.auth.v1.SessionsRevoked', payload),
      }),
    ]);
    await readUntil(reader, acc, () => false);
    expect(acc.done).toBe(true);
    expect(events(acc.text).at(-1)).toEqual({
      event: 'end',
      data: { code: 16, message: 'the session of this bearer token has ended', details: [] },
    });
    for (let i = 0; i < 100 && cancelledCalls('800') === 0; i++) await sleep(20);
    expect(cancelledCalls('800')).toBe(1);
    // And the token no longer opens one.
    expect((await fetch(`${base}/v1/updates`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  });

  it('ends the stream when the token expires', async () => {
    const token = await fx.auth.token('u8', { ttlSeconds: 2 });
    const started = Date.now();
    const { reader, acc } = await connect({ authorization: `Bearer ${token}` });
    await readUntil(reader, acc, () => false, 5000);
    expect(acc.done).toBe(true);
    expect(Date.now() - started).toBeLessThan(3500);
    expect(events(acc.text).at(-1)).toMatchObject({
      event: 'end',
      data: { code: 16, message: 'the bearer token has expired' },
    });
  });
});

describe('streaming at shutdown', () => {
  it('ends open streams so that close() completes', async () => {
    const fx = await startGateway();
    try {
      await fx.app.listen({ host: '127.0.0.1', port: 0 });
      const base = `http://127.0.0.1:${(fx.app.server.address() as AddressInfo).port}`;
      const token = await fx.auth.token('u1');
      const res = await fetch(`${base}/v1/updates`, { headers: { authorization: `Bearer ${token}` } });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const acc: Reading = { text: '', done: false };
      await readUntil(reader, acc, (t) => events(t).length >= 3);
      const closing = fx.app.close();
      await readUntil(reader, acc, () => false);
      await closing;
      expect(events(acc.text).at(-1)).toMatchObject({ event: 'end', data: { code: 14 } });
      expect(retries(lastBlock(acc.text))).toEqual([retries(acc.text)[0]]);
      const late = await fetch(`${base}/v1/updates`, { headers: { authorization: `Bearer ${token}` } }).then(
        (r) => r.status,
        () => 'refused',
      );
      expect(late).toBe('refused');
    } finally {
      await fx.close();
    }
  });
});
