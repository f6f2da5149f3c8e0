import type { Device } from '../domain/device.ts';

/** The outcome of `register`. */
export type RegisterOutcome =
  | { readonly kind: 'created'; readonly device: Device }
  /** The target was registered already (by this user or, on a shared browser, another): it now belongs to this user, with the new keys. */
  | { readonly kind: 'existing'; readonly device: Device }
  | { readonly kind: 'limit' };

/**
 * Registered devices and the ids of events already handled. Every adapter
 * passes `runDeviceStoreContract`.
 */
export interface DeviceStore {
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
}
