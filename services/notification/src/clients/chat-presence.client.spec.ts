// The presence adapter when the chat service cannot answer: nobody counts as
// online (everyone is pushed to), within the adapter's own deadline, and the
// failure is logged once rather than once per message.
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import { type ClientPool, createClientPool } from '@messenger/platform/grpc';
import { createLogger } from '@messenger/platform/logger';
import { createMetrics } from '@messenger/platform/metrics';
import { chatPresence } from './chat-presence.client.ts';

describe('chat presence adapter, chat not answering', () => {
  let pool: ClientPool;
  const lines: string[] = [];
  const presenceAt = (address: string, timeoutMs: number) =>
    chatPresence({
      pool,
      address,
      tokens: { token: async () => 'service-token' },
      timeoutMs,
      log: createLogger({ level: 'info', destination: { write: (l: string) => lines.push(l) } }),
    });

  beforeAll(async () => {
    // The pool's own deadline is long: only the adapter's timeout can end a hanging call in time.
    pool = createClientPool({
      catalog: await loadMessengerCatalog(),
      metrics: createMetrics({ defaultMetrics: false }),
      defaultDeadlineMs: 60_000,
    });
  });
  afterAll(() => pool.close());
  beforeEach(() => {
    lines.length = 0;
  });

  it('answers nobody online when nothing listens at the address, and logs it once', async () => {
    const closed = createServer().listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port } = closed.address() as { port: number };
    closed.close();
    const presence = presenceAt(`127.0.0.1:${port}`, 2000);
    await expect(presence.onlineAmong(['a', 'b'])).resolves.toEqual(new Set());
    await expect(presence.onlineAmong(['c'])).resolves.toEqual(new Set());
    expect(lines.filter((l) => l.includes('cannot ask the chat service who is online'))).toHaveLength(1);
  });

  it('gives up at its own deadline when chat accepts the connection but never answers', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket)).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as { port: number };
    try {
      // Without the adapter's deadline the call would wait out the pool's 60 s, past this test's timeout.
      await expect(presenceAt(`127.0.0.1:${port}`, 200).onlineAmong(['a'])).resolves.toEqual(new Set());
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('asks nothing for no recipients', async () => {
    await expect(presenceAt('127.0.0.1:1', 200).onlineAmong([])).resolves.toEqual(new Set());
    expect(lines).toEqual([]);
  });
});
