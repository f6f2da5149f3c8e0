// gRPC integration: the real service on a loopback port, called with real
// tokens. UpdateUser is in update-user.handlers.spec.ts.
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { UserDeleted } from '@messenger/gen/messenger/user/v1/events';
import { reasonOf } from '@messenger/platform/grpc';
import { call, failure, startUserFixture, type UserFixture, violations } from '../testing/user-fixture.ts';

describe('UserService over gRPC', () => {
  let f: UserFixture;

  beforeAll(async () => {
    f = await startUserFixture();
  });
  afterAll(async () => {
    await f.close();
  });

  let seq = 0;
  /** A nickname prefix no other test uses. */
  const prefixOf = (base: string) => `${base}${seq++}${Math.floor(Math.random() * 1e4)}`;

  describe('CreateUser', () => {
    it('creates a profile for the auth service, and returns it unchanged on a retry', async () => {
      const userId = randomUUID();
      const first = await call(f.client, f.client.createUser, { userId, nickname: 'Creator_1' }, f.asAuth);
      expect(first.user).toMatchObject({ userId, nickname: 'Creator_1', about: '', avatarUrl: '' });
      expect(first.user?.createTime).toEqual(first.user?.updateTime);
      const retry = await call(f.client, f.client.createUser, { userId, nickname: 'Creator_1' }, f.asAuth);
      expect(retry.user).toEqual(first.user);
      const created = await f.waitForEvent((e) => e.type === 'user.user.created' && e.key === userId);
      expect(created.source).toBe('user');
    });

    it('refuses a nickname taken in any case, and an id taken with another nickname', async () => {
      const alice = await f.createUser('Alice_taken');
      const taken = await failure(
        call(f.client, f.client.createUser, { userId: randomUUID(), nickname: 'alice_TAKEN' }, f.asAuth),
      );
      expect([taken.code, reasonOf(taken)]).toEqual([status.ALREADY_EXISTS, 'NICKNAME_TAKEN']);
      const idTaken = await failure(
        call(f.client, f.client.createUser, { userId: alice.userId, nickname: f.nick() }, f.asAuth),
      );
      expect([idTaken.code, reasonOf(idTaken)]).toEqual([status.ALREADY_EXISTS, 'USER_EXISTS']);
    });

    it('gives exactly one of two simultaneous creations of one nickname', async () => {
      const nickname = f.nick('race');
      const results = await Promise.allSettled(
        [nickname, nickname.toUpperCase()].map((n) =>
          call(f.client, f.client.createUser, { userId: randomUUID(), nickname: n }, f.asAuth),
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
      expect(await violations(call(f.client, f.client.createUser, request, f.asAuth))).toEqual(fields);
    });

    it('is internal: a user token gets PERMISSION_DENIED, no token UNAUTHENTICATED', async () => {
      const request = { userId: randomUUID(), nickname: f.nick() };
      const asUser = await failure(call(f.client, f.client.createUser, request, await f.as(request.userId)));
      expect(asUser.code).toBe(status.PERMISSION_DENIED);
      const anonymous = await failure(call(f.client, f.client.createUser, request));
      expect(anonymous.code).toBe(status.UNAUTHENTICATED);
    });

    it('is for the auth service only: any other service gets PERMISSION_DENIED', async () => {
      const request = { userId: randomUUID(), nickname: f.nick() };
      for (const service of ['chat', 'subscriber']) {
        const asService = f.auth.bearer(await f.auth.serviceToken(service));
        const refused = await failure(call(f.client, f.client.createUser, request, asService));
        expect(refused.code).toBe(status.PERMISSION_DENIED);
      }
      await expect(call(f.client, f.client.createUser, request, f.asAuth)).resolves.toMatchObject({
        user: { userId: request.userId },
      });
    });
  });

  describe('GetUser and BatchGetUsers', () => {
    it('lets any signed-in user read any profile', async () => {
      const bob = await f.createUser();
      const res = await call(f.client, f.client.getUser, { userId: bob.userId }, await f.as(randomUUID()));
      expect(res.user).toEqual(bob);
      const byService = await call(f.client, f.client.getUser, { userId: bob.userId.toUpperCase() }, f.asAuth);
      expect(byService.user).toEqual(bob);
    });

    it('answers NOT_FOUND, INVALID_ARGUMENT and UNAUTHENTICATED', async () => {
      const md = await f.as(randomUUID());
      const missing = await failure(call(f.client, f.client.getUser, { userId: randomUUID() }, md));
      expect(missing.code).toBe(status.NOT_FOUND);
      expect(await violations(call(f.client, f.client.getUser, { userId: 'x' }, md))).toEqual(['user_id']);
      const anonymous = await failure(call(f.client, f.client.getUser, { userId: randomUUID() }));
      expect(anonymous.code).toBe(status.UNAUTHENTICATED);
      const forged = await failure(
        call(f.client, f.client.getUser, { userId: randomUUID() }, f.auth.bearer('not.a.jwt')),
      );
      expect(forged.code).toBe(status.UNAUTHENTICATED);
    });

    it('reads a batch in request order, listing missing ids, for chat and subscriber only', async () => {
      const asChat = f.auth.bearer(await f.auth.serviceToken('chat'));
      const a = await f.createUser();
      const b = await f.createUser();
      const ghost = randomUUID();
      const res = await call(
        f.client,
        f.client.batchGetUsers,
        { userIds: [b.userId, ghost, a.userId, b.userId] },
        asChat,
      );
      expect(res.users.map((u) => u.userId)).toEqual([b.userId, a.userId]);
      expect(res.missingUserIds).toEqual([ghost]);
      expect(await violations(call(f.client, f.client.batchGetUsers, { userIds: [] }, asChat))).toEqual(['user_ids']);
      const tooMany = Array.from({ length: 101 }, () => randomUUID());
      expect(await violations(call(f.client, f.client.batchGetUsers, { userIds: tooMany }, asChat))).toEqual([
        'user_ids',
      ]);
      expect(await violations(call(f.client, f.client.batchGetUsers, { userIds: [a.userId, 'x'] }, asChat))).toEqual([
        'user_ids[1]',
      ]);
      const asUser = await failure(
        call(f.client, f.client.batchGetUsers, { userIds: [a.userId] }, await f.as(a.userId)),
      );
      expect(asUser.code).toBe(status.PERMISSION_DENIED);
      const asSubscriber = f.auth.bearer(await f.auth.serviceToken('subscriber'));
      await expect(
        call(f.client, f.client.batchGetUsers, { userIds: [a.userId] }, asSubscriber),
      ).resolves.toMatchObject({ users: [{ userId: a.userId }] });
      const asAuthService = await failure(call(f.client, f.client.batchGetUsers, { userIds: [a.userId] }, f.asAuth));
      expect(asAuthService.code).toBe(status.PERMISSION_DENIED);
    });
  });

  describe('DeleteUser', () => {
    it('lets the owner delete, frees the nickname and publishes the profile as it was', async () => {
      const frank = await f.createUser();
      const md = await f.as(frank.userId);
      const other = await failure(
        call(f.client, f.client.deleteUser, { userId: frank.userId }, await f.as(randomUUID())),
      );
      expect(other.code).toBe(status.PERMISSION_DENIED);
      await call(f.client, f.client.deleteUser, { userId: frank.userId }, md);
      const gone = await failure(call(f.client, f.client.getUser, { userId: frank.userId }, md));
      expect(gone.code).toBe(status.NOT_FOUND);
      const again = await failure(call(f.client, f.client.deleteUser, { userId: frank.userId }, md));
      expect(again.code).toBe(status.NOT_FOUND);
      await f.createUser(frank.nickname);
      const event = await f.waitForEvent((e) => e.type === 'user.user.deleted' && e.key === frank.userId);
      expect(UserDeleted.decode(event.payload?.value ?? new Uint8Array()).before).toEqual(frank);
    });

    it('lets an admin delete anyone, and checks the id', async () => {
      const gina = await f.createUser();
      const admin = await f.as(randomUUID(), ['admin']);
      await call(f.client, f.client.deleteUser, { userId: gina.userId }, admin);
      expect(await violations(call(f.client, f.client.deleteUser, { userId: 'nope' }, admin))).toEqual(['user_id']);
    });
  });

  describe('SearchUsers', () => {
    it('finds nickname prefixes case-insensitively, in order, page by page', async () => {
      const prefix = prefixOf('srch');
      const names = ['b', 'A', 'c_', 'c.', 'D', '0'].map((s) => `${prefix}${s}`);
      for (const name of names) await f.createUser(name);
      await f.createUser(`x${prefix}`);
      const md = await f.as(randomUUID());
      const seen: string[] = [];
      let pageToken = '';
      let pages = 0;
      do {
        const res = await call(
          f.client,
          f.client.searchUsers,
          { query: prefix.toUpperCase(), pageSize: 4, pageToken },
          md,
        );
        seen.push(...res.users.map((u) => u.nickname));
        pageToken = res.nextPageToken;
        pages++;
      } while (pageToken !== '');
      expect(pages).toBe(2);
      const order = ['0', 'A', 'b', 'c.', 'c_', 'D'].map((s) => `${prefix}${s}`);
      expect(seen).toEqual(order);
    });

    it('pages 50 by default', async () => {
      const prefix = prefixOf('many');
      await Promise.all(Array.from({ length: 51 }, (_, i) => f.createUser(`${prefix}_${String(i).padStart(2, '0')}`)));
      const md = await f.as(randomUUID());
      const first = await call(f.client, f.client.searchUsers, { query: prefix, pageSize: 0, pageToken: '' }, md);
      expect(first.users).toHaveLength(50);
      const second = await call(
        f.client,
        f.client.searchUsers,
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
      expect(await violations(call(f.client, f.client.searchUsers, request, await f.as(randomUUID())))).toEqual(fields);
    });

    it('refuses a page token of another query', async () => {
      const prefix = prefixOf('tok');
      for (const s of ['a', 'b']) await f.createUser(`${prefix}${s}`);
      const md = await f.as(randomUUID());
      const first = await call(f.client, f.client.searchUsers, { query: prefix, pageSize: 1, pageToken: '' }, md);
      expect(first.nextPageToken).not.toBe('');
      const request = { query: `${prefix}b`, pageSize: 1, pageToken: first.nextPageToken };
      expect(await violations(call(f.client, f.client.searchUsers, request, md))).toEqual(['page_token']);
    });
  });
});
