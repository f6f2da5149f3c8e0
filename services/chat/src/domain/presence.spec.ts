import { jest } from '@jest/globals';
import { DomainError } from '@messenger/platform/domain';
import { MemoryPresenceRegistry } from '../presence/memory-presence-registry.ts';
import { MemoryChatStore } from '../store/memory/memory-chat-store.ts';
import { createPresenceUseCases, type PresenceSignal, type PresenceView, presenceTracker } from './presence.ts';

const GRACE = 10_000;
const LEASE = 60_000;
const [ann, bob, cat, dan] = [
  '00000000-0000-4000-8000-00000000000a',
  '00000000-0000-4000-8000-00000000000b',
  '00000000-0000-4000-8000-00000000000c',
  '00000000-0000-4000-8000-00000000000d',
];

describe('presenceTracker', () => {
  let changes: PresenceView[];
  let registry: MemoryPresenceRegistry;
  const tracker = () =>
    presenceTracker({
      registry,
      graceMs: GRACE,
      leaseMs: LEASE,
      changed: (p) => changes.push(p),
      failed: (error) => {
        throw error;
      },
    });
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    changes = [];
    registry = new MemoryPresenceRegistry();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('tells online once for the first stream, and offline with the last close time only after the grace period', async () => {
    const t = tracker();
    const closeFirst = await t.opened(ann);
    const closeSecond = await t.opened(ann);
    expect(changes).toEqual([{ userId: ann, state: 'online' }]);
    await closeFirst();
    await jest.advanceTimersByTimeAsync(GRACE * 2);
    expect(changes).toHaveLength(1); // one stream still open
    await closeSecond();
    const lastSeen = new Date(Date.now());
    await jest.advanceTimersByTimeAsync(GRACE - 1);
    expect(changes).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(changes).toEqual([
      { userId: ann, state: 'online' },
      { userId: ann, state: 'offline', lastSeen },
    ]);
    t.close();
  });

  it('tells nothing when the user reconnects within the grace period, on this replica or another', async () => {
    const here = tracker();
    const there = tracker();
    const close = await here.opened(ann);
    await close();
    await jest.advanceTimersByTimeAsync(GRACE / 2);
    const closeThere = await there.opened(ann);
    await jest.advanceTimersByTimeAsync(GRACE * 2);
    expect(changes).toEqual([{ userId: ann, state: 'online' }]);
    await closeThere();
    await jest.advanceTimersByTimeAsync(GRACE);
    expect(changes.map((c) => c.state)).toEqual(['online', 'offline']);
    here.close();
    there.close();
  });

  it('tells online again after the user was offline', async () => {
    const t = tracker();
    await (await t.opened(ann))();
    await jest.advanceTimersByTimeAsync(GRACE);
    await t.opened(ann);
    expect(changes.map((c) => c.state)).toEqual(['online', 'offline', 'online']);
    t.close();
  });

  it('keeps the leases of its open streams alive by refreshing them', async () => {
    const t = tracker();
    await t.opened(ann);
    await jest.advanceTimersByTimeAsync(LEASE / 2);
    await t.refresh();
    await jest.advanceTimersByTimeAsync(LEASE / 2 + 1);
    await expect(registry.records([ann], Date.now())).resolves.toEqual([{ liveStreams: 1, lastSeenMs: undefined }]);
    t.close();
  });
});

