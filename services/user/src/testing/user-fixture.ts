// Tests only: the real user service on a loopback port with an in-process
// event bus, called with real tokens. Never imported by production code.
import { randomUUID } from 'node:crypto';
import { credentials, type Metadata, status } from '@grpc/grpc-js';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { type User, UserServiceClient } from '@messenger/gen/messenger/user/v1/user';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import { InProcessEventBus } from '@messenger/platform/events';
import { fieldViolationsOf } from '@messenger/platform/grpc';
import { createLogger } from '@messenger/platform/logger';
import { createMetrics } from '@messenger/platform/metrics';
import { call, createTestAuth, failure, type TestAuth } from '@messenger/platform/testing';
import { startUserService, type UserServiceDeps } from '../app.ts';
import { MemoryUserStore } from '../store/memory/memory-user-store.ts';

export interface UserFixture {
  readonly auth: TestAuth;
  readonly client: UserServiceClient;
  /** The auth service's credential: CreateUser and BatchGetUsers are internal. */
  readonly asAuth: Metadata;
  /** Every event published on `user.events`, in arrival order. */
  readonly events: EventEnvelope[];
  /** A nickname no other test uses. */
  nick(base?: string): string;
  /** A signed-in user's credential, with the given roles. */
  as(userId: string, roles?: string[]): Promise<Metadata>;
  /** A new profile, created as the auth service creates them. */
  createUser(nickname?: string): Promise<User>;
  waitForEvent(predicate: (e: EventEnvelope) => boolean): Promise<EventEnvelope>;
  close(): Promise<void>;
}

export async function startUserFixture(
  options: Pick<UserServiceDeps, 'relayPollIntervalMs'> = {},
): Promise<UserFixture> {
  const auth = await createTestAuth();
  const bus = new InProcessEventBus();
  const events: EventEnvelope[] = [];
  await bus.subscribe({
    topics: ['user.events'],
    group: 'user-spec',
    delivery: 'broadcast',
    handle: async (event) => {
      events.push(event);
    },
  });
  const running = await startUserService(
    {
      store: new MemoryUserStore(),
      bus,
      logger: createLogger({ level: 'silent', service: 'user' }),
      metrics: createMetrics({ defaultMetrics: false }),
      catalog: await loadMessengerCatalog(),
      authenticator: auth.authenticator,
      ...options,
    },
    { host: '127.0.0.1', port: 0 },
  );
  const client = new UserServiceClient(`127.0.0.1:${running.port}`, credentials.createInsecure());
  const asAuth = auth.bearer(await auth.serviceToken('auth'));
  let seq = 0;
  const nick = (base = 'user') => `${base}_${++seq}_${Math.floor(Math.random() * 1e6)}`;
  return {
    auth,
    client,
    asAuth,
    events,
    nick,
    as: async (userId, roles = []) => auth.bearer(await auth.userToken(userId, roles)),
    async createUser(nickname = nick()) {
      const res = await call(client, client.createUser, { userId: randomUUID(), nickname }, asAuth);
      return res.user as User;
    },
    async waitForEvent(predicate) {
      for (let i = 0; i < 200; i++) {
        const found = events.find(predicate);
        if (found) return found;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('event did not arrive');
    },
    async close() {
      client.close();
      await running.stop(1000);
      await bus.close();
      auth.close();
    },
  };
}

/** The field paths of an INVALID_ARGUMENT failure. */
export async function violations(pending: Promise<unknown>): Promise<string[]> {
  const error = await failure(pending);
  expect(error.code).toBe(status.INVALID_ARGUMENT);
  return fieldViolationsOf(error).map((v) => v.field);
}

export { call, failure };
