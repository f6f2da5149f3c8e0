// The chat-restart drill: the whole system as in cluster mode — every service
// on its own loopback gRPC port, events on the Kafka mock cluster, the chat
// store outliving the chat service as MongoDB would — with live SSE clients on
// GET /v1/updates through the gateway. A sender keeps sending while the chat
// service is stopped and a new instance is started on the same port with the
// same store. Each client reconnects as a browser's EventSource does, with
// the last update id as Last-Event-ID; the new instance has no window that
// covers it, so the stream answers `resyncRequired` and the client reloads
// the history, as docs/API.md tells clients to. Every client ends with every
// message exactly once, in sequence order. Runs under
// scripts/with-test-infra.sh (make test).
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RunningGateway, rateLimitBudgetsOf, startGateway } from '@messenger/api-gateway';
import { authPolicyDeps, grpcUserProfiles, MemoryAuthStore, startAuthService } from '@messenger/auth';
import {
  chatServiceOptionsOf,
  grpcUserProfiles as chatUserProfiles,
  grpcFriendshipChecker,
  MemoryChatStore,
  startChatService,
} from '@messenger/chat';
import { loadEmbeddedConfig } from '@messenger/embedded';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import {
  cachedServiceTokenSource,
  createLocalJwksSource,
  createTokenAuthenticator,
  createTokenSigner,
  generateSigningKeyRing,
  InMemoryRevocationList,
} from '@messenger/platform/auth';
import type { EventBus } from '@messenger/platform/events';
import { createClientPool } from '@messenger/platform/grpc';
import { createMetrics } from '@messenger/platform/metrics';
import { concurrentJoins, namespacedBus } from '@messenger/platform/testing';
import { grpcUserDirectory, MemoryFriendshipStore, startSubscriberService } from '@messenger/subscriber';
import { MemoryUserStore, startUserService } from '@messenger/user';
import { type Account, Gateway } from './support/http.ts';
import { mockKafkaBus, silentLog, testNamespace } from './support/kafka.ts';
import { SYSTEM_ENV } from './support/system.ts';
import { waitFor } from './support/wait.ts';

const CLIENTS = 4;
const MESSAGES = 60;
/** Messages sent before the restart begins; the rest are sent across and after it. */
const BEFORE_RESTART = 20;
const RESTART_GRACE_MS = 3000;

type Started = { readonly port: number; stop(graceMs: number): Promise<void> };

/** One SSE client that reconnects with Last-Event-ID and reloads on resyncRequired. */
class Client {
  /** The chat's messages as the user sees them, by sequence. */
  readonly seen = new Map<number, string>();
  /** Sequences the stream delivered (a reload adds to `seen` only). */
  readonly live = new Set<number>();
  /** Messages the stream delivered twice. */
  duplicates = 0;
  /** Messages the stream delivered after a later one of the same connection. */
  outOfOrder = 0;
  resyncs = 0;
  reconnects = 0;
  /** What stopped the client other than a cut connection. */
  failure: unknown;
  #lastEventId: string | undefined;
  #abort = new AbortController();
  #running: Promise<void> | undefined;

  readonly gw: Gateway;
  readonly account: Account;
  readonly chatId: string;

  constructor(gw: Gateway, account: Account, chatId: string) {
    this.gw = gw;
    this.account = account;
    this.chatId = chatId;
  }

  start(): Promise<void> {
    let opened: () => void = () => {};
    const first = new Promise<void>((resolve) => {
      opened = resolve;
    });
    this.#running = this.#loop(opened);
    return first;
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running?.catch(() => {});
  }

