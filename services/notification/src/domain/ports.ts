// The seams of the notifier: who is connected, who muted what, and the push
// services. Each is a port so that the service that owns the fact can
// provide it without the notifier knowing how.
import type { Device } from './device.ts';

/**
 * Who has a live connection right now (an open updates stream): they see the
 * message there, so they get no push. Answers for the users asked only; a
 * user it cannot tell about counts as offline (a push too many beats a
 * message missed). Must answer fast: it is asked once per new message.
 */
export interface Presence {
  onlineAmong(userIds: readonly string[]): Promise<ReadonlySet<string>>;
}

/** A member's mute of one chat: until a time, or (`until` null) until unmuted. */
export interface Mute {
  readonly until: Date | null;
}

/**
 * Members' notification preferences per chat. Returns the mutes these
 * members have on the chat, current or lapsed (the notifier compares with
 * the message's time); a member without one is absent. Whether a mention
 * overrides a mute is the notifier's rule, not the port's.
 */
export interface MemberPreferences {
  mutesOf(chatId: string, userIds: readonly string[]): Promise<ReadonlyMap<string, Mute>>;
}

/** Nobody known to be online: every recipient is pushed to. For a notifier without the chat service (its own tests). */
export const NOBODY_KNOWN_ONLINE: Presence = {
  onlineAmong: async () => new Set(),
};

/** What a push tells a device: new messages in a chat, not their text. */
export interface PushNotification {
  readonly chatId: string;
  /** Messages this push stands for (1, or more when coalesced). */
  readonly messageCount: number;
  /** The chat sequence of the latest of them, so the app can fetch from its read position up to it. */
  readonly latestSequence: string;
  /** Sender of the latest of them. */
  readonly senderId: string;
  /** A newer push with the same collapse key replaces an undelivered older one at the push service. */
  readonly collapseKey: string;
}

/** What a push service answered, as the delivery loop needs it. */
export type PushOutcome =
  | { readonly kind: 'delivered' }
  /** 404/410 (Web Push), UNREGISTERED or 404 (FCM): the device is gone for good. */
  | { readonly kind: 'gone' }
  /** 429 or 5xx, or no answer: worth another try, after `retryAfterMs` when the service said so. */
  | { readonly kind: 'retry'; readonly retryAfterMs?: number; readonly detail: string }
  /** Any other refusal: retrying the same request would not help. */
  | { readonly kind: 'rejected'; readonly detail: string };

/** One push service (Web Push, FCM): sends one notification to one device of its kind, once. */
export interface PushSender {
  send(device: Device, notification: PushNotification): Promise<PushOutcome>;
}
