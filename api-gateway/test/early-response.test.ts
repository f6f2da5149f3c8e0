// A request refused before its body was read (here: larger than the body
// limit) is answered, and the client — still sending the body — receives
// that answer rather than a reset connection.
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Code } from '../src/errors/status.ts';
import { type GatewayFixture, startGateway } from './fixture.ts';

const TOO_LARGE = 1_100_000;
const CHUNK = 64 * 1024;

interface Received {
  readonly status: number;
  readonly body: unknown;
}

/**
 * POSTs TOO_LARGE bytes in chunks, a little apart, as a slow client would,
 * with or without a content-length. Like curl, it fails on any error while
 * writing the body, even after the response arrived.
 */
async function postSlowly(base: string, chunked: boolean): Promise<Received> {
  let written: () => void = () => {};
  let failed: (error: Error) => void = () => {};
  const bodySent = new Promise<void>((resolve, reject) => {
    written = resolve;
    failed = reject;
  });
  const received = new Promise<Received>((resolve, reject) => {
    const headers: Record<string, string | number> = { 'content-type': 'application/json' };
    if (!chunked) headers['content-length'] = TOO_LARGE;
    const req = httpRequest(`${base}/v1/mirror`, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      res.on('error', reject);
    });
    req.on('error', (error) => {
      failed(error);
      reject(error);
    });
    void (async () => {
      for (let sent = 0; sent < TOO_LARGE; sent += CHUNK) {
        if (req.destroyed) {
          failed(new Error('the connection closed while the body was being sent'));
          return;
        }
        req.write(Buffer.alloc(Math.min(CHUNK, TOO_LARGE - sent), 0x20));
        await sleep(2);
      }
      req.end(written);
    })();
  });
  const [res] = await Promise.all([received, bodySent]);
  return res;
}

/** A body that arrives in chunks, a little apart. */
function slowBody(): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    async pull(controller) {
      if (sent >= TOO_LARGE) {
        controller.close();
        return;
      }
      await sleep(2);
      const n = Math.min(CHUNK, TOO_LARGE - sent);
      sent += n;
      controller.enqueue(new Uint8Array(n).fill(0x20));
    },
  });
}

describe('a body over the limit', () => {
  let fx: GatewayFixture;
  let base: string;
  beforeAll(async () => {
    fx = await startGateway();
    await fx.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(fx.app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => fx.close());

  it.each([
    ['with a content-length', false],
    ['chunked', true],
  ])('is answered 413 with a google.rpc.Status body to a client still writing it, %s', async (_, chunked) => {
    const res = await postSlowly(base, chunked);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.any(String), details: [] });
  });

  it('is answered 413 to fetch sending the body as it comes', async () => {
    const res = await fetch(`${base}/v1/mirror`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: slowBody(),
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: Code.INVALID_ARGUMENT, details: [] });
  });
});
