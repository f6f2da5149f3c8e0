// Push notifications, end to end: the whole embedded system driven over HTTP
// through the gateway as an app would. A browser (played by a Web Push
// endpoint on loopback that verifies VAPID and decrypts as a browser does)
// subscribes with the key the gateway hands out and registers the
// subscription; another user sends a message; the push arrives, readable
// only with the subscription's keys. A member who muted a chat gets no push
// for its messages unless one mentions them; a member with a live stream open
// sees the message there and gets no push.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import { startWebPushEndpoint, type WebPushEndpoint } from '@messenger/notification/testing';
import { Gateway } from './support/http.ts';
import { openUpdateStream } from './support/stream.ts';
import { SYSTEM_ENV } from './support/system.ts';
import { waitFor } from './support/wait.ts';

describe('push notifications, whole system over HTTP', () => {
  let system: RunningSystem;
  let gw: Gateway;
  const endpoints: WebPushEndpoint[] = [];
  /** A browser's push service on loopback, trusting the key the gateway hands out. */
  const newEndpoint = async () => {
    const key = await gw.ok('GET', '/v1/notifications/web-push-key');
    const endpoint = await startWebPushEndpoint({ vapidPublicKey: key.publicKey as string });
    endpoints.push(endpoint);
    return endpoint;
  };

  beforeAll(async () => {
    system = await startSystem(
      loadEmbeddedConfig({
        ...SYSTEM_ENV,
        NOTIFICATION_ALLOW_LOOPBACK_HTTP: 'true',
        // Short, so that a closed stream counts as offline soon.
        CHAT_PRESENCE_GRACE_MS: '1000',
      }),
    );
    gw = new Gateway(system.gatewayUrl);
  }, 60_000);
  afterAll(async () => {
    await system?.stop();
    for (const endpoint of endpoints) await endpoint.close();
  });

  it('a member registered over HTTP gets a decryptable push when another member sends a message', async () => {
    const endpoint = await newEndpoint();
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

    await waitFor('the push', () => endpoint.received.length > 0);
    expect(endpoint.refused).toEqual([]);
    expect(endpoint.received).toEqual([
      expect.objectContaining({
        subscription: subscription.endpoint,
        payload: { type: 'chat.messages', chatId, messageCount: 1, latestSequence: '1', senderId: ann.userId },
      }),
    ]);
  });

  it('pushes nothing for a chat the member muted, until a message there mentions them', async () => {
    const endpoint = await newEndpoint();
    const [ann, bob] = [await gw.register('ann'), await gw.register('bob')];
    await gw.ok('POST', '/v1/notifications/devices', bob.accessToken, { webPush: endpoint.subscribe() });
    await gw.ok('POST', `/v1/friends/${bob.userId}`, ann.accessToken, {});
    await gw.ok('POST', `/v1/friends/${ann.userId}/confirm`, bob.accessToken, {});
    const chatIdOf = (created: Record<string, unknown>) => (created.chat as { chatId: string }).chatId;
    const muted = chatIdOf(
      await gw.ok('POST', '/v1/chats', ann.accessToken, { type: 'CHAT_TYPE_DIRECT', memberIds: [bob.userId] }),
    );
    const other = chatIdOf(
      await gw.ok('POST', '/v1/chats', ann.accessToken, {
        type: 'CHAT_TYPE_GROUP',
        title: 'other',
        memberIds: [bob.userId],
      }),
    );
    const settings = await gw.ok('PATCH', `/v1/chats/${muted}/settings`, bob.accessToken, { muteForever: true });
    expect(settings.settings).toMatchObject({ muted: true });
    const send = async (chatId: string, text: string) =>
      (
        (await gw.ok('POST', `/v1/chats/${chatId}/messages`, ann.accessToken, { clientMessageId: randomUUID(), text }))
          .message as { sequence: string }
      ).sequence;
    const pushesFor = (chatId: string) => endpoint.received.filter((p) => p.payload.chatId === chatId);

    await send(muted, 'nobody is told');
    const otherSequence = await send(other, 'this one arrives');
    await waitFor('the push of the unmuted chat', () => pushesFor(other).length > 0);
    expect(pushesFor(other)).toEqual([
      expect.objectContaining({ payload: expect.objectContaining({ latestSequence: otherSequence }) }),
    ]);

    // A chat's messages are handled in order: once the mention's push is in, the message before it was handled too.
    const mentionSequence = await send(muted, `@${bob.nickname} this one is for you`);
    await waitFor('the push of the mention', () => pushesFor(muted).length > 0);
    expect(pushesFor(muted)).toEqual([
      expect.objectContaining({
        payload: {
          type: 'chat.messages',
          chatId: muted,
          messageCount: 1,
          latestSequence: mentionSequence,
          senderId: ann.userId,
        },
      }),
    ]);
    expect(endpoint.refused).toEqual([]);
  });

  it('pushes nothing to a member who holds a live stream, and pushes again once they are offline', async () => {
    const [ann, bob, cat] = [await gw.register('ann'), await gw.register('bob'), await gw.register('cat')];
    const [bobs, cats] = [await newEndpoint(), await newEndpoint()];
    await gw.ok('POST', '/v1/notifications/devices', bob.accessToken, { webPush: bobs.subscribe() });
    await gw.ok('POST', '/v1/notifications/devices', cat.accessToken, { webPush: cats.subscribe() });
    for (const friend of [bob, cat]) {
      await gw.ok('POST', `/v1/friends/${friend.userId}`, ann.accessToken, {});
      await gw.ok('POST', `/v1/friends/${ann.userId}/confirm`, friend.accessToken, {});
    }
    const created = await gw.ok('POST', '/v1/chats', ann.accessToken, {
      type: 'CHAT_TYPE_GROUP',
      title: 'online or not',
      memberIds: [bob.userId, cat.userId],
    });
    const chatId = (created.chat as { chatId: string }).chatId;
    const send = (text: string) =>
      gw.ok('POST', `/v1/chats/${chatId}/messages`, ann.accessToken, { clientMessageId: randomUUID(), text });
    // Asked every 100 ms, well within ann's request budget.
    const bobIs = (state: string) => async () => {
      await sleep(100);
      const { presences } = await gw.ok('GET', `/v1/presence?userIds=${bob.userId}`, ann.accessToken);
      return (presences as { state: string }[])[0]?.state === state;
    };

    const stream = await openUpdateStream(system.gatewayUrl, bob.accessToken);
    await waitFor('bob online', bobIs('PRESENCE_STATE_ONLINE'));
    await send('bob reads this live');
    await stream.next('the message on the stream', (u) => 'messageCreated' in u);
    // One message's recipients are decided together: once cat's push is in, bob's was decided too.
    await waitFor('the push to cat, who is offline', () => cats.received.length === 1);
    expect(bobs.received).toEqual([]);

    await stream.close();
    await waitFor('bob offline after the grace period', bobIs('PRESENCE_STATE_OFFLINE'));
    await send('bob is away now');
    await waitFor('the push to bob', () => bobs.received.length === 1);
    expect(bobs.received[0]?.payload).toMatchObject({ chatId, latestSequence: '2', senderId: ann.userId });
    expect([...bobs.refused, ...cats.refused]).toEqual([]);
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