  async #loop(opened: () => void): Promise<void> {
    while (!this.#abort.signal.aborted) {
      try {
        const headers: Record<string, string> = {
          authorization: `Bearer ${this.account.accessToken}`,
          accept: 'text/event-stream',
        };
        if (this.#lastEventId !== undefined) headers['last-event-id'] = this.#lastEventId;
        const res = await fetch(`${this.gw.url}/v1/updates`, { headers, signal: this.#abort.signal });
        if (res.status !== 200 || !res.body) {
          // The chat service is down (503) or the client retried too fast (429): wait as Retry-After says.
          await res.body?.cancel();
          await sleep(1000 * Number(res.headers.get('retry-after') ?? '1'));
          continue;
        }
        opened();
        await this.#read(res.body);
      } catch (error) {
        if (this.#abort.signal.aborted) return;
        // A fetch failure (TypeError) is a connection the restart cut; anything else is a bug the test reports.
        if (!(error instanceof TypeError)) {
          this.failure = error;
          return;
        }
      }
      this.reconnects++;
      await sleep(100);
    }
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    let previous = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffered += value;
      let end = buffered.indexOf('\n\n');
      while (end >= 0) {
        const lines = buffered.slice(0, end).split('\n');
        buffered = buffered.slice(end + 2);
        end = buffered.indexOf('\n\n');
        const event = lines.find((l) => l.startsWith('event: '))?.slice('event: '.length);
        const id = lines.find((l) => l.startsWith('id: '))?.slice('id: '.length);
        const data = lines
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice('data: '.length))
          .join('\n');
        if (event === 'end' || event === 'error') return; // the stream ended: reconnect
        if (data === '') continue;
        if (id) this.#lastEventId = id;
        const update = (JSON.parse(data) as { update?: Record<string, unknown> }).update ?? {};
        if ('resyncRequired' in update) {
          this.resyncs++;
          await this.#reload();
        }
        const message = update.messageCreated as { chatId: string; sequence: string; messageId: string } | undefined;
        if (message && message.chatId === this.chatId) {
          const sequence = Number(message.sequence);
          if (this.live.has(sequence)) this.duplicates++;
          if (sequence <= previous) this.outOfOrder++;
          previous = sequence;
          this.live.add(sequence);
          this.seen.set(sequence, message.messageId);
        }
      }
    }
  }

  /** Reads the whole history, as a client does after resyncRequired. */
  async #reload(): Promise<void> {
    let pageToken = '';
    for (;;) {
      const query = `pageSize=100${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ''}`;
      const res = await this.gw.request('GET', `/v1/chats/${this.chatId}/messages?${query}`, this.account.accessToken);
      if (res.status === 503 || res.status === 429) {
        // The chat service is still coming back, or the client reloads too fast: wait and read the same page again.
        await sleep(1000 * Number(res.headers.get('retry-after') ?? '1'));
        continue;
      }
      if (res.status !== 200) throw new Error(`reload: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      const page = res.body as { messages?: { sequence: string; messageId: string }[]; nextPageToken?: string };
      for (const m of page.messages ?? []) this.seen.set(Number(m.sequence), m.messageId);
      pageToken = page.nextPageToken ?? '';
      if (pageToken === '') return;
    }
  }
}

describe('chat restarted under live streams', () => {
  const namespace = testNamespace('chat-restart');
  let bus: EventBus;
  let gateway: RunningGateway;
  let gw: Gateway;
  let restartChat: () => Promise<void>;
  let stopAll: () => Promise<void>;
  const clients: Client[] = [];

  beforeAll(async () => {
    const config = loadEmbeddedConfig(SYSTEM_ENV);
    bus = namespacedBus(mockKafkaBus('e2e-chat-restart'), namespace);
    const metrics = createMetrics();
    const catalog = await loadMessengerCatalog();
    const pool = createClientPool({ catalog, metrics, defaultDeadlineMs: 5000 });
    const keys = await generateSigningKeyRing();
    const revocations = new InMemoryRevocationList();
    const trust = {
      issuer: config.auth.tokenIssuer,
      audience: config.auth.tokenAudience,
      serviceAudience: config.auth.serviceTokenAudience,
    };
    const signer = createTokenSigner({ ...trust, keys });
    const authenticator = createTokenAuthenticator({ ...trust, jwks: createLocalJwksSource(keys), revocations });
    const serviceTokens = (service: string) => cachedServiceTokenSource(() => signer.signServiceToken({ service }));
    // The consumers of the first start join at once (each first join costs
    // the mock ~3 s); the restarted chat instance joins as in production,
    // each group before it listens.
    const joining = concurrentJoins(bus);
    const shared = { bus: joining.bus, metrics, catalog, authenticator, logger: silentLog };
    const listen = { host: '127.0.0.1', port: 0 };

    const user = await startUserService({ ...shared, store: new MemoryUserStore() }, listen);
    const userAddress = `127.0.0.1:${user.port}`;
    const auth = await startAuthService(
      {
        ...shared,
        store: new MemoryAuthStore(),
        signer,
        keys,
        revocations,
        users: grpcUserProfiles({ pool, address: userAddress, tokens: serviceTokens('auth') }),
        ...authPolicyDeps(config.auth),
      },
      listen,
    );
    const subscriber = await startSubscriberService(
      {
        ...shared,
        store: new MemoryFriendshipStore(),
        users: grpcUserDirectory({ pool, address: userAddress, tokens: serviceTokens('subscriber') }),
      },
      listen,
    );
    // The store outlives every chat instance, as a MongoDB database does.
    const chatDeps = {
      ...shared,
      store: new MemoryChatStore(),
      users: chatUserProfiles({ pool, address: userAddress, tokens: serviceTokens('chat') }),
      friends: grpcFriendshipChecker({
        pool,
        address: `127.0.0.1:${subscriber.port}`,
        tokens: serviceTokens('chat'),
      }),
      options: chatServiceOptionsOf(config.chat),
    };
    let chat: Started = await startChatService(chatDeps, listen);
    const chatPort = chat.port;
    restartChat = async () => {
      // A short grace keeps the drill quick; SHUTDOWN_GRACE_MS bounds the same wait in production.
      await chat.stop(RESTART_GRACE_MS);
      chat = await startChatService({ ...chatDeps, bus }, { host: '127.0.0.1', port: chatPort });
    };

    gateway = await startGateway(
      {
        catalog,
        upstreams: {
          'messenger.auth.v1.AuthService': `127.0.0.1:${auth.port}`,
          'messenger.user.v1.UserService': userAddress,
          'messenger.subscriber.v1.SubscriberService': `127.0.0.1:${subscriber.port}`,
          'messenger.chat.v1.ChatService': `127.0.0.1:${chatPort}`,
          // The drill starts no notification service; its routes are never called (nothing listens on port 1).
          'messenger.notification.v1.NotificationService': '127.0.0.1:1',
        },
        auth: { verifier: authenticator, revocations },
        eventBus: joining.bus,
        logger: silentLog,
        metrics,
        rateLimits: rateLimitBudgetsOf(config.gateway),
        cache: { enabled: config.gateway.cacheEnabled },
        deadlines: { defaultMs: config.gateway.upstreamDeadlineMs },
        bodyLimitBytes: config.gateway.bodyLimitBytes,
        trustProxy: config.gateway.trustedProxies,
      },
      { host: '127.0.0.1', port: 0, drainDelayMs: 0, shutdownGraceMs: 1000 },
    );
    await joining.joined();
    gw = new Gateway(gateway.url);
    stopAll = async () => {
      await gateway.close();
      await chat.stop(1000);
      await subscriber.stop(1000);
      await auth.stop(1000);
      await user.stop(1000);
      await bus.close();
      pool.close();
      revocations.close();
    };
  }, 90_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    await stopAll?.();
  }, 60_000);

  it('every client ends with every message exactly once, in order', async () => {
    const owner = await gw.register('owner');
    const members: Account[] = [];
    for (let i = 0; i < CLIENTS; i++) members.push(await gw.register(`member${i}`));
    for (const m of members) {
      await gw.ok('POST', `/v1/friends/${m.userId}`, owner.accessToken, {});
      await gw.ok('POST', `/v1/friends/${owner.userId}/confirm`, m.accessToken, {});
    }
    const created = await gw.ok('POST', '/v1/chats', owner.accessToken, {
      type: 'CHAT_TYPE_GROUP',
      title: 'restart drill',
      memberIds: members.map((m) => m.userId),
    });
    const chatId = (created.chat as { chatId: string }).chatId;
    for (const m of members) {
      const client = new Client(gw, m, chatId);
      clients.push(client);
      await client.start();
    }

    // The sender retries each message with its client message id until it is stored, as an app does.
    const sent: string[] = [];
    const send = async (n: number) => {
      const clientMessageId = randomUUID();
      for (;;) {
        const res = await gw.request('POST', `/v1/chats/${chatId}/messages`, owner.accessToken, {
          clientMessageId,
          text: `message ${n}`,
        });
        if (res.status === 200) {
          sent.push((res.body.message as { messageId: string }).messageId);
          return;
        }
        // Only the restart may refuse a message, and only as retryable.
        expect([503, 504]).toContain(res.status);
        await sleep(50);
      }
    };

    for (let n = 1; n <= BEFORE_RESTART; n++) await send(n);
    const sending = (async () => {
      for (let n = BEFORE_RESTART + 1; n <= MESSAGES; n++) {
        await send(n);
        await sleep(20);
      }
    })();
    await restartChat();
    await sending;

    const expected = new Map(sent.map((id, i) => [i + 1, id]));
    for (const client of clients) {
      await waitFor(
        'every message',
        () => {
          if (client.failure !== undefined) throw client.failure;
          return client.seen.size >= MESSAGES;
        },
        30_000,
      ).catch((error: unknown) => {
        const missing = [...expected.keys()].filter((n) => !client.seen.has(n));
        const state = { missing, resyncs: client.resyncs, reconnects: client.reconnects, live: client.live.size };
        throw new Error(`${client.account.nickname}: ${String(error)} ${JSON.stringify(state)}`);
      });
      expect(client.seen).toEqual(expected);
      // The restart ended each stream; each client resumed with its last update id.
      expect(client.reconnects).toBeGreaterThanOrEqual(1);
      expect(client.duplicates).toBe(0);
      expect(client.outOfOrder).toBe(0);
    }
  }, 120_000);
});
