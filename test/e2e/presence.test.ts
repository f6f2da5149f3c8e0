// Presence through the gateway of the embedded system: a user is online
// while they hold a live-updates stream and for a short grace period after;
// friends see it change live and read it with GET /v1/presence, last seen
// included; the privacy setting (PUT /v1/presence/settings) decides who may.
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import WebSocket from 'ws';
import { type Account, Gateway } from './support/http.ts';
import { openUpdateStream, type Update, type UpdateStream } from './support/stream.ts';
import { SYSTEM_ENV } from './support/system.ts';
import { waitFor } from './support/wait.ts';

type Presence = { userId: string; state: string; lastSeenTime?: string };

describe('presence', () => {
  let system: RunningSystem;
  let gw: Gateway;
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    system = await startSystem(
      loadEmbeddedConfig({
        ...SYSTEM_ENV,
        CHAT_STREAM_HEARTBEAT_MS: '50',
        // Short, so offline shows soon; still far longer than a reconnect on loopback takes.
        CHAT_PRESENCE_GRACE_MS: '1500',
      }),
    );
    gw = new Gateway(system.gatewayUrl);
  }, 60_000);
  afterAll(async () => {
    for (const close of closers) await close();
    await system?.stop();
  }, 30_000);

  const befriend = async (a: Account, b: Account) => {
    await gw.ok('POST', `/v1/friends/${b.userId}`, a.accessToken, {});
    await gw.ok('POST', `/v1/friends/${a.userId}/confirm`, b.accessToken, {});
  };
  const stream = async (account: Account) => {
    const s = await openUpdateStream(system.gatewayUrl, account.accessToken);
    closers.push(() => s.close());
    return s;
  };
  const presenceOf = (userId: string, state?: string) => (u: Update) => {
    const p = u.presence as Presence | undefined;
    return p?.userId === userId && (state === undefined || p.state === state);
  };
  const seen = (s: UpdateStream, userId: string) =>
    s.updates.filter(presenceOf(userId)).map((u) => (u.presence as Presence).state);
  const getPresence = async (caller: Account, ...users: Account[]) => {
    const query = users.map((u) => `userIds=${u.userId}`).join('&');
    return (await gw.ok('GET', `/v1/presence?${query}`, caller.accessToken)).presences as Presence[];
  };
  const setPrivacy = (account: Account, privacy: string) =>
    gw.ok('PUT', '/v1/presence/settings', account.accessToken, { privacy });

  it('shows a friend online while they stream and offline with last seen after the grace period; others get hidden and nothing live', async () => {
    const [ann, bob, cat] = [await gw.register('ann'), await gw.register('bob'), await gw.register('cat')];
    await befriend(ann, bob);
    const bobs = await stream(bob);
    const cats = await stream(cat);
    await expect(getPresence(bob, ann)).resolves.toEqual([{ userId: ann.userId, state: 'PRESENCE_STATE_OFFLINE' }]);

    const anns = await stream(ann);
    const online = await bobs.next('ann online', presenceOf(ann.userId));
    expect(online.presence).toEqual({ userId: ann.userId, state: 'PRESENCE_STATE_ONLINE' });
    expect(online.updateId).toBe('');
    await expect(getPresence(bob, ann, cat)).resolves.toEqual([
      { userId: ann.userId, state: 'PRESENCE_STATE_ONLINE' },
      { userId: cat.userId, state: 'PRESENCE_STATE_HIDDEN' },
    ]);
    await expect(getPresence(cat, ann)).resolves.toEqual([{ userId: ann.userId, state: 'PRESENCE_STATE_HIDDEN' }]);

    const closedAt = Date.now();
    await anns.close();
    const offline = await bobs.next('ann offline', presenceOf(ann.userId, 'PRESENCE_STATE_OFFLINE'));
    const last = offline.presence as Presence;
    const lastSeen = Date.parse(last.lastSeenTime ?? '');
    expect(lastSeen).toBeGreaterThanOrEqual(closedAt - 1000);
    expect(lastSeen).toBeLessThanOrEqual(Date.now());
    await expect(getPresence(bob, ann)).resolves.toEqual([
      { userId: ann.userId, state: 'PRESENCE_STATE_OFFLINE', lastSeenTime: last.lastSeenTime },
    ]);
    // Both changes reached bob's stream; cat, not a friend, was told of neither.
    expect(seen(bobs, ann.userId)).toEqual(['PRESENCE_STATE_ONLINE', 'PRESENCE_STATE_OFFLINE']);
    expect(seen(cats, ann.userId)).toEqual([]);
  });

  it('sends no offline when the user reconnects within the grace period', async () => {
    const [ann, bob] = [await gw.register('ann'), await gw.register('bob')];
    await befriend(ann, bob);
    const bobs = await stream(bob);
    const first = await stream(ann);
    await bobs.next('ann online', presenceOf(ann.userId));
    await first.close();
    const second = await stream(ann);
    await second.close();
    await bobs.next('ann offline', presenceOf(ann.userId, 'PRESENCE_STATE_OFFLINE'));
    expect(seen(bobs, ann.userId)).toEqual(['PRESENCE_STATE_ONLINE', 'PRESENCE_STATE_OFFLINE']);
  });

  it('hides a user whose setting is nobody from their friends, and shows one whose setting is everyone to anyone', async () => {
    const [ann, bob, cat] = [await gw.register('ann'), await gw.register('bob'), await gw.register('cat')];
    await befriend(ann, bob);
    await expect(gw.ok('GET', '/v1/presence/settings', ann.accessToken)).resolves.toEqual({
      privacy: 'PRESENCE_PRIVACY_FRIENDS',
    });
    await expect(setPrivacy(ann, 'PRESENCE_PRIVACY_NOBODY')).resolves.toEqual({ privacy: 'PRESENCE_PRIVACY_NOBODY' });
    await stream(ann);
    await expect(getPresence(bob, ann)).resolves.toEqual([{ userId: ann.userId, state: 'PRESENCE_STATE_HIDDEN' }]);
    await expect(getPresence(ann, ann)).resolves.toEqual([{ userId: ann.userId, state: 'PRESENCE_STATE_ONLINE' }]);

    // Showing again tells the friends at once.
    const bobs = await stream(bob);
    await setPrivacy(ann, 'PRESENCE_PRIVACY_EVERYONE');
    const shown = await bobs.next('ann shown', presenceOf(ann.userId));
    expect(shown.presence).toEqual({ userId: ann.userId, state: 'PRESENCE_STATE_ONLINE' });
    await expect(getPresence(cat, ann)).resolves.toEqual([{ userId: ann.userId, state: 'PRESENCE_STATE_ONLINE' }]);

    // Hiding tells them too, as hidden, never as offline.
    await setPrivacy(ann, 'PRESENCE_PRIVACY_NOBODY');
    await bobs.next('ann hidden', presenceOf(ann.userId, 'PRESENCE_STATE_HIDDEN'));
  });

  it('counts a WebSocket as a live stream and tells friends on theirs', async () => {
    const [ann, bob] = [await gw.register('ann'), await gw.register('bob')];
    await befriend(ann, bob);
    const socket = async (account: Account) => {
      const ws = new WebSocket(`${system.gatewayUrl.replace(/^http/, 'ws')}/v1/ws`, [
        'messenger.v1',
        `bearer.${account.accessToken}`,
      ]);
      const updates: Update[] = [];
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as { type: string; update?: Update };
        if (frame.type === 'update' && frame.update) updates.push(frame.update);
      });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      return { ws, updates };
    };
    const bobWs = await socket(bob);
    closers.push(async () => void bobWs.ws.terminate());
    const annWs = await socket(ann);
    await waitFor('ann online on the socket', () =>
      bobWs.updates.some(presenceOf(ann.userId, 'PRESENCE_STATE_ONLINE')),
    );
    await expect(getPresence(bob, ann)).resolves.toEqual([{ userId: ann.userId, state: 'PRESENCE_STATE_ONLINE' }]);
    annWs.ws.terminate();
    await waitFor('ann offline on the socket', () =>
      bobWs.updates.some(presenceOf(ann.userId, 'PRESENCE_STATE_OFFLINE')),
    );
  });

  it('answers bad requests with INVALID_ARGUMENT', async () => {
    const ann = await gw.register('ann');
    for (const path of ['/v1/presence', '/v1/presence?userIds=nope']) {
      const res = await gw.request('GET', path, ann.accessToken);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 3 });
    }
    const tooMany = Array.from({ length: 101 }, () => `userIds=${crypto.randomUUID()}`).join('&');
    expect((await gw.request('GET', `/v1/presence?${tooMany}`, ann.accessToken)).status).toBe(400);
    const unset = await gw.request('PUT', '/v1/presence/settings', ann.accessToken, {});
    expect(unset.status).toBe(400);
    expect(unset.body).toMatchObject({ code: 3 });
  });
});
