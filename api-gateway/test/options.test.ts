// Every plugin checks its options as it registers: a bad one stops build()
// with the option named, before any request, and leaves nothing running.
import { InProcessEventBus } from '@messenger/platform/events';
import Fastify from 'fastify';
import { build, type GatewayOptions } from '../src/app.ts';
import { cachePlugin } from '../src/plugins/cache/cache.plugin.ts';
import { DEFAULT_BUDGETS } from '../src/plugins/rate-limit/rate-limit.plugin.ts';
import { rpcRoutesPlugin } from '../src/routes/rpc-routes.ts';
import { type PreparedGateway, prepareGateway } from './fixture.ts';

describe('options are checked at start-up', () => {
  let prepared: PreparedGateway;
  beforeAll(async () => {
    prepared = await prepareGateway();
  });
  afterAll(() => prepared.cleanup());

  it.each<[string, (o: GatewayOptions) => Partial<GatewayOptions>, RegExp]>([
    ['a negative token cache size', (o) => ({ auth: { ...o.auth, cacheSize: -1 } }), /auth\.cacheSize/],
    ['a realm with a quote', (o) => ({ auth: { ...o.auth, realm: 'a"b' } }), /auth\.realm/],
    [
      'a budget without requests',
      () => ({ rateLimits: { ...DEFAULT_BUDGETS, strict: { max: 0, windowMs: 60_000 } } }),
      /rateLimits\.strict/,
    ],
    ['a zero-entry cache', () => ({ cache: { maxEntries: 0 } }), /cache\.maxEntries/],
    ['a fractional Redis timeout', () => ({ cache: { redisTimeoutMs: 2.5 } }), /cache\.redisTimeoutMs/],
    ['an empty API title', () => ({ openApi: { title: '' } }), /openApi\.title/],
    ['a floor above the cap', () => ({ deadlines: { minMs: 5000, maxMs: 1000 } }), /deadlines\.minMs/],
    ['a zero heartbeat', () => ({ streaming: { heartbeatMs: 0 } }), /streaming\.heartbeatMs/],
    ['a negative readiness timeout', () => ({ readinessTimeoutMs: -1 }), /readinessTimeoutMs/],
    ['a zero body limit', () => ({ bodyLimitBytes: 0 }), /bodyLimitBytes/],
    ['an unknown upstream transport', () => ({ upstreamTransport: 'h3' as never }), /upstreamTransport/],
  ])('refuses %s, naming the option', async (_name, bad, message) => {
    const bus = new InProcessEventBus();
    let subscriptions = 0;
    const subscribe = bus.subscribe.bind(bus);
    bus.subscribe = (spec) => {
      subscriptions++;
      return subscribe(spec);
    };
    try {
      await expect(build({ ...prepared.options, eventBus: bus, ...bad(prepared.options) })).rejects.toThrow(message);
      // Events are subscribed to only once the app is ready, which it never was.
      expect(subscriptions).toBe(0);
    } finally {
      await bus.close();
    }
  });

  it('builds with the same options when none is bad', async () => {
    const app = await build(prepared.options);
    await app.ready();
    await app.close();
  });
});

describe('plugin order', () => {
  it('refuses a plugin registered before the plugins it depends on', async () => {
    const app = Fastify();
    await expect(app.register(cachePlugin, { routes: [] })).rejects.toThrow(
      "The dependency 'messenger-auth' of plugin 'messenger-cache' is not registered",
    );
    await app.close();
  });

  it('adds no RPC route before auth, rate limit and cache can attach to it', async () => {
    const app = Fastify();
    // Its routes would otherwise go unauthenticated and unlimited.
    await expect(app.register(rpcRoutesPlugin, {} as never)).rejects.toThrow(/'messenger-rpc-routes'/);
    await app.close();
  });
});
