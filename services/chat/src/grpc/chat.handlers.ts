import { ChatServiceService, StreamUpdatesResponse, type Update } from '@messenger/gen/messenger/chat/v1/chat';
import { callerId, canonicalId, type DomainError, throwIfInvalid, violation } from '@messenger/platform/domain';
import { type CallContext, EncodedMessage, type ServiceRegistration, service } from '@messenger/platform/grpc';
import type { Message } from '../domain/chat.ts';
import { invalidField, sessionEnded, shuttingDown, streamTooSlow, tokenExpired } from '../domain/chat-errors.ts';
import type { ChatUseCases } from '../domain/chat-use-cases.ts';
import type { PresenceTracker, PresenceUseCases } from '../domain/presence.ts';
import type { TypingUseCases } from '../domain/typing.ts';
import type { CallMeta } from '../domain/use-case-context.ts';
import { uuidProblem } from '../domain/validation.ts';
import { attachmentToProto } from '../events/chat-events.ts';
import { type LiveUpdate, renderUpdate } from '../events/live-updates.ts';
import { InvalidCursorError } from '../live/cursor.ts';
import { StreamOverflowError } from '../live/mailbox.ts';
import type { SessionEnds } from '../live/session-ends.ts';
import { type Delivery, type UpdateHub, UpdateHubClosedError } from '../live/update-hub.ts';
import {
  actorOf,
  assignableRoleOf,
  chatInviteToProto,
  chatToProto,
  chatTypeOf,
  chatViewToProto,
  invitationToProto,
  invitePreviewToProto,
  membershipToProto,
  muteChangeOf,
  readMessageToProto,
  sequenceOf,
  settingsToProto,
  summaryToProto,
} from './chat-mapper.ts';
import { presenceToProto, privacyOf, privacyToProto } from './presence-mapper.ts';

export interface StreamSettings {
  /** A heartbeat goes out when a stream has had nothing for this long. */
  readonly heartbeatIntervalMs: number;
}

