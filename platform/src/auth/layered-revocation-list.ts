import { SessionsRevoked } from '@messenger/gen/messenger/auth/v1/events';
import { type EventBus, payloadTypeName, type SubscriptionHandle } from '../events/index.ts';
import type { Logger } from '../logger.ts';
import { InMemoryRevocationList, type RevocationList } from './revocation.ts';
import { TOKEN_VALIDITY_HORIZON_SECONDS } from './token-claims.ts';

export interface LayeredRevocationListOptions {
  /** The list every process shares (Redis); its calls must fail fast when it is unreachable. */
  readonly shared: RevocationList;
  readonly logger: Pick<Logger, 'debug'>;
  /** This process's copy; default a new in-memory list. */
  readonly local?: InMemoryRevocationList;
}

/**
 * Revocations that survive the loss of the shared list. Auth's store is the
 * source of truth (a revoked session's refresh token stops working there,
 * and the store publishes `auth.session.revoked` through its outbox); the
 * shared list (Redis) is how every verifier learns of a revocation at once;
 * and each process keeps a local copy, fed by its own writes and by the
 * event (`followRevocations`), each entry kept for the validity horizon.
 *
 * - `isRevoked` asks the local copy first, then the shared list; a failing
 *   shared list counts as "not revoked here" — the local copy already
 *   answered for every revocation this process has heard of — so a Redis
 *   outage neither fails nor slows a request.
 * - `revokeSession` writes the local copy, then the shared list best-effort:
 *   a failed shared write is not thrown, because the event still carries
 *   the revocation to every process (and `resync` writes it once Redis is back).
 * - `resync` copies the local entries into the shared list, for a Redis that
 *   came back empty, so processes started after it learn them too.
 */
export class LayeredRevocationList implements RevocationList {
  readonly #shared: RevocationList;
  readonly #local: InMemoryRevocationList;
  readonly #logger: Pick<Logger, 'debug'>;

  constructor(opts: LayeredRevocationListOptions) {
    this.#shared = opts.shared;
    this.#local = opts.local ?? new InMemoryRevocationList();
    this.#logger = opts.logger;
  }

  async revokeSession(sessionId: string, untilEpochSeconds: number): Promise<void> {
    await this.#local.revokeSession(sessionId, untilEpochSeconds);
    try {
      await this.#shared.revokeSession(sessionId, untilEpochSeconds);
    } catch (err) {
      // Debug: the Redis client logs the outage itself, once, not once per logout.
      this.#logger.debug(
        { err, sessionId },
        'shared revocation list unreachable; revocation kept locally and by event',
      );
    }
  }

  async isRevoked(sessionId: string): Promise<boolean> {
    if (await this.#local.isRevoked(sessionId)) return true;
    try {
      return await this.#shared.isRevoked(sessionId);
    } catch (err) {
      // Logged at debug: the client logs the outage itself, once.
      this.#logger.debug({ err }, 'shared revocation list unreachable; local copy answered');
      return false;
    }
  }

  /** Records a revocation heard of by event, in the local copy only (its sender wrote the shared list). */
  async revokeLocally(sessionId: string, untilEpochSeconds: number): Promise<void> {
    await this.#local.revokeSession(sessionId, untilEpochSeconds);
  }

  /** Copies every local entry into the shared list; returns how many were written. */
  async resync(): Promise<number> {
    let written = 0;
    for (const [sessionId, until] of [...this.#local.entries()]) {
      await this.#shared.revokeSession(sessionId, until);
      written++;
    }
    return written;
  }

  close(): void {
    this.#local.close();
  }
}

/**
 * Feeds `list`'s local copy from `auth.session.revoked`: each ended session
 * stays revoked until the validity horizon after the event arrives, by which time
 * every access token issued for it has expired. Every process needs every
 * such event: broadcast.
 */
export function followRevocations(
  bus: EventBus,
  list: LayeredRevocationList,
  group: string,
  log: Pick<Logger, 'warn'>,
): Promise<SubscriptionHandle> {
  return bus.subscribe({
    topics: ['auth.events'],
    group,
    delivery: 'broadcast',
    async handle(event) {
      if (event.type !== 'auth.session.revoked') return;
      if (payloadTypeName(event.payload) !== 'messenger.auth.v1.SessionsRevoked' || !event.payload) {
        log.warn({ eventId: event.id }, 'auth.session.revoked without a SessionsRevoked payload; ignored');
        return;
      }
      // Counted from arrival, which is never before the revocation: covers every token issued before it.
      const until = Date.now() / 1000 + TOKEN_VALIDITY_HORIZON_SECONDS;
      for (const sessionId of SessionsRevoked.decode(event.payload.value).sessionIds) {
        await list.revokeLocally(sessionId, until);
      }
    },
  });
}