describe('presence use cases', () => {
  const signals: PresenceSignal[] = [];
  const friendships = new Set([`${ann} ${bob}`, `${bob} ${ann}`]);
  const setup = () => {
    signals.length = 0;
    const registry = new MemoryPresenceRegistry();
    const presence = createPresenceUseCases({
      store: new MemoryChatStore(),
      registry,
      graceMs: GRACE,
      friends: {
        relation: async (a, b) => ({ friends: friendships.has(`${a} ${b}`), blocked: false }),
        friendIds: async (id) => [...friendships].filter((f) => f.startsWith(id)).map((f) => f.split(' ')[1] ?? ''),
      },
      signals: {
        async publish(signal) {
          signals.push(signal);
        },
      },
      failed: (error) => {
        throw error;
      },
    });
    const as = (userId: string) => ({ actor: { kind: 'user' as const, userId }, requestId: 'r' });
    return { presence, registry, as };
  };

  it('shows friends by default and hides everyone else, a user who does not exist too; the caller sees themself', async () => {
    const { presence, registry, as } = setup();
    const now = Date.now();
    await registry.open(ann, 's', now, now + LEASE);
    await registry.open(cat, 's', now, now + LEASE);
    await expect(presence.getPresence(as(bob), [ann, cat, dan, ann])).resolves.toEqual([
      { userId: ann, state: 'online' },
      { userId: cat, state: 'hidden' },
      { userId: dan, state: 'hidden' },
    ]);
    await expect(presence.getPresence(as(dan), [dan])).resolves.toEqual([{ userId: dan, state: 'offline' }]);
  });

  it('gives an offline friend’s last seen', async () => {
    const { presence, registry, as } = setup();
    const now = Date.now() - GRACE * 2;
    await registry.open(ann, 's', now, now + LEASE);
    await registry.close(ann, 's', now + 5);
    await expect(presence.getPresence(as(bob), [ann])).resolves.toEqual([
      { userId: ann, state: 'offline', lastSeen: new Date(now + 5) },
    ]);
  });

  it('follows the privacy setting: nobody hides from friends, everyone shows to non-friends', async () => {
    const { presence, as } = setup();
    await expect(presence.getPrivacy(as(ann))).resolves.toBe('friends');
    await presence.setPrivacy(as(ann), 'nobody');
    await expect(presence.getPresence(as(bob), [ann])).resolves.toEqual([{ userId: ann, state: 'hidden' }]);
    await expect(presence.getPresence(as(ann), [ann])).resolves.toEqual([{ userId: ann, state: 'offline' }]);
    await presence.setPrivacy(as(ann), 'everyone');
    await expect(presence.getPresence(as(cat), [ann])).resolves.toEqual([{ userId: ann, state: 'offline' }]);
    await expect(presence.getPrivacy(as(ann))).resolves.toBe('everyone');
  });

  it('tells a change to the friends only, and nothing for a user whose setting is nobody', async () => {
    const { presence, as } = setup();
    await presence.changed({ userId: ann, state: 'online' });
    expect(signals.map((s) => [s.presence, s.recipientIds])).toEqual([[{ userId: ann, state: 'online' }, [bob]]]);
    await presence.setPrivacy(as(ann), 'nobody');
    expect(signals.at(-1)?.presence).toEqual({ userId: ann, state: 'hidden' });
    const told = signals.length;
    await presence.changed({ userId: ann, state: 'offline', lastSeen: new Date() });
    expect(signals).toHaveLength(told);
  });

  it('refuses an empty, too long or malformed list', async () => {
    const { presence, as } = setup();
    const kindOf = (e: unknown) => (e instanceof DomainError ? e.kind : e);
    for (const ids of [[], Array.from({ length: 101 }, () => ann), ['nope']]) {
      await expect(presence.getPresence(as(bob), ids).catch(kindOf)).resolves.toBe('invalid_argument');
    }
    await expect(presence.onlineUsers([]).catch(kindOf)).resolves.toBe('invalid_argument');
  });

  it('stores a privacy change even when the friends cannot be told', async () => {
    const failures: unknown[] = [];
    const presence = createPresenceUseCases({
      store: new MemoryChatStore(),
      registry: new MemoryPresenceRegistry(),
      graceMs: GRACE,
      friends: {
        relation: async () => ({ friends: true, blocked: false }),
        friendIds: async () => {
          throw new Error('subscriber down');
        },
      },
      signals: { publish: async () => {} },
      failed: (error) => failures.push(error),
    });
    const me = { actor: { kind: 'user' as const, userId: ann }, requestId: 'r' };
    await expect(presence.setPrivacy(me, 'nobody')).resolves.toBe('nobody');
    await expect(presence.getPrivacy(me)).resolves.toBe('nobody');
    expect(failures).toHaveLength(1);
  });

  it('tells other services who is online whatever their setting', async () => {
    const { presence, registry, as } = setup();
    await presence.setPrivacy(as(ann), 'nobody');
    const now = Date.now();
    await registry.open(ann, 's', now, now + LEASE);
    await expect(presence.onlineUsers([bob, ann])).resolves.toEqual([ann]);
  });
});
