// The behaviour every DeviceStore adapter must show; run by
// memory-device-store.spec.ts.
import { randomUUID } from 'node:crypto';
import type { Device, PushTarget } from '../domain/device.ts';
import type { DeviceStore } from './device-store.ts';

export function deviceStoreContract(name: string, make: () => Promise<{ store: DeviceStore; close(): Promise<void> }>) {
  describe(`DeviceStore contract: ${name}`, () => {
    let store: DeviceStore;
    let close: () => Promise<void>;
    beforeEach(async () => {
      ({ store, close } = await make());
    });
    afterEach(async () => {
      await close();
    });

    let clock = Date.parse('2025-01-01T00:00:00Z') / 1000;
    const device = (userId: string, target: PushTarget): Device => ({
      id: randomUUID(),
      userId,
      target,
      createdAt: new Date(clock++ * 1000),
    });
    const fcm = (): PushTarget => ({ kind: 'fcm', token: randomUUID() });

    it('keeps one device per target: registering it again updates its keys and owner, keeping its id', async () => {
      const [alice, bob] = [randomUUID(), randomUUID()];
      const endpoint = `https://push.example/${randomUUID()}`;
      const first = device(alice, { kind: 'webpush', endpoint, p256dh: 'k1', auth: 'a1' });
      expect(await store.register(first, 5)).toEqual({ kind: 'created', device: first });
      const again = await store.register(device(bob, { kind: 'webpush', endpoint, p256dh: 'k2', auth: 'a2' }), 5);
      expect(again).toEqual({
        kind: 'existing',
        device: { ...first, userId: bob, target: { kind: 'webpush', endpoint, p256dh: 'k2', auth: 'a2' } },
      });
      expect(await store.listByUser(alice)).toEqual([]);
      expect((await store.listByUser(bob)).map((d) => d.id)).toEqual([first.id]);
    });

    it('refuses a new target past the per-user limit, but not a known one', async () => {
      const user = randomUUID();
      const a = device(user, fcm());
      const b = device(user, fcm());
      await store.register(a, 2);
      await store.register(b, 2);
      expect(await store.register(device(user, fcm()), 2)).toEqual({ kind: 'limit' });
      expect((await store.register({ ...a, id: randomUUID() }, 2)).kind).toBe('existing');
      expect((await store.listByUser(user)).map((d) => d.id)).toEqual([b.id, a.id]);
    });

    it("removes only the owner's device; a gone device whatever its owner", async () => {
      const [owner, other] = [randomUUID(), randomUUID()];
      const a = device(owner, fcm());
      const b = device(owner, fcm());
      await store.register(a, 5);
      await store.register(b, 5);
      expect(await store.remove(other, a.id)).toBe(false);
      expect(await store.remove(owner, a.id)).toBe(true);
      expect(await store.remove(owner, a.id)).toBe(false);
      expect(await store.removeGone(b.id)).toBe(true);
      expect(await store.devicesOf([owner, other])).toEqual([]);
    });

    it("removes every device of a deleted user, and no one else's", async () => {
      const [gone, stays] = [randomUUID(), randomUUID()];
      await store.register(device(gone, fcm()), 5);
      await store.register(device(gone, fcm()), 5);
      const kept = device(stays, fcm());
      await store.register(kept, 5);
      expect(await store.removeAllOf(gone)).toBe(2);
      expect(await store.removeAllOf(gone)).toBe(0);
      expect(await store.devicesOf([gone, stays])).toEqual([kept]);
    });

    it('finds the devices of several users at once', async () => {
      const [u1, u2, u3] = [randomUUID(), randomUUID(), randomUUID()];
      const d1 = device(u1, fcm());
      const d2 = device(u2, fcm());
      await store.register(d1, 5);
      await store.register(d2, 5);
      await store.register(device(u3, fcm()), 5);
      expect((await store.devicesOf([u1, u2])).map((d) => d.id).sort()).toEqual([d1.id, d2.id].sort());
    });

    it('tells the first delivery of an event id from a repeated one', async () => {
      const id = randomUUID();
      expect(await store.firstDelivery(id)).toBe(true);
      expect(await store.firstDelivery(id)).toBe(false);
      expect(await store.firstDelivery(randomUUID())).toBe(true);
    });

    const at = (iso: string) => new Date(iso);

    it("keeps each member's mute of a chat, timed or with no end, and answers only for those asked", async () => {
      const [chat, other] = [randomUUID(), randomUUID()];
      const [ann, bob, cat, dan] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      const until = at('2030-01-01T00:00:00Z');
      expect(await store.setMute(chat, ann, { until }, at('2025-01-01T00:00:00Z'))).toBe(true);
      await store.setMute(chat, bob, { until: null }, at('2025-01-01T00:00:00Z'));
      await store.setMute(chat, cat, null, at('2025-01-01T00:00:00Z'));
      await store.setMute(other, dan, { until: null }, at('2025-01-01T00:00:00Z'));
      expect(await store.mutesOf(chat, [ann, bob, cat, dan])).toEqual(
        new Map([
          [ann, { until }],
          [bob, { until: null }],
        ]),
      );
      expect(await store.mutesOf(chat, [bob])).toEqual(new Map([[bob, { until: null }]]));
      expect(await store.mutesOf(randomUUID(), [ann])).toEqual(new Map());
    });

    it('keeps the state as of the later time, whatever order the changes arrive in', async () => {
      const [chat, ann] = [randomUUID(), randomUUID()];
      expect(await store.setMute(chat, ann, null, at('2025-01-01T00:00:02Z'))).toBe(true);
      // An older mute redelivered after the unmute does not bring the mute back.
      expect(await store.setMute(chat, ann, { until: null }, at('2025-01-01T00:00:01Z'))).toBe(false);
      expect(await store.mutesOf(chat, [ann])).toEqual(new Map());
      expect(await store.setMute(chat, ann, { until: null }, at('2025-01-01T00:00:03Z'))).toBe(true);
      expect(await store.setMute(chat, ann, null, at('2025-01-01T00:00:02Z'))).toBe(false);
      expect(await store.mutesOf(chat, [ann])).toEqual(new Map([[ann, { until: null }]]));
      // The same event again changes nothing.
      expect(await store.setMute(chat, ann, { until: null }, at('2025-01-01T00:00:03Z'))).toBe(true);
      expect(await store.mutesOf(chat, [ann])).toEqual(new Map([[ann, { until: null }]]));
    });

    it("forgets every mute of a deleted user, and no one else's", async () => {
      const [c1, c2, gone, stays] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      const when = at('2025-01-01T00:00:00Z');
      await store.setMute(c1, gone, { until: null }, when);
      await store.setMute(c2, gone, null, when);
      await store.setMute(c1, stays, { until: null }, when);
      expect(await store.removeMutesOf(gone)).toBe(2);
      expect(await store.removeMutesOf(gone)).toBe(0);
      expect(await store.mutesOf(c1, [gone, stays])).toEqual(new Map([[stays, { until: null }]]));
    });
  });
}
