// A member's own chat settings, end to end over HTTP through the gateway:
// mute and archive are the caller's alone, move the chat between the main
// list and the archive, reach the member's other devices live, leave unread
// counting alone, and bad input gets a typed error.
import { randomUUID } from 'node:crypto';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import { type Account, Gateway } from './support/http.ts';
import { openUpdateStream, type UpdateStream } from './support/stream.ts';
import { SYSTEM_ENV } from './support/system.ts';

interface SettingsJson {
  muted: boolean;
  muteUntil?: string | null;
  archived: boolean;
}
interface SummaryJson {
  chat: { chatId: string };
  unreadCount: string;
  settings: SettingsJson;
}

describe('chat settings (mute, archive), whole system over HTTP', () => {
  let system: RunningSystem;
  let gw: Gateway;
  const streams: UpdateStream[] = [];

  beforeAll(async () => {
    system = await startSystem(loadEmbeddedConfig(SYSTEM_ENV));
    gw = new Gateway(system.gatewayUrl);
  }, 60_000);

  afterAll(async () => {
    for (const s of streams) await s.close();
    await system?.stop();
  });

  const settingsPath = (chatId: string) => `/v1/chats/${chatId}/settings`;
  const list = async (who: Account, archived?: boolean) =>
    (
      (await gw.ok('GET', `/v1/chats${archived === undefined ? '' : `?archived=${archived}`}`, who.accessToken))
        .chats as SummaryJson[]
    ).map((s) => [s.chat.chatId, s.settings, s.unreadCount] as const);
  const open = async (who: Account) => {
    const stream = await openUpdateStream(system.gatewayUrl, who.accessToken);
    streams.push(stream);
    return stream;
  };

  it('mutes and archives for the caller only, tells their other devices, and keeps counting unread', async () => {
    const [ann, bob, eve] = [await gw.register('ann'), await gw.register('bob'), await gw.register('eve')];
    await gw.ok('POST', `/v1/friends/${bob.userId}`, ann.accessToken, {});
    await gw.ok('POST', `/v1/friends/${ann.userId}/confirm`, bob.accessToken, {});
    const chatId = (
      (await gw.ok('POST', '/v1/chats', ann.accessToken, { type: 'CHAT_TYPE_DIRECT', memberIds: [bob.userId] }))
        .chat as { chatId: string }
    ).chatId;
    const annOtherDevice = await open(ann);
    const bobStream = await open(bob);
    const unmuted = { muted: false, archived: false };

    // A timed mute.
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const muted = await gw.ok('PATCH', settingsPath(chatId), ann.accessToken, { muteUntil: until });
    expect(muted.settings).toEqual({ muted: true, muteUntil: until, archived: false });
    const live = await annOtherDevice.next('chatSettingsChanged', (u) => u.chatSettingsChanged !== undefined);
    expect(live.chatSettingsChanged).toEqual({ chatId, settings: muted.settings });

    // Muted still counts unread; Bob sees none of Ann's settings.
    await gw.ok('POST', `/v1/chats/${chatId}/messages`, bob.accessToken, { clientMessageId: randomUUID(), text: 'hi' });
    expect(await list(ann)).toEqual([[chatId, muted.settings, '1']]);
    expect(await list(bob)).toEqual([[chatId, unmuted, '0']]);
    expect((await gw.ok('GET', `/v1/chats/${chatId}`, ann.accessToken)).settings).toEqual(muted.settings);

    // Forever, then archive: the chat leaves the main list for the archive, the mute stays.
    const forever = await gw.ok('PATCH', settingsPath(chatId), ann.accessToken, { muteForever: true });
    expect(forever.settings).toEqual({ muted: true, archived: false });
    const archived = await gw.ok('PATCH', settingsPath(chatId), ann.accessToken, { archived: true });
    expect(archived.settings).toEqual({ muted: true, archived: true });
    expect(await list(ann)).toEqual([]);
    expect(await list(ann, true)).toEqual([[chatId, archived.settings, '1']]);
    expect(await list(bob)).toEqual([[chatId, unmuted, '0']]);

    // Unmute and unarchive in one call.
    const back = await gw.ok('PATCH', settingsPath(chatId), ann.accessToken, { unmute: true, archived: false });
    expect(back.settings).toEqual(unmuted);
    expect(await list(ann, false)).toEqual([[chatId, unmuted, '1']]);
    await annOtherDevice.next('the last change', (u) => {
      const changed = u.chatSettingsChanged as { settings?: SettingsJson } | undefined;
      return changed?.settings?.archived === false && changed.settings.muted === false;
    });

    // Bob's stream had none of Ann's changes: his next update is the message Ann sends after them.
    const after = await gw.ok('POST', `/v1/chats/${chatId}/messages`, ann.accessToken, {
      clientMessageId: randomUUID(),
      text: 'after',
    });
    const messageId = (after.message as { messageId: string }).messageId;
    await bobStream.next('ann’s message', (u) => (u.messageCreated as { messageId?: string })?.messageId === messageId);
    expect(bobStream.updates.filter((u) => u.chatSettingsChanged !== undefined)).toEqual([]);

    // Bad input: typed 4xx, never a change.
    const bad = async (who: Account, body: unknown, path = settingsPath(chatId)) => {
      const res = await gw.request('PATCH', path, who.accessToken, body);
      return [res.status, res.body.code];
    };
    expect(await bad(ann, { muteUntil: new Date(Date.now() - 60_000).toISOString() })).toEqual([400, 3]);
    expect(await bad(ann, {})).toEqual([400, 3]);
    expect(await bad(ann, { muteForever: false })).toEqual([400, 3]);
    expect(await bad(ann, { unmute: false })).toEqual([400, 3]);
    expect(await bad(ann, { muteForever: true, unmute: true })).toEqual([400, 3]);
    expect(await bad(ann, { archived: true, pinned: true })).toEqual([400, 3]);
    expect(await bad(eve, { archived: true })).toEqual([404, 5]);
    expect(await bad(ann, { archived: true }, settingsPath(randomUUID()))).toEqual([404, 5]);
    expect(await list(ann)).toEqual([[chatId, unmuted, '1']]);
  }, 30_000);
});
