// Child processes of bench/gateway.bench.ts, one role each, so that the load
// generator, the gateway and the upstream do not share one event loop:
//   node bench/gateway-processes.ts upstream   gRPC UserService.GetUser + ChatService.SendMessage stubs
//   node bench/gateway-processes.ts gateway    the API gateway (BENCH_CACHE=on|off, BENCH_TRANSPORT=http2|grpc-js,
//                                              GATEWAY_WORKERS as in production, default one process per CPU)
//   node bench/gateway-processes.ts bare       a bare Fastify route answering BENCH_BODY, and the SSE head of
//                                              GET /v1/updates with nothing behind it (the realtime bench's reference)
// Each prints `ready <port>` and runs until SIGTERM. Config comes from env:
// BENCH_JWKS (private JWKS to verify tokens with), BENCH_UPSTREAM (host:port),
// and the OTEL_* tracing settings as every process reads them (off by default);
// the upstream serves TLS when given the GRPC_TLS_* settings a service reads.
import { create, type DescMessage, type DescService, fromBinary, isMessage, toBinary } from '@bufbuild/protobuf';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { gatewaySettings, startGateway } from '@messenger/api-gateway';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import {
  createLocalJwksSource,
  createTokenAuthenticator,
  InMemoryRevocationList,
  importSigningKeyRing,
} from '@messenger/platform/auth';
import { commonSettings, loadConfig } from '@messenger/platform/config';
import { type Authenticator, type Caller, createGrpcServer } from '@messenger/platform/grpc';
import { createLogger } from '@messenger/platform/logger';
import { createMetrics } from '@messenger/platform/metrics';
import { loadGrpcTls, runtimeSettings, runWorkers } from '@messenger/platform/runtime';
import { startTracing, tracingOptionsOf } from '@messenger/platform/tracing/sdk';
import Fastify from 'fastify';

const TRUST = { issuer: 'messenger-auth', audience: 'messenger', serviceAudience: 'messenger-internal' };
const role = process.argv[2];
const log = createLogger({ level: 'warn', service: `bench-${role}` });
// `OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=… npm run bench -- gateway` measures with tracing on.
startTracing(tracingOptionsOf(loadConfig(commonSettings, process.env), `bench-${role}`));

async function verifier() {
  const ring = await importSigningKeyRing(process.env.BENCH_JWKS ?? '');
  const revocations = new InMemoryRevocationList();
  return {
    revocations,
    verifier: createTokenAuthenticator({ ...TRUST, jwks: createLocalJwksSource(ring), revocations }),
  };
}

/** A grpc-js definition whose codec is the descriptors' own (no generated code needed). */
function definitionOf(service: DescService): ServiceDefinition {
  const def: Record<string, unknown> = {};
  for (const m of service.methods) {
    const encode = (schema: DescMessage) => (msg: unknown) =>
      Buffer.from(toBinary(schema, isMessage(msg, schema) ? msg : create(schema, msg as never)));
    const decode = (schema: DescMessage) => (buf: Buffer) => fromBinary(schema, buf);
    def[m.name] = {
      path: `/${service.typeName}/${m.name}`,
      requestStream: false,
      responseStream: m.methodKind === 'server_streaming',
      requestSerialize: encode(m.input),
      requestDeserialize: decode(m.input),
      responseSerialize: encode(m.output),
      responseDeserialize: decode(m.output),
      originalName: m.name,
    };
  }
  return def as ServiceDefinition;
}

const stamp = { seconds: BigInt(Math.floor(Date.now() / 1000)), nanos: 0 };

/**
 * The bench upstream verifies every forwarded token as a real service does,
 * but remembers verified tokens (as the gateway does): the platform
 * authenticator's ES256 check (~0.4 ms of CPU per call here) would otherwise
 * dominate (b) and (c) and hide the gateway's own cost. BENCH_UPSTREAM_AUTH=verify
 * measures the uncached behaviour.
 */
function cachedAuthenticator(inner: Awaited<ReturnType<typeof verifier>>['verifier']): Authenticator {
  if (process.env.BENCH_UPSTREAM_AUTH === 'verify') return inner;
  const seen = new Map<string, Promise<Caller>>();
  return {
    authenticate: (metadata) => {
      const header = metadata.get('authorization')[0];
      if (typeof header !== 'string') return inner.authenticate(metadata);
      let caller = seen.get(header);
      if (!caller) {
        if (seen.size > 1000) seen.clear();
        caller = inner.authenticate(metadata);
        seen.set(header, caller);
      }
      return caller;
    },
  };
}

