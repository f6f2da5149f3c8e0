import { randomUUID } from 'node:crypto';
import { ChatServiceClient, type GetOnlineUsersResponse } from '@messenger/gen/messenger/chat/v1/chat';
import type { ServiceTokenSource } from '@messenger/platform/auth';
import { type ClientPool, outgoingMetadata } from '@messenger/platform/grpc';
import type { Logger } from '@messenger/platform/logger';
import type { Presence } from '../domain/ports.ts';

/** GetOnlineUsers takes at most this many ids per call. */
const MAX_IDS_PER_CALL = 1000;

export interface ChatPresenceOptions {
  readonly pool: ClientPool;
  /** host:port of the chat service. */
  readonly address: string;
  /** This service's own credential: GetOnlineUsers admits the notification service only. */
  readonly tokens: ServiceTokenSource;
  /** The whole answer's deadline; past it, nobody counts as online. */
  readonly timeoutMs: number;
  readonly log: Logger;
}

/**
 * Who is online, asked of the chat service (GetOnlineUsers), which owns
 * presence. Any failure — chat unreachable, slow, refusing — answers
 * "nobody online": the members then get a push they may not need, never
 * miss one. A failure is logged once when it starts and once when chat
 * answers again, not once per message.
 */
export function chatPresence(opts: ChatPresenceOptions): Presence {
  let failing = false;
  const ask = async (userIds: readonly string[], deadline: number): Promise<string[]> => {
    const client = opts.pool.get(ChatServiceClient, opts.address);
    const metadata = outgoingMetadata(randomUUID(), await opts.tokens.token());
    const response = await new Promise<GetOnlineUsersResponse>((resolve, reject) => {
      client.getOnlineUsers({ userIds: [...userIds] }, metadata, { deadline }, (error, answer) =>
        error ? reject(error) : resolve(answer),
      );
    });
    return response.onlineUserIds;
  };
  return {
    async onlineAmong(userIds) {
      if (userIds.length === 0) return new Set();
      const deadline = Date.now() + opts.timeoutMs;
      try {
        const online = new Set<string>();
        for (let i = 0; i < userIds.length; i += MAX_IDS_PER_CALL) {
          for (const id of await ask(userIds.slice(i, i + MAX_IDS_PER_CALL), deadline)) online.add(id);
        }
        if (failing) {
          failing = false;
          opts.log.info('the chat service tells who is online again');
        }
        return online;
      } catch (error) {
        if (!failing) {
          failing = true;
          opts.log.warn(
            { err: error },
            'cannot ask the chat service who is online: pushing to every recipient until it answers',
          );
        }
        return new Set();
      }
    },
  };
}
