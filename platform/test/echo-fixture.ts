// Test-only: the EchoService from platform/test/protos, built with buf at run
// time and served through the platform's own server bootstrap. proto-loader
// objects keep the proto field names (snake_case).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  loadPackageDefinition,
  type Metadata,
  type ServiceClientConstructor,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import { loadFileDescriptorSetFromBuffer } from '@grpc/proto-loader';
import { type Logger, pino } from 'pino';
import { type ApiCatalog, createApiCatalog } from '../src/api-catalog.ts';
import { DomainError, ErrorKind } from '../src/domain/errors.ts';
import { ANONYMOUS, type Authenticator } from '../src/grpc/auth-context.ts';
import {
  type ConnectionAge,
  createGrpcServer,
  EncodedMessage,
  type GrpcServer,
  type GrpcServerTransport,
} from '../src/grpc/server.ts';
import type { GrpcTls } from '../src/grpc/tls.ts';
import { createMetrics, type Metrics } from '../src/metrics.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const bufBin = join(repoRoot, 'node_modules/.bin/buf');

export async function buildEchoDescriptorSet(): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'echo-proto-'));
  try {
    const out = join(dir, 'echo.binpb');
    await promisify(execFile)(bufBin, ['build', 'platform/test/protos', '--as-file-descriptor-set', '-o', out], {
      cwd: repoRoot,
    });
    return await readFile(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface EchoFixture {
  catalog: ApiCatalog;
  definition: ServiceDefinition;
  Client: ServiceClientConstructor;
}

export async function loadEcho(): Promise<EchoFixture> {
  const bytes = await buildEchoDescriptorSet();
  const pkg = loadPackageDefinition(loadFileDescriptorSetFromBuffer(Buffer.from(bytes)));
  const Client = (
    pkg.messenger as never as {
      testing: { v1: { EchoService: ServiceClientConstructor } };
    }
  ).testing.v1.EchoService;
  return {
    catalog: createApiCatalog(bytes),
    definition: Client.service,
    Client,
  };
}

/** Treats `authorization: Bearer user:<id>` as a signed-in user; a real verifier lives in the auth module. */
export const fakeUserAuthenticator: Authenticator = {
  async authenticate(metadata: Metadata) {
    const header = metadata.get('authorization')[0];
    if (typeof header !== 'string') return ANONYMOUS;
    const m = /^Bearer user:(\w+)$/.exec(header);
    if (!m?.[1]) throw new DomainError(ErrorKind.Unauthenticated, 'TOKEN_INVALID', 'invalid token');
    return {
      kind: 'user',
      userId: m[1],
      sessionId: 's',
      roles: [],
      token: header,
      expiresAtMs: Date.now() + 900_000,
    };
  },
};

export function startEchoServer(
  fx: EchoFixture,
  opts: {
    metrics?: Metrics;
    logLevel?: string;
    logger?: Logger;
    connectionAge?: ConnectionAge;
    tls?: GrpcTls;
    transport?: GrpcServerTransport;
  } = {},
): { server: GrpcServer; attempts: Map<string, number>; metrics: Metrics; cancelled: string[] } {
  const attempts = new Map<string, number>();
  /** The text of each Sleep whose call was cancelled (by the client, or its deadline) while it slept. */
  const cancelled: string[] = [];
  const metrics = opts.metrics ?? createMetrics({ defaultMetrics: false });
  const flaky = async (req: { key: string; failures: number }) => {
    const n = (attempts.get(req.key) ?? 0) + 1;
    attempts.set(req.key, n);
    if (n <= req.failures) throw new DomainError(ErrorKind.Unavailable, 'TRY_AGAIN', 'temporarily unavailable');
    return { attempts: n };
  };
  const server = createGrpcServer({
    name: 'echo',
    catalog: fx.catalog,
    logger: opts.logger ?? pino({ level: opts.logLevel ?? 'silent' }),
    metrics,
    authenticator: fakeUserAuthenticator,
    connectionAge: opts.connectionAge,
    tls: opts.tls,
    transport: opts.transport,
    services: [
      {
        definition: fx.definition,
        handlers: {
          Echo: async (req: { text: string }, ctx: { requestId: string }) => ({
            text: req.text,
            request_id: ctx.requestId,
          }),
          Sleep: async (req: { ms: number; note?: string }, ctx: { signal: AbortSignal }) => {
            ctx.signal.addEventListener('abort', () => cancelled.push(req.note ?? ''));
            await sleep(req.ms, undefined, { signal: ctx.signal });
            return { done: true };
          },
          FlakyRead: flaky,
          FlakyWrite: flaky,
          Fail: async (req: { mode: string }) => {
            if (req.mode === 'invalid') {
              throw DomainError.invalid([{ field: 'mode', description: 'must be something else' }]);
            }
            throw new Error('database password is hunter2');
          },
          Whoami: async (_req: unknown, ctx: { caller: { kind: string; userId?: string } }) => ({
            user_id: ctx.caller.userId,
          }),
          // Even values go as bytes encoded beforehand (EncodedMessage), odd ones as messages.
          Count: async (
            req: { n: number },
            _ctx: unknown,
            send: (m: { value: number } | EncodedMessage) => Promise<void>,
          ) => {
            const encode = fx.definition.Count?.responseSerialize;
            if (!encode) throw new Error('the echo contract has no Count');
            for (let i = 1; i <= req.n; i++)
              await send(i % 2 === 0 ? new EncodedMessage(new Uint8Array(encode({ value: i }))) : { value: i });
          },
        },
      },
    ],
  });
  return { server, attempts, metrics, cancelled };
}
