import type { Device } from '../domain/device.ts';
import type { MemberPreferences, Mute } from '../domain/ports.ts';

/** The outcome of `register`. */
export type RegisterOutcome =
  | { readonly kind: 'created'; readonly device: Device }
  /** The target was registered already (by this user or, on a shared browser, another): it now belongs to this user, with the new keys. */
  | { readonly kind: 'existing'; readonly device: Device }
  | { readonly kind: 'limit' };

/**
 * Registered devices, the copy of members' chat mutes (so the store is the
 * notifier's `MemberPreferences`) and the ids of events already handled.
 * Every adapter passes `deviceStoreContract`.
 */
export interface DeviceStore extends MemberPreferences {
  /**
   * Stores `device` unless its target (endpoint or token) is registered:
   * then that device takes the new user and keys and keeps its id. Refuses
   * (`limit`) a new target when the user already has `maxPerUser` devices.
   * Atomic: two registrations cannot both pass the limit.
   */
  register(device: Device, maxPerUser: number): Promise<RegisterOutcome>;
  /** The user's devices, newest first. */
  listByUser(userId: string): Promise<Device[]>;
  /** Every device of these users. */
  devicesOf(userIds: readonly string[]): Promise<Device[]>;
  /** Removes the user's device; false when the user has no such device. */
  remove(userId: string, deviceId: string): Promise<boolean>;
  /** Removes every device of the user (the user was deleted); how many there were. */
  removeAllOf(userId: string): Promise<number>;
  /** Removes a device whatever its user (its push service reported it gone). */
  removeGone(deviceId: string): Promise<boolean>;
  /**
   * Records that the event was handled; false when it was recorded already.
   * Remembers at least the latest `dedupeWindow` ids (older ones may be forgotten).
   */
  firstDelivery(eventId: string): Promise<boolean>;
  /**
   * Keeps `mute` (null: not muted) as the member's mute of the chat, as of
   * `asOf`, unless what is kept for that member and chat is as of a later
   * time: events redelivered out of order never bring back an older state.
   * An unmute is kept too, so that an older mute arriving after it is
   * refused. False when the kept state is newer and stays.
   */
  setMute(chatId: string, userId: string, mute: Mute | null, asOf: Date): Promise<boolean>;
  /** Forgets every mute of the user (the user was deleted); how many chats' states were kept. */
  removeMutesOf(userId: string): Promise<number>;
}
