// Mutes end to end inside the service: `chat.member.settings_changed` on the
// event bus → the store's copy of the member's mute → the notifier leaves
// the member out of pushes for the chat's new messages, unless mentioned;
// pushes land on a Web Push endpoint on loopback.
import { randomUUID } from 'node:crypto';
import {
  type NotificationFixture,
  startNotificationFixture,
  type TestUser,
  waitFor,
} from '../testing/notification-fixture.ts';

describe("new-message pushes honour each member's mute", () => {
  let f: NotificationFixture;
  afterEach(async () => {
    await f.close();
  });

  /** Waits until the service has taken in the member's mute state (`muted` or not) of the chat. */
  const muteApplied = (chatId: string, user: TestUser, muted: boolean) =>
    waitFor(async () => ((await f.store.mutesOf(chatId, [user.id])).has(user.id) === muted ? true : undefined));
  /** The sequences pushed to the endpoint, in sequence order: pushes are sent independently and may arrive in any order. */
  const pushesTo = (endpoint: string) =>
    f.endpoint.received
      .filter((p) => p.subscription === endpoint)
      .map((p) => p.payload.latestSequence)
      .sort((a, b) => Number(a) - Number(b));

  it('leaves a muting member out from the very next message until the timed mute ends, but pushes a mention', async () => {
    f = await startNotificationFixture();
    const [ann, bob, cat] = [await f.newUser(), await f.newUser(), await f.newUser()];
    const bobSub = await f.subscribe(bob);
    const catSub = await f.subscribe(cat);
    const chatId = randomUUID();
    const until = new Date(Date.now() + 3_600_000);
    // No wait: the chat's events are handled in their order, so the mute holds for the message after it.
    await f.settingsChanged(chatId, bob, { muted: true, muteUntil: until });
    const members = [ann, bob, cat];
    await f.messageSent(chatId, ann, members, 1, { sentAt: new Date(until.getTime() - 60_000) });
    await f.messageSent(chatId, ann, members, 2, { sentAt: new Date(until.getTime() - 30_000), mentioned: [bob] });
    await f.messageSent(chatId, ann, members, 3, { sentAt: new Date(until.getTime() + 60_000) });
    await f.stop();

    expect(pushesTo(bobSub.subscription.endpoint)).toEqual(['2', '3']);
    expect(pushesTo(catSub.subscription.endpoint)).toEqual(['1', '2', '3']);
  });

  it('holds a mute with no end until the member unmutes; an older mute delivered late does not return', async () => {
    f = await startNotificationFixture();
    const [ann, bob, cat] = [await f.newUser(), await f.newUser(), await f.newUser()];
    const bobSub = await f.subscribe(bob);
    const chatId = randomUUID();
    const members = [ann, bob, cat];
    const muted = await f.settingsChanged(chatId, bob, { muted: true }, new Date(Date.now() - 2000));
    await f.messageSent(chatId, ann, members, 1);
    await f.settingsChanged(chatId, bob, { muted: false }, new Date(Date.now() - 1000));
    // The mute again, redelivered after the unmute: older than what is kept, so it changes nothing.
    await f.publish(muted);
    await f.messageSent(chatId, ann, members, 2);
    await f.stop();

    expect(pushesTo(bobSub.subscription.endpoint)).toEqual(['2']);
  });

  it("forgets a deleted user's mutes", async () => {
    f = await startNotificationFixture();
    const bob = await f.newUser();
    const chatId = randomUUID();
    await f.settingsChanged(chatId, bob, { muted: true });
    await muteApplied(chatId, bob, true);
    await f.userDeleted(bob);
    await muteApplied(chatId, bob, false);
  });
});
