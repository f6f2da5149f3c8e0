import { type Device, targetKey } from '../../domain/device.ts';
import type { Mute } from '../../domain/ports.ts';
import type { DeviceStore, RegisterOutcome } from '../device-store.ts';

interface KeptMute {
  readonly userId: string;
  readonly mute: Mute | null;
  readonly asOf: number;
}

/** Devices and mutes in process memory; the handled event ids bounded to the latest `dedupeWindow`. */
export class MemoryDeviceStore implements DeviceStore {
  private readonly devices = new Map<string, Device>();
  /** Per chat, each member's kept mute state. */
  private readonly mutes = new Map<string, Map<string, KeptMute>>();
  private readonly handled = new Set<string>();
  private readonly dedupeWindow: number;

  constructor(opts: { dedupeWindow?: number } = {}) {
    this.dedupeWindow = opts.dedupeWindow ?? 100_000;
  }

  async register(device: Device, maxPerUser: number): Promise<RegisterOutcome> {
    const key = targetKey(device.target);
    const existing = [...this.devices.values()].find((d) => targetKey(d.target) === key);
    if (existing) {
      const updated: Device = { ...existing, userId: device.userId, target: device.target };
      this.devices.set(existing.id, updated);
      return { kind: 'existing', device: updated };
    }
    if ((await this.listByUser(device.userId)).length >= maxPerUser) return { kind: 'limit' };
    this.devices.set(device.id, device);
    return { kind: 'created', device };
  }

  async listByUser(userId: string): Promise<Device[]> {
    return [...this.devices.values()]
      .filter((d) => d.userId === userId)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.id.localeCompare(a.id));
  }

  async devicesOf(userIds: readonly string[]): Promise<Device[]> {
    const wanted = new Set(userIds);
    return [...this.devices.values()].filter((d) => wanted.has(d.userId));
  }

  async remove(userId: string, deviceId: string): Promise<boolean> {
    if (this.devices.get(deviceId)?.userId !== userId) return false;
    return this.devices.delete(deviceId);
  }

  async removeAllOf(userId: string): Promise<number> {
    const mine = await this.listByUser(userId);
    for (const d of mine) this.devices.delete(d.id);
    return mine.length;
  }

  async removeGone(deviceId: string): Promise<boolean> {
    return this.devices.delete(deviceId);
  }

  async firstDelivery(eventId: string): Promise<boolean> {
    if (this.handled.has(eventId)) return false;
    this.handled.add(eventId);
    // A Set iterates in insertion order: the first entry is the oldest.
    if (this.handled.size > this.dedupeWindow) {
      const oldest = this.handled.values().next().value;
      if (oldest !== undefined) this.handled.delete(oldest);
    }
    return true;
  }

  async setMute(chatId: string, userId: string, mute: Mute | null, asOf: Date): Promise<boolean> {
    let chat = this.mutes.get(chatId);
    if (!chat) {
      chat = new Map();
      this.mutes.set(chatId, chat);
    }
    const kept = chat.get(userId);
    if (kept && kept.asOf > asOf.getTime()) return false;
    chat.set(userId, { userId, mute, asOf: asOf.getTime() });
    return true;
  }

  async mutesOf(chatId: string, userIds: readonly string[]): Promise<ReadonlyMap<string, Mute>> {
    const chat = this.mutes.get(chatId);
    const found = new Map<string, Mute>();
    for (const id of userIds) {
      const mute = chat?.get(id)?.mute;
      if (mute) found.set(id, mute);
    }
    return found;
  }

  async removeMutesOf(userId: string): Promise<number> {
    let removed = 0;
    for (const [chatId, chat] of this.mutes) {
      if (chat.delete(userId)) removed++;
      if (chat.size === 0) this.mutes.delete(chatId);
    }
    return removed;
  }
}
