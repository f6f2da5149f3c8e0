// Child process of bench/chat.bench.ts, so the load generator and the chat
// service do not share one event loop:
//   node bench/chat-processes.ts server
// The chat service with its in-process event bus and, by default, its memory
// store (BENCH_MONGODB_URL: the MongoDB store, in a fresh `chat_bench_*`
// database each run). Users all exist and are all friends (no user or subscriber service:
// the benchmark measures chat). Verifies tokens with the private JWKS in
// BENCH_JWKS. Prints `ready <port>` and runs until SIGTERM.
import { randomUUID } from 'node:crypto';
import { type ChatStore, MemoryChatStore, openMongoChatStore, startChatService } from '@messenger/chat';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import {
  createLocalJwksSource,
  createTokenAuthenticator,
  InMemoryRevocationList,
  importSigningKeyRing,
} from '@messenger/platform/auth';
import { InProcessEventBus } from '@messenger/platform/events';
import { createLogger } from '@messenger/platform/logger';
import { createMetrics } from '@messenger/platform/metrics';

const TRUST = { issuer: 'messenger-auth', audience: 'messenger', serviceAudience: 'messenger-internal' };
const role = process.argv[2];
if (role !== 'server') throw new Error(`unknown role ${role}`);

const logger = createLogger({ level: 'warn', service: 'bench-chat' });
const ring = await importSigningKeyRing(process.env.BENCH_JWKS ?? '');
const revocations = new InMemoryRevocationList();
const authenticator = createTokenAuthenticator({ ...TRUST, jwks: createLocalJwksSource(ring), revocations });
const bus = new InProcessEventBus({ log: logger });
const mongoUrl = process.env.BENCH_MONGODB_URL;
const { store, close }: { store: ChatStore; close: () => Promise<void> } = mongoUrl
  ? await openMongoChatStore(mongoUrl, `chat_bench_${randomUUID().slice(0, 8)}`)
  : { store: new MemoryChatStore(), close: async () => {} };

const running = await startChatService(
  {
    store,
    users: {
      getProfiles: async (ids) =>
        new Map(
          ids.map((id) => [id, { userId: id, nickname: `u_${id.slice(0, 8)}`, avatarUrl: '', updateTime: undefined }]),
        ),
    },
    friends: { relation: async () => ({ friends: true, blocked: false }), friendIds: async () => [] },
    bus,
    logger,
    metrics: createMetrics(),
    catalog: await loadMessengerCatalog(),
    authenticator,
    options: { heartbeatIntervalMs: 60_000, updates: { queueLimit: 100_000 } },
  },
  { host: '127.0.0.1', port: 0 },
);
process.stdout.write(`ready ${running.port}\n`);

process.once('SIGTERM', () => {
  void (async () => {
    await running.stop(1000);
    await bus.close();
    revocations.close();
    await close();
    process.exit(0);
  })();
});
