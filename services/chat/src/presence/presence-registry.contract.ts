// What every PresenceRegistry adapter must do; times are passed in, so no
// test waits for a lease to expire.
import { randomUUID } from 'node:crypto';
import type { PresenceRegistry } from '../domain/presence.ts';

export function presenceRegistryContract(name: string, make: () => PresenceRegistry): void {
  describe(`PresenceRegistry contract: ${name}`, () => {
    let registry: PresenceRegistry;
    // Real epoch ms: the Redis adapter's keys expire by Redis' own clock.
    const t0 = Date.now();
    const LEASE = 30_000;
    beforeEach(() => {
      registry = make();
    });

    it('knows nothing of a user who never held a stream', async () => {
      await expect(registry.records([randomUUID()], t0)).resolves.toEqual([{ liveStreams: 0, lastSeenMs: undefined }]);
      await expect(registry.records([], t0)).resolves.toEqual([]);
    });

    it('counts each open stream, and answers open with the record before it', async () => {
      const user = randomUUID();
      await expect(registry.open(user, 's1', t0, t0 + LEASE)).resolves.toEqual({
        liveStreams: 0,
        lastSeenMs: undefined,
      });
      await expect(registry.open(user, 's2', t0 + 1, t0 + LEASE)).resolves.toEqual({
        liveStreams: 1,
        lastSeenMs: undefined,
      });
      await expect(registry.records([user], t0 + 2)).resolves.toEqual([{ liveStreams: 2, lastSeenMs: undefined }]);
    });

    it('records when a stream closed as last seen, and answers close with the record after it', async () => {
      const user = randomUUID();
      await registry.open(user, 's1', t0, t0 + LEASE);
      await registry.open(user, 's2', t0, t0 + LEASE);
      await expect(registry.close(user, 's1', t0 + 100)).resolves.toEqual({ liveStreams: 1, lastSeenMs: t0 + 100 });
      await expect(registry.close(user, 's2', t0 + 200)).resolves.toEqual({ liveStreams: 0, lastSeenMs: t0 + 200 });
      await expect(registry.open(user, 's3', t0 + 300, t0 + LEASE)).resolves.toEqual({
        liveStreams: 0,
        lastSeenMs: t0 + 200,
      });
    });

    it('answers several users in the order asked', async () => {
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      await registry.open(b, 's', t0, t0 + LEASE);
      await registry.open(c, 's', t0, t0 + LEASE);
      await registry.close(c, 's', t0 + 5);
      await expect(registry.records([c, a, b], t0 + 10)).resolves.toEqual([
        { liveStreams: 0, lastSeenMs: t0 + 5 },
        { liveStreams: 0, lastSeenMs: undefined },
        { liveStreams: 1, lastSeenMs: undefined },
      ]);
    });

    it('stops counting a lease nobody refreshed once it expires: its expiry becomes the last seen', async () => {
      const user = randomUUID();
      await registry.open(user, 'crashed', t0, t0 + 1000);
      await registry.open(user, 'alive', t0, t0 + 1000);
      await registry.refresh([{ userId: user, streamId: 'alive' }], t0 + 5000);
      await expect(registry.records([user], t0 + 2000)).resolves.toEqual([{ liveStreams: 1, lastSeenMs: t0 + 1000 }]);
      await expect(registry.records([user], t0 + 6000)).resolves.toEqual([{ liveStreams: 0, lastSeenMs: t0 + 5000 }]);
    });

    it('does not bring back a lease that expired and was removed when it is refreshed', async () => {
      const user = randomUUID();
      await registry.open(user, 's', t0, t0 + 1000);
      await registry.records([user], t0 + 2000);
      await registry.refresh([{ userId: user, streamId: 's' }], t0 + 9000);
      await expect(registry.records([user], t0 + 3000)).resolves.toEqual([{ liveStreams: 0, lastSeenMs: t0 + 1000 }]);
    });

    it('keeps the later last seen when an expiry is folded in after a close', async () => {
      const user = randomUUID();
      await registry.open(user, 'old', t0, t0 + 1000);
      await registry.open(user, 'closed', t0, t0 + LEASE);
      await registry.close(user, 'closed', t0 + 3000);
      await expect(registry.records([user], t0 + 4000)).resolves.toEqual([{ liveStreams: 0, lastSeenMs: t0 + 3000 }]);
    });
  });
}
