// Push notifications, end to end: the whole embedded system driven over HTTP
// through the gateway as an app would. A browser (played by a Web Push
// endpoint on loopback that verifies VAPID and decrypts as a browser does)
// subscribes with the key the gateway hands out and registers the
// subscription; another user sends a message; the push arrives, readable
// only with the subscription's keys.
import { randomUUID } from 'node:crypto';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import { startWebPushEndpoint, type WebPushEndpoint } from '@messenger/notification/testing';
import { Gateway } from './support/http.ts';
import { SYSTEM_ENV } from './support/system.ts';
import { waitFor } from './support/wait.ts';

describe('push notifications, whole system over HTTP', () => {
  let system: RunningSystem;
  let gw: Gateway;
  let endpoint: WebPushEndpoint | undefined;

  beforeAll(async () => {
    system = await startSystem(loadEmbeddedConfig({ ...SYSTEM_ENV, NOTIFICATION_ALLOW_LOOPBACK_HTTP: 'true' }));
    gw = new Gateway(system.gatewayUrl);
  }, 60_000);
  afterAll(async () => {
    await system?.stop();
    await endpoint?.close();
  });

  it('a member registered over HTTP gets a decryptable push when another member sends a message', async () => {
    const key = await gw.ok('GET', '/v1/notifications/web-push-key');
    endpoint = await startWebPushEndpoint({ vapidPublicKey: key.publicKey as string });
    const [ann, bob] = [await gw.register('ann'), await gw.register('bob')];
    const subscription = endpoint.subscribe();
    const registered = await gw.ok('POST', '/v1/notifications/devices', bob.accessToken, { webPush: subscription });
    expect(registered.device).toMatchObject({ webPush: { endpoint: subscription.endpoint } });
    const listed = await gw.ok('GET', '/v1/notifications/devices', bob.accessToken);
    expect((listed.devices as { deviceId: string }[]).map((d) => d.deviceId)).toEqual([
      (registered.device as { deviceId: string }).deviceId,
    ]);

    await gw.ok('POST', `/v1/friends/${bob.userId}`, ann.accessToken, {});
    await gw.ok('POST', `/v1/friends/${ann.userId}/confirm`, bob.accessToken, {});
    const created = await gw.ok('POST', '/v1/chats', ann.accessToken, {
      type: 'CHAT_TYPE_DIRECT',
      memberIds: [bob.userId],
    });
    const chatId = (created.chat as { chatId: string }).chatId;
    await gw.ok('POST', `/v1/chats/${chatId}/messages`, ann.accessToken, { clientMessageId: randomUUID(), text: 'hi' });

    const target = endpoint;
    await waitFor('the push', () => target.received.length > 0);
    expect(target.refused).toEqual([]);
    expect(target.received).toEqual([
      expect.objectContaining({
        subscription: subscription.endpoint,
        payload: { type: 'chat.messages', chatId, messageCount: 1, latestSequence: '1', senderId: ann.userId },
      }),
    ]);
  });

  it('answers a subscription that is not https with 400 and the field at fault', async () => {
    const bob = await gw.register('bob');
    const res = await gw.request('POST', '/v1/notifications/devices', bob.accessToken, {
      webPush: { endpoint: 'http://push.example/x', p256dh: 'x', auth: 'y' },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(3);
    expect(JSON.stringify(res.body)).toContain('web_push.endpoint');
  });
});
