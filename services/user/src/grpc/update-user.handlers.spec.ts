// gRPC integration of UpdateUser: the real service on a loopback port,
// called with real tokens.
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { UserUpdated } from '@messenger/gen/messenger/user/v1/events';
import type { User } from '@messenger/gen/messenger/user/v1/user';
import { reasonOf } from '@messenger/platform/grpc';
import { call, failure, startUserFixture, type UserFixture, violations } from '../testing/user-fixture.ts';

describe('UserService UpdateUser over gRPC', () => {
  let f: UserFixture;

  beforeAll(async () => {
    f = await startUserFixture();
  });
  afterAll(async () => {
    await f.close();
  });

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

  describe('UpdateUser', () => {
    it('changes the masked fields of the owner and publishes before and after', async () => {
      const carol = await f.createUser();
      const res = await call(
        f.client,
        f.client.updateUser,
        update(carol.userId, { about: 'hello 👋', avatarUrl: 'https://cdn.example.com/c.png', nickname: 'ignored' }, [
          'about',
          'avatar_url',
        ]),
        await f.as(carol.userId),
      );
      expect(res.user).toMatchObject({
        nickname: carol.nickname,
        about: 'hello 👋',
        avatarUrl: 'https://cdn.example.com/c.png',
      });
      expect(res.user?.updateTime?.getTime()).toBeGreaterThanOrEqual(carol.updateTime?.getTime() ?? 0);

      const event = await f.waitForEvent((e) => e.type === 'user.user.updated' && e.key === carol.userId);
      const payload = UserUpdated.decode(event.payload?.value ?? new Uint8Array());
      expect(payload.before).toEqual(carol);
      expect(payload.after).toEqual(res.user);
      expect(payload.changed).toEqual(['about', 'avatar_url']);
    });

    it('lets an admin rename someone else, and clears a named empty field', async () => {
      const dave = await f.createUser();
      await call(
        f.client,
        f.client.updateUser,
        update(dave.userId, { about: 'x' }, ['about']),
        await f.as(dave.userId),
      );
      const newName = f.nick('Dave');
      const res = await call(
        f.client,
        f.client.updateUser,
        update(dave.userId, { nickname: newName }, ['nickname', 'about']),
        await f.as(randomUUID(), ['admin']),
      );
      expect(res.user).toMatchObject({ nickname: newName, about: '' });
      await f.createUser(dave.nickname); // the old nickname is free again
    });

    it('changes nothing, and publishes nothing, when the values are the same', async () => {
      const erin = await f.createUser();
      const res = await call(
        f.client,
        f.client.updateUser,
        update(erin.userId, { about: '' }, ['about']),
        await f.as(erin.userId),
      );
      expect(res.user).toEqual(erin);
      await new Promise((r) => setTimeout(r, 50));
      expect(f.events.filter((e) => e.type === 'user.user.updated' && e.key === erin.userId)).toEqual([]);
    });

    it('refuses anyone but the owner or an admin', async () => {
      const owner = await f.createUser();
      const request = update(owner.userId, { about: 'hacked' }, ['about']);
      const other = await failure(call(f.client, f.client.updateUser, request, await f.as(randomUUID())));
      expect([other.code, reasonOf(other)]).toEqual([status.PERMISSION_DENIED, 'NOT_PROFILE_OWNER']);
      const service = await failure(call(f.client, f.client.updateUser, request, f.asAuth));
      expect(service.code).toBe(status.PERMISSION_DENIED);
      const anonymous = await failure(call(f.client, f.client.updateUser, request));
      expect(anonymous.code).toBe(status.UNAUTHENTICATED);
    });

    it('answers NOT_FOUND for a missing user and ALREADY_EXISTS for a taken nickname', async () => {
      const admin = await f.as(randomUUID(), ['admin']);
      const missing = await failure(
        call(f.client, f.client.updateUser, update(randomUUID(), { about: 'x' }, ['about']), admin),
      );
      expect(missing.code).toBe(status.NOT_FOUND);
      const a = await f.createUser();
      const b = await f.createUser();
      const taken = await failure(
        call(
          f.client,
          f.client.updateUser,
          update(b.userId, { nickname: a.nickname.toUpperCase() }, ['nickname']),
          await f.as(b.userId),
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
      const owner = await f.createUser();
      const md = await f.as(owner.userId);
      expect(await violations(call(f.client, f.client.updateUser, update(owner.userId, user, mask), md))).toEqual(
        fields,
      );
    });

    it('accepts the longest about and avatar URL', async () => {
      const owner = await f.createUser();
      const avatarUrl = `https://a.example/${'x'.repeat(2030)}`;
      expect(avatarUrl).toHaveLength(2048);
      const res = await call(
        f.client,
        f.client.updateUser,
        update(owner.userId, { about: '👋'.repeat(500), avatarUrl }, ['about', 'avatar_url']),
        await f.as(owner.userId),
      );
      expect(res.user?.avatarUrl).toBe(avatarUrl);
    });
  });

  describe('SetUploadedAvatar', () => {
    it('sets the uploaded avatar for the gateway only, idempotently, and publishes the change', async () => {
      const dora = await f.createUser();
      const avatarId = randomUUID();
      const request = { userId: dora.userId, avatarId };
      const path = `/v1/media/avatars/${avatarId}`;
      const asUser = await failure(call(f.client, f.client.setUploadedAvatar, request, await f.as(dora.userId)));
      expect(asUser.code).toBe(status.PERMISSION_DENIED);
      for (const service of ['chat', 'auth', 'notification']) {
        const asService = f.auth.bearer(await f.auth.serviceToken(service));
        const refused = await failure(call(f.client, f.client.setUploadedAvatar, request, asService));
        expect(refused.code).toBe(status.PERMISSION_DENIED);
      }

      const asGateway = f.auth.bearer(await f.auth.serviceToken('gateway'));
      const set = await call(f.client, f.client.setUploadedAvatar, request, asGateway);
      expect(set.user).toMatchObject({ userId: dora.userId, avatarUrl: path });
      const again = await call(f.client, f.client.setUploadedAvatar, request, asGateway);
      expect(again.user).toEqual(set.user);
      const event = await f.waitForEvent((e) => e.type === 'user.user.updated' && e.key === dora.userId);
      expect(UserUpdated.decode(event.payload?.value ?? new Uint8Array())).toMatchObject({
        before: { avatarUrl: '' },
        after: { avatarUrl: path },
        changed: ['avatar_url'],
      });

      const missing = await failure(
        call(f.client, f.client.setUploadedAvatar, { userId: randomUUID(), avatarId }, asGateway),
      );
      expect(missing.code).toBe(status.NOT_FOUND);
      expect(
        await violations(call(f.client, f.client.setUploadedAvatar, { userId: 'x', avatarId: '../x' }, asGateway)),
      ).toEqual(['user_id', 'avatar_id']);
    });

    it('lets UpdateUser keep or replace an uploaded avatar, never name another one', async () => {
      const asGateway = f.auth.bearer(await f.auth.serviceToken('gateway'));
      const [eve, fay] = [await f.createUser(), await f.createUser()];
      const avatarId = randomUUID();
      const eves = `/v1/media/avatars/${avatarId}`;
      await call(f.client, f.client.setUploadedAvatar, { userId: eve.userId, avatarId }, asGateway);
      const md = await f.as(fay.userId);
      for (const avatarUrl of [eves, `/v1/media/avatars/${randomUUID()}`]) {
        expect(
          await violations(call(f.client, f.client.updateUser, update(fay.userId, { avatarUrl }, ['avatar_url']), md)),
        ).toEqual(['user.avatar_url']);
      }
      const kept = await call(
        f.client,
        f.client.updateUser,
        update(eve.userId, { avatarUrl: eves, about: 'kept' }, ['avatar_url', 'about']),
        await f.as(eve.userId),
      );
      expect(kept.user).toMatchObject({ avatarUrl: eves, about: 'kept' });
      const replaced = await call(
        f.client,
        f.client.updateUser,
        update(eve.userId, { avatarUrl: '' }, ['avatar_url']),
        await f.as(eve.userId),
      );
      expect(replaced.user?.avatarUrl).toBe('');
      // Once replaced, an uploaded avatar cannot come back: its files are removed.
      expect(
        await violations(
          call(
            f.client,
            f.client.updateUser,
            update(eve.userId, { avatarUrl: eves }, ['avatar_url']),
            await f.as(eve.userId),
          ),
        ),
      ).toEqual(['user.avatar_url']);
    });
  });
});
