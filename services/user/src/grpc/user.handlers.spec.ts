// gRPC integration: the real service on a loopback port, called with real tokens.
import { randomUUID } from 'node:crypto';
import { credentials, type Metadata, status } from '@grpc/grpc-js';
import type { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { UserDeleted, UserUpdated } from '@messenger/gen/messenger/user/v1/events';
import { type User, UserServiceClient } from '@messenger/gen/messenger/user/v1/user';
import {
  createLogger,
  createMetrics,
  fieldViolationsOf,
  InProcessEventBus,
  loadMessengerCatalog,
  reasonOf,
} from '@messenger/platform';
import { call, createTestAuth, failure, type TestAuth } from '@messenger/platform/testing';
import { type RunningService, startUserService } from '../app.ts';
import { MemoryUserStore } from '../store/memory/memory-user-store.ts';

describe('UserService over gRPC', () => {
  let auth: TestAuth;
  let bus: InProcessEventBus;
  let running: RunningService;
  let client: UserServiceClient;
  let asAuth: Metadata;
  const events: EventEnvelope[] = [];

  beforeAll(async () => {
    auth = await createTestAuth();
    bus = new InProcessEventBus();
    await bus.subscribe({
      topics: ['user.events'],
      group: 'user-spec',
      delivery: 'broadcast',
      handle: async (event) => {
        events.push(event);
      },
    });
    running = await startUserService(
      {
        store: new MemoryUserStore(),
        bus,
        logger: createLogger({ level: 'silent', service: 'user' }),
        metrics: createMetrics({ defaultMetrics: false }),
        catalog: await loadMessengerCatalog(),
        authenticator: auth.authenticator,
      },
      { host: '127.0.0.1', port: 0 },
    );
    client = new UserServiceClient(`127.0.0.1:${running.port}`, credentials.createInsecure());
    asAuth = auth.bearer(await auth.serviceToken('auth'));
  });

  afterAll(async () => {
    client.close();
    await running.stop(1000);
    await bus.close();
    auth.close();
  });

  let seq = 0;
  /** A nickname no other test uses. */
  const nick = (base = 'user') => `${base}_${++seq}_${Math.floor(Math.random() * 1e6)}`;
  const as = async (userId: string, roles: string[] = []) => auth.bearer(await auth.userToken(userId, roles));
  const createUser = async (nickname = nick()): Promise<User> => {
    const res = await call(client, client.createUser, { userId: randomUUID(), nickname }, asAuth);
    return res.user as User;
  };
  const violations = async (pending: Promise<unknown>) => {
    const error = await failure(pending);
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    return fieldViolationsOf(error).map((v) => v.field);
  };
  const waitForEvent = async (predicate: (e: EventEnvelope) => boolean): Promise<EventEnvelope> => {
    for (let i = 0; i < 200; i++) {
      const found = events.find(predicate);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('event did not arrive');
  };

  describe('CreateUser', () => {
    it('creates a profile for the auth service, and returns it unchanged on a retry', async () => {
      const userId = randomUUID();
      const first = await call(client, client.createUser, { userId, nickname: 'Creator_1' }, asAuth);
      expect(first.user).toMatchObject({ userId, nickname: 'Creator_1', about: '', avatarUrl: '' });
      expect(first.user?.createTime).toEqual(first.user?.updateTime);
      const retry = await call(client, client.createUser, { userId, nickname: 'Creator_1' }, asAuth);
      expect(retry.user).toEqual(first.user);
      const created = await waitForEvent((e) => e.type === 'user.user.created' && e.key === userId);
      expect(created.source).toBe('user');
    });

    it('refuses a nickname taken in any case, and an id taken with another nickname', async () => {
      const alice = await createUser('Alice_taken');
      const taken = await failure(
        call(client, client.createUser, { userId: randomUUID(), nickname: 'alice_TAKEN' }, asAuth),
      );
      expect([taken.code, reasonOf(taken)]).toEqual([status.ALREADY_EXISTS, 'NICKNAME_TAKEN']);
      const idTaken = await failure(
        call(client, client.createUser, { userId: alice.userId, nickname: nick() }, asAuth),
      );
      expect([idTaken.code, reasonOf(idTaken)]).toEqual([status.ALREADY_EXISTS, 'USER_EXISTS']);
    });

    it('gives exactly one of two simultaneous creations of one nickname', async () => {
      const nickname = nick('race');
      const results = await Promise.allSettled(
        [nickname, nickname.toUpperCase()].map((n) =>
          call(client, client.createUser, { userId: randomUUID(), nickname: n }, asAuth),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.find((r) => r.status === 'rejected');
      expect(rejected?.status === 'rejected' && (rejected.reason as { code: number }).code).toBe(status.ALREADY_EXISTS);
    });

    it.each([
      ['a malformed id', { userId: 'not-a-uuid', nickname: 'fine_name' }, ['user_id']],
      ['a missing id and nickname', { userId: '', nickname: '' }, ['user_id', 'nickname']],
      ['a short nickname', { userId: randomUUID(), nickname: 'ab' }, ['nickname']],
      ['a long nickname', { userId: randomUUID(), nickname: 'a'.repeat(33) }, ['nickname']],
      ['a nickname with a space', { userId: randomUUID(), nickname: 'bad name' }, ['nickname']],
      ['a nickname with a dash', { userId: randomUUID(), nickname: 'bad-name' }, ['nickname']],
      ['a non-ASCII nickname', { userId: randomUUID(), nickname: 'ålice' }, ['nickname']],
    ])('refuses %s with INVALID_ARGUMENT naming the field', async (_label, request, fields) => {
      expect(await violations(call(client, client.createUser, request, asAuth))).toEqual(fields);
    });

    it('is internal: a user token gets PERMISSION_DENIED, no token UNAUTHENTICATED', async () => {
      const request = { userId: randomUUID(), nickname: nick() };
      const asUser = await failure(call(client, client.createUser, request, await as(request.userId)));
      expect(asUser.code).toBe(status.PERMISSION_DENIED);
      const anonymous = await failure(call(client, client.createUser, request));
      expect(anonymous.code).toBe(status.UNAUTHENTICATED);
    });
  });

  describe('GetUser and BatchGetUsers', () => {
    it('lets any signed-in user read any profile', async () => {
      const bob = await createUser();
      const res = await call(client, client.getUser, { userId: bob.userId }, await as(randomUUID()));
      expect(res.user).toEqual(bob);
      const byService = await call(client, client.getUser, { userId: bob.userId.toUpperCase() }, asAuth);
      expect(byService.user).toEqual(bob);
    });

    it('answers NOT_FOUND, INVALID_ARGUMENT and UNAUTHENTICATED', async () => {
      const md = await as(randomUUID());
      const missing = await failure(call(client, client.getUser, { userId: randomUUID() }, md));
      expect(missing.code).toBe(status.NOT_FOUND);
      expect(await violations(call(client, client.getUser, { userId: 'x' }, md))).toEqual(['user_id']);
      const anonymous = await failure(call(client, client.getUser, { userId: randomUUID() }));
      expect(anonymous.code).toBe(status.UNAUTHENTICATED);
      const forged = await failure(call(client, client.getUser, { userId: randomUUID() }, auth.bearer('not.a.jwt')));
      expect(forged.code).toBe(status.UNAUTHENTICATED);
    });

    it('reads a batch in request order, listing missing ids, for services only', async () => {
      const a = await createUser();
      const b = await createUser();
      const ghost = randomUUID();
      const res = await call(client, client.batchGetUsers, { userIds: [b.userId, ghost, a.userId, b.userId] }, asAuth);
      expect(res.users.map((u) => u.userId)).toEqual([b.userId, a.userId]);
      expect(res.missingUserIds).toEqual([ghost]);
      expect(await violations(call(client, client.batchGetUsers, { userIds: [] }, asAuth))).toEqual(['user_ids']);
      const tooMany = Array.from({ length: 101 }, () => randomUUID());
      expect(await violations(call(client, client.batchGetUsers, { userIds: tooMany }, asAuth))).toEqual(['user_ids']);
      expect(await violations(call(client, client.batchGetUsers, { userIds: [a.userId, 'x'] }, asAuth))).toEqual([
        'user_ids[1]',
      ]);
      const asUser = await failure(call(client, client.batchGetUsers, { userIds: [a.userId] }, await as(a.userId)));
      expect(asUser.code).toBe(status.PERMISSION_DENIED);
    });
  });

  describe('UpdateUser', () => {
    const update = (userId: string, user: Partial<User> | undefined, updateMask: string[] | undefined) => ({
      userId,
      user: user && {
        userId: '',
        nickname: '',
        about: '',
        avatarUrl: '',
        createTime: undefined,
        updateTime: undefined,
        ...user,
      },
      updateMask,
    });

    it('changes the masked fields of the owner and publishes before and after', async () => {
      const carol = await createUser();
      const res = await call(
        client,
        client.updateUser,
        update(carol.userId, { about: 'hello 👋', avatarUrl: 'https://cdn.example.com/c.png', nickname: 'ignored' }, [
          'about',
          'avatar_url',
        ]),
        await as(carol.userId),
      );
      expect(res.user).toMatchObject({
        nickname: carol.nickname,
        about: 'hello 👋',
        avatarUrl: 'https://cdn.example.com/c.png',
      });
      expect(res.user?.updateTime?.getTime()).toBeGreaterThanOrEqual(carol.updateTime?.getTime() ?? 0);

      const event = await waitForEvent((e) => e.type === 'user.user.updated' && e.key === carol.userId);
      const payload = UserUpdated.decode(event.payload?.value ?? new Uint8Array());
      expect(payload.before).toEqual(carol);
      expect(payload.after).toEqual(res.user);
      expect(payload.changed).toEqual(['about', 'avatar_url']);
    });

    it('lets an admin rename someone else, and clears a named empty field', async () => {
      const dave = await createUser();
      await call(client, client.updateUser, update(dave.userId, { about: 'x' }, ['about']), await as(dave.userId));
      const newName = nick('Dave');
      const res = await call(
        client,
        client.updateUser,
        update(dave.userId, { nickname: newName }, ['nickname', 'about']),
        await as(randomUUID(), ['admin']),
      );
      expect(res.user).toMatchObject({ nickname: newName, about: '' });
      await createUser(dave.nickname); // the old nickname is free again
    });

    it('changes nothing, and publishes nothing, when the values are the same', async () => {
      const erin = await createUser();
      const res = await call(
        client,
        client.updateUser,
        update(erin.userId, { about: '' }, ['about']),
        await as(erin.userId),
      );
      expect(res.user).toEqual(erin);
      await new Promise((r) => setTimeout(r, 50));
      expect(events.filter((e) => e.type === 'user.user.updated' && e.key === erin.userId)).toEqual([]);
    });

    it('refuses anyone but the owner or an admin', async () => {
      const owner = await createUser();
      const request = update(owner.userId, { about: 'hacked' }, ['about']);
      const other = await failure(call(client, client.updateUser, request, await as(randomUUID())));
      expect([other.code, reasonOf(other)]).toEqual([status.PERMISSION_DENIED, 'NOT_PROFILE_OWNER']);
      const service = await failure(call(client, client.updateUser, request, asAuth));
      expect(service.code).toBe(status.PERMISSION_DENIED);
      const anonymous = await failure(call(client, client.updateUser, request));
      expect(anonymous.code).toBe(status.UNAUTHENTICATED);
    });

    it('answers NOT_FOUND for a missing user and ALREADY_EXISTS for a taken nickname', async () => {
      const admin = await as(randomUUID(), ['admin']);
      const missing = await failure(
        call(client, client.updateUser, update(randomUUID(), { about: 'x' }, ['about']), admin),
      );
      expect(missing.code).toBe(status.NOT_FOUND);
      const a = await createUser();
      const b = await createUser();
      const taken = await failure(
        call(
          client,
          client.updateUser,
          update(b.userId, { nickname: a.nickname.toUpperCase() }, ['nickname']),
          await as(b.userId),
        ),
      );
      expect(taken.code).toBe(status.ALREADY_EXISTS);
    });

    it.each([
      ['an empty mask', { about: 'x' }, [], ['update_mask']],
      ['no mask', { about: 'x' }, undefined, ['update_mask']],
      ['a mask naming another field', { about: 'x' }, ['about', 'user_id'], ['update_mask']],
      ['a mask in JSON names', { avatarUrl: 'https://a.example/x' }, ['avatarUrl'], ['update_mask']],
      ['no user', undefined, ['about'], ['user']],
      ['a cleared nickname', { nickname: '' }, ['nickname'], ['user.nickname']],
      ['a malformed nickname', { nickname: 'no way' }, ['nickname'], ['user.nickname']],
      ['an about of 501 characters', { about: '👋'.repeat(501) }, ['about'], ['user.about']],
      ['an http avatar', { avatarUrl: 'http://a.example/x.png' }, ['avatar_url'], ['user.avatar_url']],
      ['a relative avatar', { avatarUrl: '/x.png' }, ['avatar_url'], ['user.avatar_url']],
      [
        'an avatar URL over 2048 characters',
        { avatarUrl: `https://a.example/${'x'.repeat(2031)}` },
        ['avatar_url'],
        ['user.avatar_url'],
      ],
      [
        'two bad values',
        { about: 'a'.repeat(501), avatarUrl: 'ftp://x' },
        ['about', 'avatar_url'],
        ['user.about', 'user.avatar_url'],
      ],
    ])('refuses %s with INVALID_ARGUMENT naming the field', async (_label, user, mask, fields) => {
      const owner = await createUser();
      const md = await as(owner.userId);
      expect(await violations(call(client, client.updateUser, update(owner.userId, user, mask), md))).toEqual(fields);
    });

    it('accepts the longest about and avatar URL', async () => {
      const owner = await createUser();
      const avatarUrl = `https://a.example/${'x'.repeat(2030)}`;
      expect(avatarUrl).toHaveLength(2048);
      const res = await call(
        client,
        client.updateUser,
        update(owner.userId, { about: '👋'.repeat(500), avatarUrl }, ['about', 'avatar_url']),
        await as(owner.userId),
      );
      expect(res.user?.avatarUrl).toBe(avatarUrl);
    });
  });

  describe('DeleteUser', () => {
    it('lets the owner delete, frees the nickname and publishes the profile as it was', async () => {
      const frank = await createUser();
      const md = await as(frank.userId);
      const other = await failure(call(client, client.deleteUser, { userId: frank.userId }, await as(randomUUID())));
      expect(other.code).toBe(status.PERMISSION_DENIED);
      await call(client, client.deleteUser, { userId: frank.userId }, md);
      const gone = await failure(call(client, client.getUser, { userId: frank.userId }, md));
      expect(gone.code).toBe(status.NOT_FOUND);
      const again = await failure(call(client, client.deleteUser, { userId: frank.userId }, md));
      expect(again.code).toBe(status.NOT_FOUND);
      await createUser(frank.nickname);
      const event = await waitForEvent((e) => e.type === 'user.user.deleted' && e.key === frank.userId);
      expect(UserDeleted.decode(event.payload?.value ?? new Uint8Array()).before).toEqual(frank);
    });

    it('lets an admin delete anyone, and checks the id', async () => {
      const gina = await createUser();
      const admin = await as(randomUUID(), ['admin']);
      await call(client, client.deleteUser, { userId: gina.userId }, admin);
      expect(await violations(call(client, client.deleteUser, { userId: 'nope' }, admin))).toEqual(['user_id']);
    });
  });

  describe('SearchUsers', () => {
    it('finds nickname prefixes case-insensitively, in order, page by page', async () => {
      const prefix = `srch${seq++}${Math.floor(Math.random() * 1e4)}`;
      const names = ['b', 'A', 'c_', 'c.', 'D', '0'].map((s) => `${prefix}${s}`);
      for (const name of names) await createUser(name);
      await createUser(`x${prefix}`);
      const md = await as(randomUUID());
      const seen: string[] = [];
      let pageToken = '';
      let pages = 0;
      do {
        const res = await call(client, client.searchUsers, { query: prefix.toUpperCase(), pageSize: 4, pageToken }, md);
        seen.push(...res.users.map((u) => u.nickname));
        pageToken = res.nextPageToken;
        pages++;
      } while (pageToken !== '');
      expect(pages).toBe(2);
      const order = ['0', 'A', 'b', 'c.', 'c_', 'D'].map((s) => `${prefix}${s}`);
      expect(seen).toEqual(order);
    });

    it('pages 50 by default', async () => {
      const prefix = `many${seq++}${Math.floor(Math.random() * 1e4)}`;
      await Promise.all(Array.from({ length: 51 }, (_, i) => createUser(`${prefix}_${String(i).padStart(2, '0')}`)));
      const md = await as(randomUUID());
      const first = await call(client, client.searchUsers, { query: prefix, pageSize: 0, pageToken: '' }, md);
      expect(first.users).toHaveLength(50);
      const second = await call(
        client,
        client.searchUsers,
        { query: prefix, pageSize: 500, pageToken: first.nextPageToken },
        md,
      );
      expect(second.users.map((u) => u.nickname)).toEqual([`${prefix}_50`]);
      expect(second.nextPageToken).toBe('');
    });

    it.each([
      ['an empty query', { query: '', pageSize: 0, pageToken: '' }, ['query']],
      ['a query with a space', { query: 'a b', pageSize: 0, pageToken: '' }, ['query']],
      ['a query over 32 characters', { query: 'a'.repeat(33), pageSize: 0, pageToken: '' }, ['query']],
      ['a negative page size', { query: 'abc', pageSize: -1, pageToken: '' }, ['page_size']],
      ['a garbage page token', { query: 'abc', pageSize: 0, pageToken: '!!!' }, ['page_token']],
    ])('refuses %s with INVALID_ARGUMENT', async (_label, request, fields) => {
      expect(await violations(call(client, client.searchUsers, request, await as(randomUUID())))).toEqual(fields);
    });

    it('refuses a page token of another query', async () => {
      const prefix = `tok${seq++}${Math.floor(Math.random() * 1e4)}`;
      for (const s of ['a', 'b']) await createUser(`${prefix}${s}`);
      const md = await as(randomUUID());
      const first = await call(client, client.searchUsers, { query: prefix, pageSize: 1, pageToken: '' }, md);
      expect(first.nextPageToken).not.toBe('');
      const request = { query: `${prefix}b`, pageSize: 1, pageToken: first.nextPageToken };
      expect(await violations(call(client, client.searchUsers, request, md))).toEqual(['page_token']);
    });
  });
});
