// Presence: whether a user is online (holds a live-updates stream on any
// replica), when they were last seen, and who may know. The streams are
// this service's, so it owns the fact; the shared part lives behind the
// PresenceRegistry port (in process, or Redis shared by every replica), the
// privacy setting in the chat store, and changes go to friends through a
// port the service wires to the event bus directly, like typing signals.
import { randomUUID } from 'node:crypto';
import { callerId, throwIfInvalid, violation } from '@messenger/platform/domain';
import type { FriendshipChecker } from './directories.ts';
import type { CallMeta } from './use-case-context.ts';
import { countProblem, uniqueIds } from './validation.ts';

/** A user is still shown online this long after their last stream closed, so a quick reconnect does not flap. */
export const PRESENCE_GRACE_MS = 10_000;
/** A stream's lease lives this many heartbeat intervals; its holder refreshes it every interval. */
export const PRESENCE_LEASE_HEARTBEATS = 3;
/** GetPresence answers at most this many users per call. */
export const MAX_PRESENCE_USERS = 100;
/** GetOnlineUsers answers at most this many users per call. */
export const MAX_ONLINE_USERS = 1000;

export type PresencePrivacy = 'everyone' | 'friends' | 'nobody';
export const DEFAULT_PRESENCE_PRIVACY: PresencePrivacy = 'friends';

export interface PresenceView {
  readonly userId: string;
  readonly state: 'online' | 'offline' | 'hidden';
  /** When the last stream closed; only when offline, and when known. */
  readonly lastSeen?: Date;
}

/** One user's entry in the registry at a given time. */
export interface PresenceRecord {
  /** Leases not yet expired. */
  readonly liveStreams: number;
  /** When a lease last closed or, for a replica that vanished, expired; undefined when never. */
  readonly lastSeenMs: number | undefined;
}

/**
 * Who holds live streams, shared by every process that serves them: per
 * user, a lease per open stream that expires unless its holder refreshes it,
 * so the streams of a replica that crashed stop counting by themselves.
 * Times are epoch ms given by the caller.
 */
export interface PresenceRegistry {
  /** Adds the lease `streamId` of `userId` until `expiresAtMs`; the user's record just before. */
  open(userId: string, streamId: string, nowMs: number, expiresAtMs: number): Promise<PresenceRecord>;
  /** Moves the expiry of leases still held to `expiresAtMs`; a lease already gone stays gone. */
  refresh(
    leases: readonly { readonly userId: string; readonly streamId: string }[],
    expiresAtMs: number,
  ): Promise<void>;
  /** Removes the lease and records `nowMs` as the user's last seen; the user's record after. */
  close(userId: string, streamId: string, nowMs: number): Promise<PresenceRecord>;
  /** The records of `userIds`, in that order, at `nowMs`. */
  records(userIds: readonly string[], nowMs: number): Promise<PresenceRecord[]>;
}

/** Online while a lease lives, and for the grace period after the last one ended. */
export function isOnline(record: PresenceRecord, nowMs: number, graceMs: number): boolean {
  return record.liveStreams > 0 || (record.lastSeenMs !== undefined && nowMs - record.lastSeenMs < graceMs);
}

/** A user came online or (after the grace period) went offline: `presence` is never hidden here. */
export type PresenceChange = (presence: PresenceView) => void;

export interface PresenceTrackerOptions {
  readonly registry: PresenceRegistry;
  readonly graceMs: number;
  /** How long a lease lives unless refreshed; `refresh` must run well within it. */
  readonly leaseMs: number;
  readonly changed: PresenceChange;
  /** A registry failure: presence is a hint, so it never fails a stream. */
  readonly failed: (error: unknown) => void;
  readonly now?: () => number;
}

/** This replica's streams in the registry, and the changes they make. */
export interface PresenceTracker {
  /** A stream of `userId` opened; call the result when it ends. */
  opened(userId: string): Promise<() => Promise<void>>;
  /** Extends the leases of every stream this replica holds (run on a timer shorter than the lease). */
  refresh(): Promise<void>;
  /** Drops pending offline checks; the leases expire by themselves. */
  close(): void;
}

export function presenceTracker(opts: PresenceTrackerOptions): PresenceTracker {
  const now = opts.now ?? Date.now;
  const held = new Map<string, string>(); // stream id → user id
  const pending = new Map<string, ReturnType<typeof setTimeout>>(); // user id → offline check
  const guard = async <T>(work: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await work();
    } catch (error) {
      opts.failed(error);
      return undefined;
    }
  };
  /** After the grace period: offline unless a stream opened anywhere or another closed later. */
  const checkOffline = (userId: string, closedAtMs: number) => {
    clearTimeout(pending.get(userId));
    const timer = setTimeout(async () => {
      pending.delete(userId);
      const [record] = (await guard(() => opts.registry.records([userId], now()))) ?? [];
      if (record && record.liveStreams === 0 && record.lastSeenMs === closedAtMs) {
        opts.changed({ userId, state: 'offline', lastSeen: new Date(closedAtMs) });
      }
    }, opts.graceMs);
    // A pending check must not keep a stopping process alive.
    timer.unref();
    pending.set(userId, timer);
  };
  return {
    async opened(userId) {
      const streamId = randomUUID();
      held.set(streamId, userId);
      const at = now();
      const before = await guard(() => opts.registry.open(userId, streamId, at, at + opts.leaseMs));
      if (before && !isOnline(before, at, opts.graceMs)) opts.changed({ userId, state: 'online' });
      return async () => {
        held.delete(streamId);
        const closedAt = now();
        const after = await guard(() => opts.registry.close(userId, streamId, closedAt));
        if (after && after.liveStreams === 0) checkOffline(userId, closedAt);
      };
    },
    async refresh() {
      if (held.size === 0) return;
      const leases = [...held].map(([streamId, userId]) => ({ userId, streamId }));
      await guard(() => opts.registry.refresh(leases, now() + opts.leaseMs));
    },
    close() {
      for (const timer of pending.values()) clearTimeout(timer);
      pending.clear();
    },
  };
}

