// FCM delivery against a protocol stand-in for Google's FCM HTTP v1 API and
// OAuth 2.0 token endpoint on loopback (testing/fcm-stand-in.ts): the
// service-account JWT exchange, the bearer token on each send, the message
// shape, and the removal of a token FCM reports UNREGISTERED.
import { randomUUID } from 'node:crypto';
import { type FcmStandIn, startFcmStandIn } from '../testing/fcm-stand-in.ts';
import { call, type NotificationFixture, startNotificationFixture } from '../testing/notification-fixture.ts';
import { fcmSender } from './fcm-sender.ts';

describe('FCM delivery of new messages', () => {
  let fcm: FcmStandIn;
  let f: NotificationFixture;
  beforeEach(async () => {
    fcm = await startFcmStandIn();
    f = await startNotificationFixture({
      fcm: fcmSender({
        projectId: fcm.projectId,
        clientEmail: fcm.clientEmail,
        // As an operator pastes it from the service-account JSON: newlines escaped.
        privateKey: fcm.privateKey.replaceAll('\n', '\\n'),
        baseUrl: fcm.baseUrl,
        tokenUrl: fcm.tokenUrl,
      }),
    });
  });
  afterEach(async () => {
    await f.close();
    await fcm.close();
  });

  it('sends a data message with the chat as collapse key, authorised by one exchanged access token', async () => {
    const [ann, bob] = [await f.newUser(), await f.newUser()];
    const token = `fcm-${randomUUID()}`;
    await call(f.client, f.client.registerDevice, { fcm: { token } }, bob.md);
    const chatId = randomUUID();
    await f.messageSent(chatId, ann, [ann, bob], 3);
    await f.messageSent(randomUUID(), ann, [ann, bob], 1);
    await f.stop();

    expect(fcm.refused).toEqual([]);
    expect(fcm.tokensIssued()).toBe(1);
    expect(fcm.sent).toHaveLength(2);
    expect(fcm.sent[0]).toEqual({
      token,
      data: { type: 'chat.messages', chatId, messageCount: '1', latestSequence: '3', senderId: ann.id },
      android: { collapse_key: chatId.replaceAll('-', ''), priority: 'HIGH' },
      apns: { headers: { 'apns-collapse-id': chatId.replaceAll('-', '') } },
    });
  });

  it('removes a registration token FCM reports UNREGISTERED', async () => {
    const [ann, bob] = [await f.newUser(), await f.newUser()];
    const token = `fcm-${randomUUID()}`;
    await call(f.client, f.client.registerDevice, { fcm: { token } }, bob.md);
    fcm.answer(token, 404, 'UNREGISTERED');
    await f.messageSent(randomUUID(), ann, [ann, bob], 1);
    await f.stop();
    expect(await f.store.listByUser(bob.id)).toEqual([]);
  });
});
