// Test-only: the gateway's test contracts (api-gateway/test/protos, built
// with buf at run time), a real gRPC upstream serving them through the
// platform's own server bootstrap, and real ES256 tokens from the platform
// signer. Handlers get and return @bufbuild/protobuf messages.
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  create,
  type DescMessage,
  type DescService,
  fromBinary,
  isMessage,
  type Message,
  toBinary,
} from '@bufbuild/protobuf';
import { Metadata, type ServiceDefinition } from '@grpc/grpc-js';
import { BadRequest, DebugInfo, ResourceInfo } from '@messenger/gen/google/rpc/error_details';
import { Status } from '@messenger/gen/google/rpc/status';
import { type ApiCatalog, createApiCatalog } from '@messenger/platform/api-catalog';
import {
  createLocalJwksSource,
  createTokenAuthenticator,
  createTokenSigner,
  generateSigningKeyRing,
  InMemoryRevocationList,
  type TokenAuthenticator,
} from '@messenger/platform/auth';
import { canonicalId, DomainError, ErrorKind } from '@messenger/platform/domain';
import {
  type CallContext,
  createGrpcServer,
  type GrpcServer,
  type GrpcTls,
  STATUS_DETAILS_KEY,
} from '@messenger/platform/grpc';
import { createLogger, type Logger } from '@messenger/platform/logger';
import { createMetrics, type Metrics } from '@messenger/platform/metrics';
import type { FastifyInstance } from 'fastify';
import { build, type GatewayOptions } from '../src/app.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bufBin = join(repoRoot, 'node_modules/.bin/buf');
const run = promisify(execFile);
export const PROTO_FILE = 'messenger/gatewaytest/v1/gateway.proto';
export const PROFILE_SERVICE = 'messenger.gatewaytest.v1.ProfileService';
export const MIRROR_SERVICE = 'messenger.gatewaytest.v1.MirrorService';

let cached: Promise<Uint8Array> | undefined;

