import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@messenger/platform/logger';
import type { DeviceStore } from '../store/device-store.ts';
import type { Device } from './device.ts';
import type { MemberPreferences, Presence, PushNotification, PushOutcome, PushSender } from './ports.ts';

/** A new message, as the notifier needs it. */
export interface NewMessage {
  readonly eventId: string;
  readonly chatId: string;
  readonly senderId: string;
  readonly sequence: string;
  readonly memberIds: readonly string[];
  /** Members the message mentions: they are told even when they muted the chat. */
  readonly mentionedIds: readonly string[];
  readonly sentAt: Date;
}

export interface NotifierDeps {
  readonly store: DeviceStore;
  /** The sender for each device kind; a kind without one is not pushed to. */
  readonly senders: Partial<Record<Device['target']['kind'], PushSender>>;
  readonly presence: Presence;
  readonly preferences: MemberPreferences;
  /** Per user and chat: later messages within this window after a push are pushed together at its end. */
  readonly coalesceWindowMs: number;
  /** Attempts per push on 429/5xx before giving up (first included). */
  readonly maxAttempts?: number;
  /** First retry delay; doubled per attempt, capped at `maxBackoffMs`. */
  readonly baseBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly log: Logger;
}

interface Window {
  timer: NodeJS.Timeout;
  /** Messages since the window's push, not pushed yet. */
  pending: number;
  latestSequence: string;
  senderId: string;
}

/**
 * Decides who is told about a new message and pushes to their devices:
 * every member but the sender, less those online and those who muted the
 * chat (unless mentioned). Per (user, chat) the first message is pushed at
 * once and opens a window; messages within it are counted and pushed as one
 * at its end (which opens the next window), so a busy chat sends at most one
 * push per window. Pushes run in the background, so a slow push service
 * never holds up the event stream; `stop` pushes what windows still hold and
 * waits for pushes in flight.
 */
export function createNotifier(deps: NotifierDeps) {
  const maxAttempts = deps.maxAttempts ?? 4;
  const baseBackoffMs = deps.baseBackoffMs ?? 500;
  const maxBackoffMs = deps.maxBackoffMs ?? 30_000;
  const windows = new Map<string, Window>();
  const inFlight = new Set<Promise<void>>();
  let stopping = false;
  // Ends the backoff waits at stop, so a retrying push does not hold up shutdown.
  const stopped = new AbortController();

  const track = (work: Promise<void>) => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  };

  async function pushToDevice(device: Device, notification: PushNotification): Promise<void> {
    const sender = deps.senders[device.target.kind];
    if (!sender) return;
    for (let attempt = 1; ; attempt++) {
      let outcome: PushOutcome;
      try {
        outcome = await sender.send(device, notification);
      } catch (error) {
        outcome = { kind: 'retry', detail: error instanceof Error ? error.message : String(error) };
      }
      if (outcome.kind === 'delivered') return;
      if (outcome.kind === 'gone') {
        await deps.store.removeGone(device.id);
        deps.log.info({ deviceId: device.id, kind: device.target.kind }, 'push service reports device gone; removed');
        return;
      }
      if (outcome.kind === 'rejected' || attempt >= maxAttempts || stopping) {
        deps.log.warn({ deviceId: device.id, attempt, detail: outcome.detail }, 'push not delivered');
        return;
      }
      const backoff = Math.min(maxBackoffMs, baseBackoffMs * 2 ** (attempt - 1));
      const delay = Math.min(maxBackoffMs, outcome.retryAfterMs ?? backoff);
      await sleep(delay, undefined, { signal: stopped.signal }).catch(() => undefined);
    }
  }

  function pushToUser(userId: string, notification: PushNotification): void {
    track(
      (async () => {
        const devices = await deps.store.devicesOf([userId]);
        await Promise.all(devices.map((d) => pushToDevice(d, notification)));
      })().catch((error: unknown) => deps.log.error({ err: error, userId }, 'push failed')),
    );
  }

  const notificationOf = (chatId: string, count: number, w: { latestSequence: string; senderId: string }) => ({
    chatId,
    messageCount: count,
    latestSequence: w.latestSequence,
    senderId: w.senderId,
    collapseKey: chatId.replaceAll('-', ''),
  });

  function closeWindow(key: string, userId: string, chatId: string): void {
    const w = windows.get(key);
    if (!w) return;
    if (w.pending === 0 || stopping) {
      windows.delete(key);
      if (w.pending > 0) pushToUser(userId, notificationOf(chatId, w.pending, w));
      return;
    }
    pushToUser(userId, notificationOf(chatId, w.pending, w));
    w.pending = 0;
    w.timer = setTimeout(() => closeWindow(key, userId, chatId), deps.coalesceWindowMs);
  }

  function tell(userId: string, message: NewMessage): void {
    const key = `${userId}|${message.chatId}`;
    const open = windows.get(key);
    if (open) {
      open.pending++;
      open.latestSequence = message.sequence;
      open.senderId = message.senderId;
      return;
    }
    const latest = { latestSequence: message.sequence, senderId: message.senderId };
    pushToUser(userId, notificationOf(message.chatId, 1, latest));
    if (deps.coalesceWindowMs === 0) return;
    windows.set(key, {
      ...latest,
      pending: 0,
      timer: setTimeout(() => closeWindow(key, userId, message.chatId), deps.coalesceWindowMs),
    });
  }

  return {
    /** Who must be told about the message, left out of it the sender, online and muting members. */
    async recipientsOf(message: NewMessage): Promise<string[]> {
      const candidates = [...new Set(message.memberIds)].filter((id) => id !== message.senderId);
      if (candidates.length === 0) return [];
      const [online, mutes] = await Promise.all([
        deps.presence.onlineAmong(candidates),
        deps.preferences.mutesOf(message.chatId, candidates),
      ]);
      const mentioned = new Set(message.mentionedIds);
      return candidates.filter((id) => {
        if (online.has(id)) return false;
        const mute = mutes.get(id);
        const muted = mute !== undefined && (mute.until === null || mute.until > message.sentAt);
        return !muted || mentioned.has(id);
      });
    },

    /** Handles a new message once per event id: a redelivered event pushes nothing more. */
    async messageCreated(message: NewMessage): Promise<void> {
      if (stopping) throw new Error('notifier stopping');
      const recipients = await this.recipientsOf(message);
      if (!(await deps.store.firstDelivery(message.eventId))) return;
      for (const userId of recipients) tell(userId, message);
    },

    /** Pushes what the open windows hold, without waiting for their end, and waits for every push in flight. */
    async stop(): Promise<void> {
      stopping = true;
      stopped.abort();
      for (const [key, w] of [...windows]) {
        clearTimeout(w.timer);
        const [userId = '', chatId = ''] = key.split('|');
        closeWindow(key, userId, chatId);
      }
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}

export type Notifier = ReturnType<typeof createNotifier>;
