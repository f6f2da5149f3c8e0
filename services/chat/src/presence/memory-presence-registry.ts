// The presence registry of one process (embedded mode, or a single chat
// process): every stream it counts is its own.
import type { PresenceRecord, PresenceRegistry } from '../domain/presence.ts';

export class MemoryPresenceRegistry implements PresenceRegistry {
  /** Per user: each lease's stream id and expiry (epoch ms). */
  readonly #leases = new Map<string, Map<string, number>>();
  readonly #lastSeen = new Map<string, number>();

  async open(userId: string, streamId: string, nowMs: number, expiresAtMs: number): Promise<PresenceRecord> {
    const before = this.#record(userId, nowMs);
    let leases = this.#leases.get(userId);
    if (!leases) {
      leases = new Map();
      this.#leases.set(userId, leases);
    }
    leases.set(streamId, expiresAtMs);
    return before;
  }

  async refresh(leases: readonly { userId: string; streamId: string }[], expiresAtMs: number): Promise<void> {
    for (const { userId, streamId } of leases) {
      const held = this.#leases.get(userId);
      if (held?.has(streamId)) held.set(streamId, expiresAtMs);
    }
  }

  async close(userId: string, streamId: string, nowMs: number): Promise<PresenceRecord> {
    this.#leases.get(userId)?.delete(streamId);
    this.#seen(userId, nowMs);
    return this.#record(userId, nowMs);
  }

  async records(userIds: readonly string[], nowMs: number): Promise<PresenceRecord[]> {
    return userIds.map((id) => this.#record(id, nowMs));
  }

  /** Drops expired leases, their expiry counting as a last seen, and counts the rest. */
  #record(userId: string, nowMs: number): PresenceRecord {
    const leases = this.#leases.get(userId);
    let liveStreams = 0;
    for (const [streamId, expiresAt] of leases ?? []) {
      if (expiresAt > nowMs) {
        liveStreams++;
      } else {
        leases?.delete(streamId);
        this.#seen(userId, expiresAt);
      }
    }
    if (leases?.size === 0) this.#leases.delete(userId);
    return { liveStreams, lastSeenMs: this.#lastSeen.get(userId) };
  }

  #seen(userId: string, atMs: number): void {
    this.#lastSeen.set(userId, Math.max(this.#lastSeen.get(userId) ?? atMs, atMs));
  }
}
