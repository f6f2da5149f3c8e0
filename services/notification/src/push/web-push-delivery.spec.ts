// Web Push end to end inside the service: `chat.message.created` on the
// event bus → the notifier → web-push's VAPID signing and aes128gcm
// encryption → a push endpoint on loopback that verifies the VAPID token
// against the application server key and decrypts the payload with the
// subscription's private key, as a browser would.
import { randomUUID } from 'node:crypto';
import { call, type NotificationFixture, startNotificationFixture, waitFor } from '../testing/notification-fixture.ts';

describe('Web Push delivery of new messages', () => {
  let f: NotificationFixture;
  afterEach(async () => {
    await f.close();
  });

  it("pushes every member but the sender a payload only the member's browser can decrypt", async () => {
    f = await startNotificationFixture();
    const [ann, bob, cat] = [await f.newUser(), await f.newUser(), await f.newUser()];
    const annSub = await f.subscribe(ann);
    const bobSub = await f.subscribe(bob);
    const catSub = await f.subscribe(cat);
    const chatId = randomUUID();
    await f.messageSent(chatId, ann, [ann, bob, cat], 7);
    await f.stop();

    expect(f.endpoint.refused).toEqual([]);
    const bySubscription = new Map(f.endpoint.received.map((p) => [p.subscription, p]));
    expect(bySubscription.has(annSub.subscription.endpoint)).toBe(false);
    for (const sub of [bobSub, catSub]) {
      expect(bySubscription.get(sub.subscription.endpoint)).toEqual({
        subscription: sub.subscription.endpoint,
        payload: { type: 'chat.messages', chatId, messageCount: 1, latestSequence: '7', senderId: ann.id },
        topic: chatId.replaceAll('-', ''),
        ttl: '86400',
        urgency: 'normal',
      });
    }
    expect(f.endpoint.received).toHaveLength(2);
  });

  it('pushes a redelivered event once', async () => {
    f = await startNotificationFixture();
    const [ann, bob] = [await f.newUser(), await f.newUser()];
    await f.subscribe(bob);
    const event = await f.messageSent(randomUUID(), ann, [ann, bob], 1);
    await f.publish(event);
    await f.publish(event);
    await f.stop();
    expect(f.endpoint.received).toHaveLength(1);
  });

  it('coalesces a burst of 20 messages into a push at once and one for the rest, with their count', async () => {
    // A window longer than the test: the second push is the one stop() sends for what the window holds.
    f = await startNotificationFixture({ options: { coalesceWindowMs: 600_000 } });
    const [ann, bob] = [await f.newUser(), await f.newUser()];
    await f.subscribe(bob);
    const chatId = randomUUID();
    for (let seq = 1; seq <= 20; seq++) await f.messageSent(chatId, ann, [ann, bob], seq);
    const other = randomUUID();
    await f.messageSent(other, ann, [ann, bob], 1);
    await f.stop();

    const pushes = f.endpoint.received.map((p) => p.payload);
    expect(pushes.filter((p) => p.chatId === chatId)).toEqual([
      expect.objectContaining({ messageCount: 1, latestSequence: '1' }),
      expect.objectContaining({ messageCount: 19, latestSequence: '20' }),
    ]);
    // Windows are per chat: another chat's message is not held back by this one's.
    expect(pushes.filter((p) => p.chatId === other)).toEqual([expect.objectContaining({ messageCount: 1 })]);
  });

  it('removes a subscription its push service reports gone (410) and pushes to it no more', async () => {
    f = await startNotificationFixture();
    const [ann, bob] = [await f.newUser(), await f.newUser()];
    const { subscription } = await f.subscribe(bob);
    f.endpoint.answer(subscription.endpoint, 410);
    await f.messageSent(randomUUID(), ann, [ann, bob], 1);
    await waitFor(async () => ((await f.store.listByUser(bob.id)).length === 0 ? true : undefined));
    expect((await call(f.client, f.client.listDevices, {}, bob.md)).devices).toEqual([]);
    await f.messageSent(randomUUID(), ann, [ann, bob], 2);
    await f.stop();
    expect(f.endpoint.requestsTo(subscription.endpoint)).toBe(1);
  });

  it('retries a push the push service refuses with 429 or 5xx, and delivers it', async () => {
    f = await startNotificationFixture();
    const [ann, bob] = [await f.newUser(), await f.newUser()];
    const { subscription } = await f.subscribe(bob);
    f.endpoint.answer(subscription.endpoint, 503, { times: 1 });
    await f.messageSent(randomUUID(), ann, [ann, bob], 1);
    await waitFor(() => (f.endpoint.received.length > 0 ? true : undefined));
    f.endpoint.answer(subscription.endpoint, 429, { times: 10, headers: { 'retry-after': '0' } });
    await f.messageSent(randomUUID(), ann, [ann, bob], 2);
    // 1 + 1 retry for the first; the second gives up after its 4 attempts and keeps the device.
    await waitFor(() => (f.endpoint.requestsTo(subscription.endpoint) === 6 ? true : undefined));
    await f.stop();
    expect(f.endpoint.requestsTo(subscription.endpoint)).toBe(6);
    expect(f.endpoint.received).toHaveLength(1);
    expect(await f.store.listByUser(bob.id)).toHaveLength(1);
  });
});