/** Where the privacy settings are stored: the chat store. */
export interface PresenceSettingsStorage {
  /** The settings of those of `userIds` who set one. */
  presencePrivacies(userIds: readonly string[]): Promise<Map<string, PresencePrivacy>>;
  setPresencePrivacy(userId: string, privacy: PresencePrivacy): Promise<void>;
}

/** A presence as its recipients may see it, to tell them live. */
export interface PresenceSignal {
  readonly presence: PresenceView;
  readonly time: Date;
  readonly recipientIds: readonly string[];
}

/** Where presence changes go: every replica's live streams. */
export interface PresenceSignals {
  publish(signal: PresenceSignal): Promise<void>;
}

export interface PresenceUseCaseDeps {
  readonly store: PresenceSettingsStorage;
  readonly friends: FriendshipChecker;
  readonly registry: PresenceRegistry;
  readonly signals: PresenceSignals;
  readonly graceMs: number;
  /** Telling friends failed after the setting was stored: the change stands, the live hint is lost. */
  readonly failed: (error: unknown) => void;
  readonly now?: () => number;
}

export type PresenceUseCases = ReturnType<typeof createPresenceUseCases>;

export function createPresenceUseCases(deps: PresenceUseCaseDeps) {
  const now = deps.now ?? Date.now;
  const privacyOf = async (userId: string) =>
    (await deps.store.presencePrivacies([userId])).get(userId) ?? DEFAULT_PRESENCE_PRIVACY;
  /** Tells `userId`'s friends whom `privacy` admits, as they may now see them. */
  const tell = async (userId: string, privacy: PresencePrivacy, presence: PresenceView, requestId: string) => {
    const recipientIds = await deps.friends.friendIds(userId, requestId);
    if (recipientIds.length === 0) return;
    const shown = privacy === 'nobody' ? { userId, state: 'hidden' as const } : presence;
    await deps.signals.publish({ presence: shown, time: new Date(now()), recipientIds });
  };
  const current = async (userIds: readonly string[]): Promise<PresenceView[]> => {
    const at = now();
    const records = await deps.registry.records(userIds, at);
    return userIds.map((userId, i) => {
      const record = records[i] ?? { liveStreams: 0, lastSeenMs: undefined };
      if (isOnline(record, at, deps.graceMs)) return { userId, state: 'online' };
      return record.lastSeenMs === undefined
        ? { userId, state: 'offline' }
        : { userId, state: 'offline', lastSeen: new Date(record.lastSeenMs) };
    });
  };
  return {
    async getPrivacy(meta: CallMeta): Promise<PresencePrivacy> {
      return privacyOf(callerId(meta.actor));
    },

    /**
     * Stores the setting; when it hides or shows the user, their friends are
     * told at once (best effort: a failure to tell does not fail the call).
     */
    async setPrivacy(meta: CallMeta, privacy: PresencePrivacy | undefined): Promise<PresencePrivacy> {
      throwIfInvalid([violation('privacy', privacy === undefined ? 'must be set' : undefined)]);
      const me = callerId(meta.actor);
      const chosen = privacy as PresencePrivacy;
      const before = await privacyOf(me);
      await deps.store.setPresencePrivacy(me, chosen);
      if (before !== chosen && (before === 'nobody' || chosen === 'nobody')) {
        const [presence] = await current([me]);
        if (presence) await tell(me, chosen, presence, meta.requestId).catch(deps.failed);
      }
      return chosen;
    },

    /** Each user's presence as the caller may see it, in the order asked; the caller always sees their own. */
    async getPresence(meta: CallMeta, userIds: readonly string[]): Promise<PresenceView[]> {
      const me = callerId(meta.actor);
      throwIfInvalid([violation('user_ids', countProblem(userIds, 1, MAX_PRESENCE_USERS, 'users'))]);
      const ids = uniqueIds(userIds, 'user_ids');
      const privacies = await deps.store.presencePrivacies(ids);
      const setting = (id: string) => privacies.get(id) ?? DEFAULT_PRESENCE_PRIVACY;
      const needFriends = ids.some((id) => id !== me && setting(id) === 'friends');
      const friends = new Set(needFriends ? await deps.friends.friendIds(me, meta.requestId) : []);
      const admits = (id: string) =>
        id === me || setting(id) === 'everyone' || (setting(id) === 'friends' && friends.has(id));
      const shown = await current(ids.filter(admits));
      const byId = new Map(shown.map((p) => [p.userId, p]));
      return ids.map((userId) => byId.get(userId) ?? { userId, state: 'hidden' });
    },

    /** For other services: which of `userIds` are online now, whatever their setting. */
    async onlineUsers(userIds: readonly string[]): Promise<string[]> {
      throwIfInvalid([violation('user_ids', countProblem(userIds, 1, MAX_ONLINE_USERS, 'users'))]);
      const ids = uniqueIds(userIds, 'user_ids');
      return (await current(ids)).filter((p) => p.state === 'online').map((p) => p.userId);
    },

    /** A tracker's change → the user's friends whom their setting admits (none for `nobody`). */
    async changed(presence: PresenceView): Promise<void> {
      const privacy = await privacyOf(presence.userId);
      if (privacy === 'nobody') return;
      await tell(presence.userId, privacy, presence, `presence-${randomUUID()}`);
    },
  };
}