/** Thin: decode the request, call one use case, encode the answer. Errors map in the platform. */
export function chatServiceHandlers(
  chats: ChatUseCases,
  hub: UpdateHub<LiveUpdate>,
  sessions: SessionEnds,
  settings: StreamSettings,
  typing: TypingUseCases,
  presence: { readonly tracker: PresenceTracker; readonly useCases: PresenceUseCases },
): ServiceRegistration {
  const meta = (ctx: CallContext): CallMeta => ({ actor: actorOf(ctx.caller), requestId: ctx.requestId });
  /** An internal call made for a user the calling service authenticated (its policy names the services trusted so). */
  const forUser = (userId: string, ctx: CallContext): CallMeta => {
    throwIfInvalid([violation('user_id', uuidProblem(userId))]);
    return { actor: { kind: 'user', userId: canonicalId(userId) }, requestId: ctx.requestId };
  };
  /** Messages as the caller reads them, with `reacted_by_me`. */
  const readAll = async (ctx: CallContext, messages: readonly Message[]) =>
    (await chats.readMessagesAs(meta(ctx), messages)).map(readMessageToProto);
  const readOne = async (ctx: CallContext, message: Promise<Message>) => (await readAll(ctx, [await message]))[0];
  return service(ChatServiceService, {
    createChat: async (req, ctx) =>
      membershipToProto(
        await chats.createChat(meta(ctx), {
          type: chatTypeOf(req.type, 'type'),
          memberIds: req.memberIds,
          title: req.title,
        }),
      ),
    listChats: async (req, ctx) => {
      const page = await chats.listChats(meta(ctx), {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
        archived: req.archived ?? false,
      });
      const now = new Date();
      return { chats: page.items.map((summary) => summaryToProto(summary, now)), nextPageToken: page.nextPageToken };
    },
    getChat: async (req, ctx) => {
      const view = await chats.getChat(meta(ctx), req.chatId);
      return {
        ...chatViewToProto(view, new Date()),
        peerReadSequence: String(await chats.peerReadSequence(meta(ctx), view.chat)),
      };
    },
    addChatMembers: async (req, ctx) => membershipToProto(await chats.addMembers(meta(ctx), req.chatId, req.memberIds)),
    listChatInvitations: async (req, ctx) => {
      const page = await chats.listInvitations(meta(ctx), { pageSize: req.pageSize, pageToken: req.pageToken });
      return { invitations: page.items.map(invitationToProto), nextPageToken: page.nextPageToken };
    },
    acceptChatInvitation: async (req, ctx) => ({
      chat: chatToProto(await chats.acceptInvitation(meta(ctx), req.chatId)),
    }),
    declineChatInvitation: async (req, ctx) => {
      await chats.declineInvitation(meta(ctx), req.chatId);
      return {};
    },
    removeChatMember: async (req, ctx) => {
      await chats.removeMember(meta(ctx), req.chatId, req.userId);
      return {};
    },
    sendMessage: async (req, ctx) => ({
      message: await readOne(
        ctx,
        chats.sendMessage(meta(ctx), {
          chatId: req.chatId,
          clientMessageId: req.clientMessageId,
          text: req.text,
          replyToMessageId: req.replyToMessageId,
          attachmentIds: req.attachmentIds,
        }),
      ),
    }),
    listMessages: async (req, ctx) => {
      const page = await chats.listMessages(meta(ctx), req.chatId, {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return { messages: await readAll(ctx, page.items), nextPageToken: page.nextPageToken };
    },
    listReplies: async (req, ctx) => {
      const page = await chats.listReplies(meta(ctx), req.chatId, req.messageId, {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return { messages: await readAll(ctx, page.items), nextPageToken: page.nextPageToken };
    },
    getMessage: async (req, ctx) => ({
      message: await readOne(ctx, chats.getMessage(meta(ctx), req.chatId, req.messageId)),
    }),
    editMessage: async (req, ctx) => ({
      message: await readOne(ctx, chats.editMessage(meta(ctx), req.chatId, req.messageId, req.text)),
    }),
    deleteMessage: async (req, ctx) => ({
      message: await readOne(ctx, chats.deleteMessage(meta(ctx), req.chatId, req.messageId)),
    }),
    searchMessages: async (req, ctx) => {
      const page = await chats.searchMessages(meta(ctx), {
        query: req.query,
        chatId: req.chatId,
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      const messages = await readAll(
        ctx,
        page.items.map((hit) => hit.message),
      );
      return {
        results: page.items.map((hit, i) => ({
          message: messages[i],
          matchedTerms: hit.matchedTerms,
          highlights: hit.highlights.map((h) => ({ ...h })),
        })),
        nextPageToken: page.nextPageToken,
      };
    },
    listMessageVersions: async (req, ctx) => {
      const page = await chats.listMessageVersions(meta(ctx), req.chatId, req.messageId, {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return { versions: page.items.map((v) => ({ ...v })), nextPageToken: page.nextPageToken };
    },
    markRead: async (req, ctx) => {
      const read = await chats.markRead(meta(ctx), req.chatId, sequenceOf(req.upToSequence, 'up_to_sequence'));
      return {
        readSequence: String(read.readSequence),
        unreadCount: String(read.unreadCount),
        unreadMentionCount: String(read.unreadMentionCount),
      };
    },
    setTyping: async (req, ctx) => {
      await typing.setTyping(meta(ctx), req.chatId, req.typing);
      return {};
    },
    updateChatSettings: async (req, ctx) => {
      const settings = await chats.updateChatSettings(meta(ctx), req.chatId, {
        mute: muteChangeOf(req),
        archived: req.archived,
      });
      return { settings: settingsToProto(settings, new Date()) };
    },
    setChatMemberRole: async (req, ctx) => ({
      chat: chatToProto(
        await chats.setMemberRole(meta(ctx), req.chatId, req.userId, assignableRoleOf(req.role, 'role')),
      ),
    }),
    updateChat: async (req, ctx) => ({
      chat: chatToProto(
        await chats.updateChat(meta(ctx), req.chatId, { paths: req.updateMask ?? [], values: req.chat }),
      ),
    }),
    transferChatOwnership: async (req, ctx) => ({
      chat: chatToProto(await chats.transferOwnership(meta(ctx), req.chatId, req.userId)),
    }),
    addReaction: async (req, ctx) => ({
      message: readMessageToProto(await chats.addReaction(meta(ctx), req.chatId, req.messageId, req.emoji)),
    }),
    removeReaction: async (req, ctx) => ({
      message: readMessageToProto(await chats.removeReaction(meta(ctx), req.chatId, req.messageId, req.emoji)),
    }),
    pinMessage: async (req, ctx) => ({
      message: await readOne(ctx, chats.pinMessage(meta(ctx), req.chatId, req.messageId)),
    }),
    unpinMessage: async (req, ctx) => ({
      message: await readOne(ctx, chats.unpinMessage(meta(ctx), req.chatId, req.messageId)),
    }),
    listPinnedMessages: async (req, ctx) => {
      const page = await chats.listPinnedMessages(meta(ctx), req.chatId, {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return { messages: await readAll(ctx, page.items), nextPageToken: page.nextPageToken };
    },

    createChatInvite: async (req, ctx) => {
      const created = await chats.createChatInvite(meta(ctx), req.chatId, {
        expireTime: req.expireTime,
        useLimit: req.useLimit,
      });
      return { invite: chatInviteToProto(created.invite), token: created.token };
    },
    listChatInvites: async (req, ctx) => {
      const page = await chats.listChatInvites(meta(ctx), req.chatId, {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return { invites: page.items.map(chatInviteToProto), nextPageToken: page.nextPageToken };
    },
    revokeChatInvite: async (req, ctx) => {
      await chats.revokeChatInvite(meta(ctx), req.chatId, req.inviteId);
      return {};
    },
    previewChatInvite: async (req, ctx) => invitePreviewToProto(await chats.previewChatInvite(meta(ctx), req.token)),
    joinChatByInvite: async (req, ctx) => ({ chat: chatToProto(await chats.joinChatByInvite(meta(ctx), req.token)) }),

    streamUpdates: async (req, ctx, send, accept) => {
      const me = callerId(actorOf(ctx.caller));
      const stream = openStream(hub, me, req.resumeAfter);
      // A stream lasts no longer than its credential: it ends when the
      // caller's session is revoked or the access token expires.
      const ended = new AbortController();
      let endedBy: DomainError | undefined;
      const end = (error: DomainError) => {
        endedBy ??= error;
        ended.abort();
      };
      const caller = ctx.caller;
      const unwatch = caller.kind === 'user' ? sessions.watch(caller.sessionId, () => end(sessionEnded())) : () => {};
      const expiry =
        caller.kind === 'user'
          ? setTimeout(() => end(tokenExpired()), Math.max(0, caller.expiresAtMs - Date.now()))
          : undefined;
      // The call's cancellation ends the wait too; relayed by hand, which
      // holds less per open stream than a composite AbortSignal.any.
      const cancelled = () => ended.abort();
      if (ctx.signal.aborted) cancelled();
      else ctx.signal.addEventListener('abort', cancelled, { once: true });
      const signal = ended.signal;
      // Authenticated and the resume point valid: the client learns the
      // stream is open now rather than with its first update.
      accept();
      // The stream counts towards the caller's presence from now until it ends.
      const left = await presence.tracker.opened(me);
      const write = async (message: StreamUpdatesResponse | EncodedMessage): Promise<boolean> => {
        try {
          await send(message);
          return true;
        } catch (error) {
          // The client went away: not a failure of this call.
          if (ctx.signal.aborted) return false;
          throw error;
        }
      };
      try {
        for (;;) {
          const next = await stream.next(settings.heartbeatIntervalMs, signal);
          if (endedBy) throw endedBy;
          if (next === 'closed') return;
          if (!(await write(frameOf(next, me)))) return;
        }
      } catch (error) {
        if (error instanceof StreamOverflowError) throw streamTooSlow();
        throw error;
      } finally {
        clearTimeout(expiry);
        ctx.signal.removeEventListener('abort', cancelled);
        unwatch();
        stream.end();
        await left();
      }
    },
    setPresencePrivacy: async (req, ctx) => ({
      privacy: privacyToProto(await presence.useCases.setPrivacy(meta(ctx), privacyOf(req.privacy, 'privacy'))),
    }),
    getPresenceSettings: async (_req, ctx) => ({
      privacy: privacyToProto(await presence.useCases.getPrivacy(meta(ctx))),
    }),
    getPresence: async (req, ctx) => ({
      presences: (await presence.useCases.getPresence(meta(ctx), req.userIds)).map(presenceToProto),
    }),
    getOnlineUsers: async (req) => ({ onlineUserIds: await presence.useCases.onlineUsers(req.userIds) }),
    beginAttachment: async (req, ctx) => ({
      attachment: attachmentToProto(await chats.beginAttachment(forUser(req.userId, ctx), req.chatId, req.fileName)),
    }),
    completeAttachment: async (req, ctx) => ({
      attachment: attachmentToProto(
        await chats.completeAttachment(forUser(req.userId, ctx), {
          chatId: req.chatId,
          attachmentId: req.attachmentId,
          width: req.width,
          height: req.height,
        }),
      ),
    }),
    getAttachment: async (req, ctx) => ({
      attachment: attachmentToProto(await chats.getAttachment(meta(ctx), req.chatId, req.attachmentId)),
    }),
  });
}

function openStream(hub: UpdateHub<LiveUpdate>, userId: string, resumeAfter: string) {
  try {
    return hub.open(userId, resumeAfter === '' ? undefined : resumeAfter);
  } catch (error) {
    if (error instanceof InvalidCursorError) throw invalidField('resume_after', 'is not an update id of this stream');
    if (error instanceof UpdateHubClosedError) throw shuttingDown();
    throw error;
  }
}

/**
 * The bytes of updates that read the same for every recipient, by delivery:
 * the hub hands one delivery object to all the streams an event reaches, so
 * the first stream to send it encodes it for the others. An entry goes with
 * its delivery once no stream holds it.
 */
const encodedOnce = new WeakMap<Delivery<LiveUpdate>, EncodedMessage>();

function frameOf(next: Delivery<LiveUpdate> | 'idle', me: string): StreamUpdatesResponse | EncodedMessage {
  if (next === 'idle' || next.kind !== 'update' || next.payload.kind !== 'same') return { update: updateOf(next, me) };
  let encoded = encodedOnce.get(next);
  if (encoded === undefined) {
    encoded = new EncodedMessage(StreamUpdatesResponse.encode({ update: updateOf(next, me) }).finish());
    encodedOnce.set(next, encoded);
  }
  return encoded;
}

/** What a stream's reader took, as the stream sends it: an idle wait and a stream's start are heartbeats, the start with its position. */
function updateOf(next: Delivery<LiveUpdate> | 'idle', me: string): Update {
  if (next === 'idle') return { updateId: '', time: new Date(), heartbeat: {} };
  switch (next.kind) {
    case 'start':
      return { updateId: next.updateId, time: new Date(), heartbeat: {} };
    case 'resync':
      return { updateId: next.updateId, time: new Date(), resyncRequired: {} };
    default:
      return { updateId: next.updateId, time: next.time, ...renderUpdate(next.payload, me) };
  }
}
