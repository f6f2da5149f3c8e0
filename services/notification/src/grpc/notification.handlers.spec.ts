// gRPC integration: the real notification service on a loopback port, called with real tokens.
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { reasonOf } from '@messenger/platform/grpc';
import {
  call,
  failure,
  type NotificationFixture,
  startNotificationFixture,
  violations,
  waitFor,
} from '../testing/notification-fixture.ts';

describe('NotificationService over gRPC', () => {
  let f: NotificationFixture;
  beforeAll(async () => {
    f = await startNotificationFixture();
  });
  afterAll(async () => {
    await f.close();
  });

  const key65 = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]).toString('base64url');
  const auth16 = Buffer.alloc(16, 1).toString('base64url');
  const register = (md: import('@grpc/grpc-js').Metadata, request: object) =>
    call(f.client, f.client.registerDevice, request, md);

  it('registers a Web Push subscription once, lists it without its secrets, and removes it', async () => {
    const user = await f.newUser();
    const { subscription, device } = await f.subscribe(user);
    expect(device).toMatchObject({ webPush: { endpoint: subscription.endpoint, p256dh: '', auth: '' } });
    const again = await register(user.md, { webPush: subscription });
    expect(again.device?.deviceId).toBe(device.deviceId);
    const listed = await call(f.client, f.client.listDevices, {}, user.md);
    expect(listed.devices.map((d) => d.deviceId)).toEqual([device.deviceId]);

    const other = await f.newUser();
    expect(await call(f.client, f.client.removeDevice, { deviceId: device.deviceId }, other.md)).toEqual({
      removed: false,
    });
    expect(await call(f.client, f.client.removeDevice, { deviceId: device.deviceId }, user.md)).toEqual({
      removed: true,
    });
    expect((await call(f.client, f.client.listDevices, {}, user.md)).devices).toEqual([]);
  });

  it('registers an FCM token and shows only its tail', async () => {
    const user = await f.newUser();
    const token = `fcm-token-${randomUUID()}`;
    const { device } = await register(user.md, { fcm: { token } });
    expect(device?.fcm).toEqual({ token: `…${token.slice(-8)}` });
  });

  it('refuses endpoints that are not https and keys of the wrong length, naming each field', async () => {
    const user = await f.newUser();
    expect(
      await violations(
        register(user.md, { webPush: { endpoint: 'http://push.example/x', p256dh: 'AAAA', auth: key65 } }),
      ),
    ).toEqual(['web_push.endpoint', 'web_push.p256dh', 'web_push.auth']);
    expect(
      await violations(register(user.md, { webPush: { endpoint: 'ftp://x', p256dh: key65, auth: '!!' } })),
    ).toEqual(['web_push.endpoint', 'web_push.auth']);
    expect(await violations(register(user.md, { fcm: { token: '' } }))).toEqual(['fcm.token']);
    expect(await violations(register(user.md, {}))).toEqual(['target']);
    expect(
      await violations(
        register(user.md, {
          webPush: { endpoint: 'https://push.example/x', p256dh: key65, auth: auth16 },
          fcm: { token: 't' },
        }),
      ),
    ).toEqual(['target']);
    expect(await violations(call(f.client, f.client.removeDevice, { deviceId: 'nope' }, user.md))).toEqual([
      'device_id',
    ]);
  });

  it('accepts an https endpoint, and refuses the caller a device past the limit', async () => {
    const user = await f.newUser();
    for (let i = 0; i < 3; i++) {
      await register(user.md, {
        webPush: { endpoint: `https://push.example/${randomUUID()}`, p256dh: key65, auth: auth16 },
      });
    }
    const error = await failure(register(user.md, { fcm: { token: randomUUID() } }));
    expect(error.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(reasonOf(error)).toBe('DEVICE_LIMIT');
  });

  it("forgets a deleted user's devices", async () => {
    const [user, other] = [await f.newUser(), await f.newUser()];
    await f.subscribe(user);
    const { device: kept } = await f.subscribe(other);
    await f.userDeleted(user);
    await waitFor(async () => ((await f.store.listByUser(user.id)).length === 0 ? true : undefined));
    expect((await call(f.client, f.client.listDevices, {}, other.md)).devices.map((d) => d.deviceId)).toEqual([
      kept.deviceId,
    ]);
  });

  it('refuses calls without a signed-in user', async () => {
    const error = await failure(call(f.client, f.client.listDevices, {}));
    expect(error.code).toBe(status.UNAUTHENTICATED);
  });

  it('hands out the VAPID public key browsers subscribe with', async () => {
    expect(await call(f.client, f.client.getWebPushKey, {})).toEqual({ publicKey: f.vapidPublicKey });
  });
});