async function upstream(): Promise<number> {
  const catalog = await loadMessengerCatalog();
  const authenticator = cachedAuthenticator((await verifier()).verifier);
  let sequence = 0n;
  const impl: Record<
    string,
    Record<string, (req: never, ctx: { caller: { kind: string; userId?: string } }) => Promise<unknown>>
  > = {
    'messenger.user.v1.UserService': {
      GetUser: async (req: { userId: string }) => ({
        user: {
          userId: req.userId,
          nickname: 'bench_user',
          about: 'Benchmarks the gateway; about text of a typical length.',
          avatarUrl: 'https://example.com/avatars/bench_user.png',
          createTime: stamp,
          updateTime: stamp,
        },
      }),
    },
    'messenger.chat.v1.ChatService': {
      SendMessage: async (req: { chatId: string; clientMessageId: string; text: string }, ctx) => ({
        message: {
          messageId: req.clientMessageId,
          chatId: req.chatId,
          sequence: ++sequence,
          senderId: ctx.caller.userId ?? '',
          clientMessageId: req.clientMessageId,
          text: req.text,
          createTime: stamp,
        },
      }),
    },
  };
  const services = catalog.services
    .filter((s) => s.typeName in impl)
    .map((s) => ({
      definition: definitionOf(s),
      handlers: Object.fromEntries(
        s.methods.map((m) => [m.name, impl[s.typeName]?.[m.name] ?? (async () => create(m.output))]),
      ),
    }));
  // GRPC_SERVER_TRANSPORT and GRPC_TLS_* as a service reads them.
  const config = loadConfig(runtimeSettings, process.env);
  const server = createGrpcServer({
    name: 'bench',
    services,
    catalog,
    logger: log,
    metrics: createMetrics({ defaultMetrics: false }),
    authenticator,
    tls: loadGrpcTls(config, true),
    transport: config.grpcServerTransport,
  });
  const port = await server.listen('127.0.0.1', 0);
  process.on('SIGTERM', () => void server.shutdown(500).then(() => process.exit(0)));
  return port;
}

/**
 * The gateway as production runs it: GATEWAY_WORKERS processes (default as
 * production: one per CPU) through the runtime's `runWorkers`; `ready` is
 * printed once every worker listens.
 */
async function gateway(): Promise<number | undefined> {
  const { workers } = loadConfig({ workers: gatewaySettings.workers }, process.env);
  const group = { service: 'bench-gateway', workers, logLevel: 'warn', shutdownGraceMs: 10_000 };
  const listening = await runWorkers(group, async () => {
    const catalog = await loadMessengerCatalog();
    const { verifier: v, revocations } = await verifier();
    const address = process.env.BENCH_UPSTREAM ?? '';
    const upstreams = Object.fromEntries(catalog.services.map((s) => [s.typeName, address]));
    const huge = { max: 1_000_000_000, windowMs: 60_000 };
    const gw = await startGateway(
      {
        catalog,
        upstreams,
        auth: { verifier: v, revocations },
        logger: log,
        metrics: createMetrics({ defaultMetrics: false }),
        // Unverified too: the realtime bench opens every stream with a token the gateway has not seen.
        rateLimits: { default: huge, strict: huge, stream: huge, unverified: huge },
        cache: { enabled: process.env.BENCH_CACHE === 'on' },
        upstreamTransport: process.env.BENCH_TRANSPORT === 'grpc-js' ? 'grpc-js' : 'http2',
      },
      { port: 0 },
    );
    return { logger: log, listening: { msg: 'bench gateway listening', port: gw.port }, stop: () => gw.close() };
  });
  return listening ? Number(listening.port) : undefined;
}

async function bare(): Promise<number> {
  const body = process.env.BENCH_BODY ?? '{}';
  const app = Fastify();
  app.get('/v1/users/:id', (_req, reply) => {
    void reply.header('content-type', 'application/json; charset=utf-8').send(body);
  });
  // The realtime bench's reference: a live stream's opening (the SSE head the
  // gateway sends), with no token check and nothing behind it.
  app.get('/v1/updates', (_req, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    reply.raw.write(':ok\n\n');
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

// A role resolves with its port, or with nothing in a gateway worker (its primary prints `ready`).
const roles: Record<string, () => Promise<number | undefined>> = { upstream, gateway, bare };
const start = role ? roles[role] : undefined;
if (!start) {
  console.error(`usage: node bench/gateway-processes.ts ${Object.keys(roles).join('|')}`);
  process.exit(2);
}
const port = await start();
if (port !== undefined) process.stdout.write(`ready ${port}\n`);
