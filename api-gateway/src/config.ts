import { mediaStoreSettings } from '@messenger/platform/blob';
import { type ConfigOf, type ConfigSpec, loadConfig, setting } from '@messenger/platform/config';
import {
  runtimeSettings,
  serviceAddressSettings,
  serviceSecretSetting,
  workersSetting,
} from '@messenger/platform/runtime';
import type { RateLimitBudgets } from './plugins/rate-limit/rate-limit.plugin.ts';
import { UPSTREAM_TRANSPORTS } from './upstream/upstream.ts';

/** Every setting of the gateway process; the only place its environment is read. */
export const gatewaySettings = {
  ...runtimeSettings,
  ...serviceAddressSettings,
  httpHost: setting.string('GATEWAY_HTTP_HOST', '127.0.0.1', {
    description: 'Interface the HTTP server binds (0.0.0.0 in a container).',
  }),
  httpPort: setting.port('GATEWAY_HTTP_PORT', 8080, { description: 'HTTP port; 0 picks a free one.' }),
  workers: workersSetting(
    'GATEWAY_WORKERS',
    'auto',
    'Gateway processes sharing the HTTP port (node:cluster: a primary forks them, restarts one that dies, drains them on SIGTERM; /metrics on METRICS_PORT shows them all); auto: one per CPU this process may use; 1: one process, no primary. With GATEWAY_SHARED_STATE=memory each worker keeps its own rate-limit counters and cache, so a client spread over N workers may get up to N times a budget; redis shares them.',
  ),
  sharedState: setting.oneOf('GATEWAY_SHARED_STATE', ['memory', 'redis'], 'memory', {
    description:
      'Rate-limit counters and response cache: in process memory (embedded; per worker when GATEWAY_WORKERS > 1) or Redis (REDIS_URL) shared by all replicas and workers.',
  }),
  rateLimitDefaultPerMinute: setting.int(
    'GATEWAY_RATE_LIMIT_DEFAULT_PER_MINUTE',
    600,
    { min: 1, max: 1_000_000 },
    {
      description: 'Requests per minute per user (per IP when anonymous) for ordinary methods.',
    },
  ),
  rateLimitStrictPerMinute: setting.int(
    'GATEWAY_RATE_LIMIT_STRICT_PER_MINUTE',
    10,
    { min: 1, max: 1_000_000 },
    {
      description: 'Requests per minute per client for credential methods (login, register, refresh, OAuth).',
    },
  ),
  rateLimitStreamPerMinute: setting.int(
    'GATEWAY_RATE_LIMIT_STREAM_PER_MINUTE',
    30,
    { min: 1, max: 1_000_000 },
    {
      description: 'Streams opened per minute per user.',
    },
  ),
  rateLimitUnverifiedPerMinute: setting.int(
    'GATEWAY_RATE_LIMIT_UNVERIFIED_PER_MINUTE',
    120,
    { min: 1, max: 1_000_000 },
    {
      description:
        'Requests per minute per client IP to signed-in routes whose token is not yet verified (none, new, forged or expired), counted before the signature check; past it they get 429 before any verification. Tokens already verified are not counted.',
    },
  ),
  cacheEnabled: setting.bool('GATEWAY_CACHE_ENABLED', true, {
    description: 'Response cache for the methods the contracts declare cacheable.',
  }),
  bodyLimitBytes: setting.int(
    'GATEWAY_BODY_LIMIT_BYTES',
    1_048_576,
    { min: 1024, max: 67_108_864 },
    {
      description: 'Largest accepted request body.',
    },
  ),
  upstreamDeadlineMs: setting.int(
    'GATEWAY_UPSTREAM_DEADLINE_MS',
    10_000,
    { min: 100, max: 600_000 },
    {
      description: 'Deadline of an upstream call when the client sends no Grpc-Timeout.',
    },
  ),
  upstreamTransport: setting.oneOf('GATEWAY_UPSTREAM_TRANSPORT', UPSTREAM_TRANSPORTS, 'http2', {
    description:
      'gRPC client of upstream calls and live-update streams: http2 (the gateway’s own HTTP/2 client, a fraction of the CPU per call) or grpc-js.',
  }),
  drainDelayMs: setting.int(
    'GATEWAY_DRAIN_DELAY_MS',
    0,
    { min: 0, max: 120_000 },
    {
      description:
        'On SIGTERM, how long the gateway keeps serving, /readyz 503 and every response with Connection: close, before it stops accepting connections and SHUTDOWN_GRACE_MS begins: the time load balancers take to stop sending it traffic (5000 in Kubernetes). 0: stop accepting at once (one process on a laptop, nothing to drain away from).',
    },
  ),
  streamHeartbeatMs: setting.int(
    'GATEWAY_STREAM_HEARTBEAT_MS',
    15_000,
    { min: 50, max: 300_000 },
    {
      description:
        'How long an SSE stream or WebSocket may go without a write before the gateway sends a heartbeat (an SSE comment; a WebSocket ping, and a socket that did not pong the previous ping is closed with 1001). Keep it below the idle timeout of every proxy in front of the gateway.',
    },
  ),
  trustedProxies: setting.list('GATEWAY_TRUSTED_PROXIES', '', {
    description:
      'Comma-separated addresses or CIDRs of the proxies in front of the gateway (e.g. 10.0.0.0/8,127.0.0.1); the client IP is the right-most X-Forwarded-For entry not in this list. Empty: trust none, the client IP is the peer address.',
  }),
  exampleClient: setting.bool('GATEWAY_EXAMPLE_CLIENT', true, {
    description:
      'Serve the example client, a static page that runs a whole session over the public API and a WebSocket, at /examples/chat.',
  }),
  release: setting.optionalString('GATEWAY_RELEASE', {
    description:
      'Sent as `x-messenger-release` on every response, so a client or a rollout check can tell which release (e.g. the blue-green colour) answered. Empty: no header.',
  }),
  serviceSecret: serviceSecretSetting('gateway'),
  ...mediaStoreSettings(
    'GATEWAY',
    ', and (with either store) uploads while they are checked and resized, removed right after',
  ),
  avatarMaxBytes: setting.int(
    'GATEWAY_AVATAR_MAX_BYTES',
    10_485_760,
    { min: 1024, max: 104_857_600 },
    {
      description: 'Largest accepted avatar upload; larger ones get 413 as soon as they pass it.',
    },
  ),
  avatarMaxPixels: setting.int(
    'GATEWAY_AVATAR_MAX_PIXELS',
    40_000_000,
    { min: 1, max: 268_402_689 },
    {
      description:
        'Largest accepted avatar image in pixels (width × height), checked from its header before it is decoded: a small file that would decode to a huge image (decompression bomb) gets 400.',
    },
  ),
  attachmentMaxBytes: setting.int(
    'GATEWAY_ATTACHMENT_MAX_BYTES',
    52_428_800,
    { min: 1024, max: 5_368_709_120 },
    { description: 'Largest accepted chat attachment; larger ones get 413 as soon as they pass it.' },
  ),
  attachmentMaxPixels: setting.int(
    'GATEWAY_ATTACHMENT_MAX_PIXELS',
    100_000_000,
    { min: 1, max: 268_402_689 },
    {
      description:
        'Largest accepted image attachment in pixels (width × height), checked from its header before it is decoded (decompression bombs get 400).',
    },
  ),
} satisfies ConfigSpec;

export type GatewayConfig = ConfigOf<typeof gatewaySettings>;

export function loadGatewayConfig(env: Readonly<Record<string, string | undefined>>): GatewayConfig {
  return loadConfig(gatewaySettings, env);
}

/** The upstream address of every service the gateway routes to. */
export function upstreamsOf(config: GatewayConfig): Record<string, string> {
  return {
    'messenger.auth.v1.AuthService': config.authServiceAddress,
    'messenger.user.v1.UserService': config.userServiceAddress,
    'messenger.subscriber.v1.SubscriberService': config.subscriberServiceAddress,
    'messenger.chat.v1.ChatService': config.chatServiceAddress,
    'messenger.notification.v1.NotificationService': config.notificationServiceAddress,
  };
}

export function rateLimitBudgetsOf(config: GatewayConfig): RateLimitBudgets {
  const perMinute = (max: number) => ({ max, windowMs: 60_000 });
  return {
    default: perMinute(config.rateLimitDefaultPerMinute),
    strict: perMinute(config.rateLimitStrictPerMinute),
    stream: perMinute(config.rateLimitStreamPerMinute),
    unverified: perMinute(config.rateLimitUnverifiedPerMinute),
  };
}