/** The test contracts as a FileDescriptorSet (with comments), built once per test file. */
export function testDescriptorSet(): Promise<Uint8Array> {
  cached ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gw-proto-'));
    try {
      const out = join(dir, 'gw.binpb');
      await run(bufBin, ['build', 'api-gateway/test/protos', '--as-file-descriptor-set', '-o', out], { cwd: repoRoot });
      return await readFile(out);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return cached;
}

/**
 * Builds the test contracts with `edit` applied to the proto source — as a
 * developer adding an RPC would, then regenerating. Runs in a throwaway buf
 * workspace holding copies of the test protos and their imports.
 */
export async function editedDescriptorSet(edit: (source: string) => string): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'gw-proto-edit-'));
  try {
    await cp(join(repoRoot, 'api-gateway/test/protos'), join(dir, 'protos'), { recursive: true });
    await mkdir(join(dir, 'deps/messenger'), { recursive: true });
    await cp(join(repoRoot, 'proto/messenger/options'), join(dir, 'deps/messenger/options'), { recursive: true });
    await cp(join(repoRoot, '.build/proto-deps/google'), join(dir, 'deps/google'), { recursive: true });
    await writeFile(join(dir, 'buf.yaml'), 'version: v2\nmodules:\n  - path: protos\n  - path: deps\n');
    const file = join(dir, 'protos', PROTO_FILE);
    await writeFile(file, edit(await readFile(file, 'utf8')));
    await run(bufBin, ['build', '--as-file-descriptor-set', '-o', 'out.binpb'], { cwd: dir });
    return await readFile(join(dir, 'out.binpb'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function testCatalog(): Promise<ApiCatalog> {
  return createApiCatalog(await testDescriptorSet());
}

// ---- tokens -------------------------------------------------------------------

export const TRUST = { issuer: 'messenger-auth', audience: 'messenger', serviceAudience: 'messenger-internal' };

export interface TestAuth {
  readonly verifier: TokenAuthenticator;
  readonly revocations: InMemoryRevocationList;
  /** A real access token for the user (ES256, signed by the platform signer). */
  token(userId: string, opts?: { roles?: string[]; sessionId?: string; ttlSeconds?: number }): Promise<string>;
}

export async function createTestAuth(): Promise<TestAuth> {
  const ring = await generateSigningKeyRing();
  const signer = createTokenSigner({ ...TRUST, keys: ring });
  const revocations = new InMemoryRevocationList();
  const verifier = createTokenAuthenticator({ ...TRUST, jwks: createLocalJwksSource(ring), revocations });
  return {
    verifier,
    revocations,
    token: async (userId, opts = {}) =>
      (
        await signer.signAccessToken({
          userId,
          sessionId: opts.sessionId ?? `s-${userId}`,
          roles: opts.roles ?? [],
          ttlSeconds: opts.ttlSeconds,
        })
      ).token,
  };
}

// ---- upstream ----------------------------------------------------------------

type Handler = (
  request: Message,
  ctx: CallContext,
  send?: (m: Message) => Promise<void>,
  accept?: () => void,
) => Promise<unknown>;

/** What the test upstream did, for assertions. */
export interface UpstreamState {
  profiles: Map<string, { nickname: string; about: string }>;
  /** Upstream calls per method name. */
  calls: Map<string, number>;
  /** GetProfile waits this long before answering (single-flight tests). */
  profileDelayMs: number;
  /** Sleep calls that ended because the client cancelled. */
  cancelled: number;
  /** `resume_after` of each StreamUpdates call. */
  streamResumes: string[];
  /** The `resume_after` of each StreamUpdates call that ended because the client cancelled. */
  cancelledResumes: string[];
  /** Updates each stream sends at once (ids 1..n after the resume point). */
  streamUpdates: number;
}

export interface TestUpstream {
  readonly address: string;
  readonly state: UpstreamState;
  readonly server: GrpcServer;
  close(): Promise<void>;
}

/** A ServiceDefinition whose (de)serializers are the descriptors' own binary codec. */
export function definitionOf(service: DescService): ServiceDefinition {
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

export async function startTestUpstream(
  catalog: ApiCatalog,
  auth: TestAuth,
  opts: { metrics?: Metrics; logger?: Logger; tls?: GrpcTls } = {},
): Promise<TestUpstream> {
  const state: UpstreamState = {
    profiles: new Map([
      ['u1', { nickname: 'alice', about: 'hi' }],
      ['u2', { nickname: 'bob', about: '' }],
    ]),
    calls: new Map(),
    profileDelayMs: 0,
    cancelled: 0,
    streamResumes: [],
    cancelledResumes: [],
    streamUpdates: 3,
  };
  const count = (name: string) => {
    const n = (state.calls.get(name) ?? 0) + 1;
    state.calls.set(name, n);
    return n;
  };
  const profileOf = (requested: string, reads: number) => {
    // As the user service does: ids are looked up in their canonical (lowercase) form.
    const id = canonicalId(requested);
    const p = state.profiles.get(id);
    if (!p) throw new DomainError(ErrorKind.NotFound, 'PROFILE_NOT_FOUND', `profile ${id} not found`);
    return { userId: id, nickname: p.nickname, about: p.about, reads: BigInt(reads) };
  };

  const handlers: Record<string, Record<string, Handler>> = {
    [PROFILE_SERVICE]: {
      GetProfile: async (req, ctx) => {
        const n = count('GetProfile');
        if (state.profileDelayMs > 0) await sleep(state.profileDelayMs, undefined, { signal: ctx.signal });
        return { profile: profileOf((req as unknown as { userId: string }).userId, n) };
      },
      UpdateProfile: async (req) => {
        const r = req as unknown as { userId: string; about: string };
        const p = state.profiles.get(r.userId);
        if (!p) throw new DomainError(ErrorKind.NotFound, 'PROFILE_NOT_FOUND', 'no such profile');
        p.about = r.about;
        return { profile: profileOf(r.userId, count('UpdateProfile')) };
      },
      ListContacts: async (_req, ctx) => {
        const n = count('ListContacts');
        const owner = ctx.caller.kind === 'user' ? ctx.caller.userId : '';
        return { ownerId: owner, userIds: owner === 'u1' ? ['u2'] : [], reads: BigInt(n) };
      },
      SignIn: async () => ({ ok: true }),
      Purge: async () => ({}),
      Internal: async () => ({}),
      StreamUpdates: async (req, ctx, send, accept) => {
        const resume = (req as unknown as { resumeAfter: string }).resumeAfter;
        state.streamResumes.push(resume);
        // Refused before the stream is accepted (trailers only), as a service checks its request.
        if (resume === 'bad')
          throw DomainError.invalid([{ field: 'resume_after', description: 'is not an update id' }]);
        if (resume === 'session-ended')
          throw new DomainError(ErrorKind.Unauthenticated, 'SESSION_ENDED', 'the session has ended');
        accept?.();
        // `broken`: accepted, then failing before any update.
        if (resume === 'broken') throw new DomainError(ErrorKind.Unavailable, 'broken', 'the store is unreachable');
        // `quiet`: accepted, and no update comes.
        const count = resume === 'quiet' ? 0 : state.streamUpdates;
        // `restarting`: the updates, then the end a restarting service gives a stream.
        const restarting = resume === 'restarting';
        const from = resume === '' || restarting ? 1 : Number(resume) + 1;
        for (let i = from; i < from + count; i++) {
          await send?.(create(ctx.method.descriptor.output, { update: { updateId: String(i), text: `update ${i}` } }));
        }
        if (restarting) throw new DomainError(ErrorKind.Unavailable, 'restarting', 'the service is restarting');
        await new Promise<void>((resolve) => {
          if (ctx.signal.aborted) resolve();
          ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        state.cancelledResumes.push(resume);
      },
    },
    [MIRROR_SERVICE]: {
      Mirror: async (req) => req,
      Fail: async (req) => failAs((req as unknown as { mode: string }).mode),
      Sleep: async (req, ctx) => {
        count('Sleep');
        try {
          await sleep((req as unknown as { ms: number }).ms, undefined, { signal: ctx.signal });
        } catch (e) {
          if (ctx.signal.aborted) state.cancelled++;
          throw e;
        }
        return { done: true };
      },
      Inspect: async (_req, ctx) => {
        const metadata: Record<string, string> = {};
        for (const [k, v] of Object.entries(ctx.metadata.getMap())) if (typeof v === 'string') metadata[k] = v;
        return { metadata, callerId: ctx.caller.kind === 'user' ? ctx.caller.userId : '' };
      },
    },
  };

  const services = [];
  for (const svc of catalog.services) {
    const own = handlers[svc.typeName] ?? {};
    const impl: Record<string, Handler> = {};
    for (const m of svc.methods) {
      // Methods the tests add on the fly answer with an empty response.
      impl[m.name] = own[m.name] ?? (async () => create(m.output));
    }
    services.push({ definition: definitionOf(svc), handlers: impl });
  }
  const server = createGrpcServer({
    name: 'gateway-test',
    services,
    catalog,
    logger: opts.logger ?? createLogger({ level: 'silent', service: 'gateway-test-upstream' }),
    metrics: opts.metrics ?? createMetrics({ defaultMetrics: false }),
    authenticator: auth.verifier,
    tls: opts.tls,
  });
  const port = await server.listen('127.0.0.1', 0);
  return { address: `127.0.0.1:${port}`, state, server, close: () => server.shutdown(200) };
}

function failAs(mode: string): never {
  switch (mode) {
    case 'invalid':
      throw DomainError.invalid([{ field: 'mode', description: 'must be something else' }]);
    case 'not_found':
      throw new DomainError(ErrorKind.NotFound, 'THING_NOT_FOUND', 'thing not found');
    case 'exists':
      throw new DomainError(ErrorKind.AlreadyExists, 'NICKNAME_TAKEN', 'nickname taken');
    case 'unauthenticated':
      throw new DomainError(ErrorKind.Unauthenticated, 'TOKEN_INVALID', 'the bearer token is not valid');
    case 'denied':
      throw new DomainError(ErrorKind.PermissionDenied, 'NOT_YOURS', 'not yours');
    case 'exhausted':
      throw new DomainError(ErrorKind.ResourceExhausted, 'SLOW_DOWN', 'slow down');
    case 'precondition':
      throw new DomainError(ErrorKind.FailedPrecondition, 'NOT_READY', 'not ready');
    case 'unavailable':
      throw new DomainError(ErrorKind.Unavailable, 'DB_DOWN', 'mongodb at 10.0.0.7:27017 is down');
    case 'details': {
      // A status as another gRPC stack might send it: with DebugInfo (internal) and ResourceInfo.
      const md = new Metadata();
      const status = Status.encode({
        code: 5,
        message: 'no such resource',
        details: [
          {
            typeUrl: 'type.googleapis.com/google.rpc.DebugInfo',
            value: Buffer.from(DebugInfo.encode({ stackEntries: ['at secret.ts:1'], detail: 'secret' }).finish()),
          },
          {
            typeUrl: 'type.googleapis.com/google.rpc.ResourceInfo',
            value: Buffer.from(
              ResourceInfo.encode({
                resourceType: 'thing',
                resourceName: 't1',
                owner: '',
                description: 'gone',
              }).finish(),
            ),
          },
          {
            typeUrl: 'type.googleapis.com/google.rpc.BadRequest',
            value: Buffer.from(
              BadRequest.encode({
                fieldViolations: [{ field: 'a.b', description: 'bad', reason: '', localizedMessage: undefined }],
              }).finish(),
            ),
          },
          { typeUrl: 'type.googleapis.com/unknown.Thing', value: Buffer.from([1, 2, 3]) },
        ],
      }).finish();
      md.set(STATUS_DETAILS_KEY, Buffer.from(status));
      throw Object.assign(new Error('no such resource'), { code: 5, details: 'no such resource', metadata: md });
    }
    default:
      throw new Error('database password is hunter2');
  }
}

// ---- gateway -----------------------------------------------------------------

export interface GatewayFixture {
  readonly app: FastifyInstance;
  readonly upstream: TestUpstream;
  readonly auth: TestAuth;
  readonly catalog: ApiCatalog;
  readonly metrics: Metrics;
  close(): Promise<void>;
}

type Overrides = Partial<GatewayOptions> & {
  descriptorSet?: Uint8Array;
  upstreamFixture?: TestUpstream;
  testAuth?: TestAuth;
};

export interface PreparedGateway {
  readonly options: GatewayOptions;
  readonly upstream: TestUpstream;
  readonly auth: TestAuth;
  readonly catalog: ApiCatalog;
  readonly metrics: Metrics;
  /** Stops what was started for it (the upstream unless one was passed in). */
  cleanup(): Promise<void>;
}

/** The test upstream plus the options of a gateway in front of it. */
export async function prepareGateway(overrides: Overrides = {}): Promise<PreparedGateway> {
  const { descriptorSet, upstreamFixture, testAuth, ...rest } = overrides;
  const catalog = rest.catalog ?? createApiCatalog(descriptorSet ?? (await testDescriptorSet()));
  const auth = testAuth ?? (await createTestAuth());
  const upstream = upstreamFixture ?? (await startTestUpstream(catalog, auth));
  const metrics = rest.metrics ?? createMetrics({ defaultMetrics: false });
  const options: GatewayOptions = {
    catalog,
    upstreams: { [PROFILE_SERVICE]: upstream.address, [MIRROR_SERVICE]: upstream.address },
    auth: { verifier: auth.verifier, revocations: auth.revocations },
    logger: createLogger({ level: process.env.GATEWAY_TEST_LOG ?? 'silent', service: 'api-gateway' }),
    metrics,
    ...rest,
  };
  return {
    options,
    upstream,
    auth,
    catalog,
    metrics,
    cleanup: async () => {
      if (!upstreamFixture) await upstream.close();
      if (!testAuth) auth.revocations.close();
    },
  };
}

/** The test upstream plus a gateway in front of it (not listening: use inject, or listen yourself). */
export async function startGateway(overrides: Overrides = {}): Promise<GatewayFixture> {
  const prepared = await prepareGateway(overrides);
  const app = await build(prepared.options);
  await app.ready();
  return {
    app,
    upstream: prepared.upstream,
    auth: prepared.auth,
    catalog: prepared.catalog,
    metrics: prepared.metrics,
    close: async () => {
      await app.close();
      await prepared.cleanup();
    },
  };
}

/** What a request got back, in light-my-request's shape so a test can take it from either. */
export interface Answer {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string | string[] | number | undefined>>;
  readonly body: string;
  // biome-ignore lint/suspicious/noExplicitAny: as light-my-request's `json()`, for tests to read what they expect
  json(): any;
}

/** A header given as a list is sent as that many header lines. */
export type Send = (req: { url: string; headers?: Record<string, string | string[]> }) => Promise<Answer>;

/**
 * GETs through a real socket (node's global agent keeps it alive): the way production traffic
 * arrives, where cache hits are answered before Fastify routes them
 * (`inject()` always goes through Fastify).
 */
export async function socketSender(app: FastifyInstance): Promise<Send> {
  if (!app.server.listening) await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return ({ url, headers = {} }) =>
    new Promise((resolvePromise, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: url, method: 'GET', headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolvePromise({ statusCode: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
}

/** The same requests through `inject()`: always Fastify's whole path. */
export function injectSender(app: FastifyInstance): Send {
  return async ({ url, headers = {} }) => {
    const res = await app.inject({ method: 'GET', url, headers });
    return { statusCode: res.statusCode, headers: res.headers, body: res.body, json: () => res.json() };
  };
}
