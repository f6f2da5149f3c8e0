// Invite links: a group's owner and admins make links; whoever holds one
// joins the group with no invitation or friendship, while it is usable.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { callerId, canonicalId, throwIfInvalid, violation } from '@messenger/platform/domain';
import {
  type Chat,
  type ChatInvite,
  groupRoleOf,
  INVITE_LINK_DEFAULT_TTL_MS,
  INVITE_LINK_MAX_TTL_MS,
  isMember,
  isUsableInvite,
  MAX_INVITE_LINK_USES,
  MAX_INVITE_LINKS,
  may,
  memberFrom,
  systemEvent,
} from './chat.ts';
import { directChat, inviteLinkLimit, inviteLinkNotFound, memberCap, notPermitted } from './chat-errors.ts';
import { systemNotice } from './chat-storage.ts';
import { decodeInvitesToken, encodeInvitesToken, type Page, type PageInput, pageLimit, pageOf } from './page-tokens.ts';
import { type CallMeta, retryOnChatRace, type UseCaseContext } from './use-case-context.ts';
import { uuidProblem } from './validation.ts';

/** 128 random bits, base64url: 22 characters. */
const TOKEN_BYTES = 16;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{22}$/;

/** A new link's token: shown to its maker once, never stored. */
export function newInviteToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/**
 * The form a token is stored and looked up in. A plain SHA-256 is enough:
 * the token is 128 random bits, so there is nothing to brute-force that a
 * slow hash would protect, and a lookup stays one index read.
 */
export function inviteTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export function inviteTokenProblem(token: string): string | undefined {
  if (token === '') return 'is required';
  return TOKEN_SHAPE.test(token) ? undefined : 'is not an invite link token';
}

/** When a link made at `now` may end: later than now, and within the longest lifetime. */
export function inviteExpiryProblem(expireTime: Date | undefined, now: Date): string | undefined {
  if (expireTime === undefined) return undefined;
  if (expireTime.getTime() <= now.getTime()) return 'must be in the future';
  if (expireTime.getTime() > now.getTime() + INVITE_LINK_MAX_TTL_MS) return 'must be at most 30 days from now';
  return undefined;
}

export function inviteUseLimitProblem(useLimit: number): string | undefined {
  return Number.isInteger(useLimit) && useLimit >= 0 && useLimit <= MAX_INVITE_LINK_USES
    ? undefined
    : `must be 0 (no limit) or 1–${MAX_INVITE_LINK_USES}`;
}

export interface ChatInviteInput {
  /** Undefined: `INVITE_LINK_DEFAULT_TTL_MS` from now. */
  readonly expireTime: Date | undefined;
  /** 0: no limit. */
  readonly useLimit: number;
}

/** A link just made, with the token only its maker ever sees. */
export interface CreatedInvite {
  readonly invite: ChatInvite;
  readonly token: string;
}

/** What a link opens, for whoever holds it. */
export interface InvitePreview {
  readonly chat: Chat;
  readonly expireTime: Date;
}

export function inviteLinkUseCases(ctx: UseCaseContext) {
  const { store, users, friends, limits, now } = ctx;

  /** The group, when the caller may manage its links. */
  const managedGroup = async (me: string, chatId: string) => {
    const chat = await ctx.visibleChat(me, chatId);
    if (chat.type !== 'group') throw directChat();
    if (!may(groupRoleOf(chat, me), 'manage_invites')) throw notPermitted('manage_invites');
    return chat;
  };

  /**
   * The link a token opens and its group, when it works at `time`;
   * NOT_FOUND, the one answer for every reason, otherwise. A link works only
   * while its creator may still make links: an admin demoted or gone takes
   * their links along.
   */
  const workingLink = async (token: string, time: Date) => {
    const invite = await store.findChatInvite(inviteTokenHash(token));
    if (!invite || !isUsableInvite(invite, time)) throw inviteLinkNotFound();
    const chat = await store.getChat(invite.chatId);
    if (!chat || !may(groupRoleOf(chat, invite.creatorId), 'manage_invites')) throw inviteLinkNotFound();
    return { invite, chat };
  };

  return {
    /** Makes a link to the group; its token is in this answer only. */
    async createChatInvite(meta: CallMeta, chatId: string, input: ChatInviteInput): Promise<CreatedInvite> {
      const me = callerId(meta.actor);
      const time = now();
      throwIfInvalid([
        violation('chat_id', uuidProblem(chatId)),
        violation('expire_time', inviteExpiryProblem(input.expireTime, time)),
        violation('use_limit', inviteUseLimitProblem(input.useLimit)),
      ]);
      const chat = await managedGroup(me, chatId);
      const token = newInviteToken();
      const invite: ChatInvite = {
        id: randomUUID(),
        chatId: chat.id,
        tokenHash: inviteTokenHash(token),
        creatorId: me,
        createTime: time,
        expireTime: input.expireTime ?? new Date(time.getTime() + INVITE_LINK_DEFAULT_TTL_MS),
        useLimit: input.useLimit,
        useCount: 0,
      };
      if ((await store.putChatInvite(invite, MAX_INVITE_LINKS)) === 'limit') throw inviteLinkLimit(MAX_INVITE_LINKS);
      return { invite, token };
    },

    /** The group's links, newest first, without tokens. */
    async listChatInvites(meta: CallMeta, chatId: string, input: PageInput): Promise<Page<ChatInvite>> {
      const limit = pageLimit(input.pageSize);
      const chat = await managedGroup(callerId(meta.actor), chatId);
      const after = input.pageToken === '' ? undefined : decodeInvitesToken(input.pageToken, chat.id);
      const found = await store.listChatInvites(chat.id, after, limit + 1);
      return pageOf(found, limit, (last) =>
        encodeInvitesToken(chat.id, { createTime: last.createTime, inviteId: last.id }),
      );
    },

    /** Deletes one of the group's links. */
    async revokeChatInvite(meta: CallMeta, chatId: string, inviteId: string): Promise<void> {
      throwIfInvalid([violation('chat_id', uuidProblem(chatId)), violation('invite_id', uuidProblem(inviteId))]);
      const chat = await managedGroup(callerId(meta.actor), chatId);
      if (!(await store.deleteChatInvite(chat.id, canonicalId(inviteId)))) throw inviteLinkNotFound();
    },

    /** The group a working link opens, for anyone signed in who holds it. */
    async previewChatInvite(meta: CallMeta, token: string): Promise<InvitePreview> {
      callerId(meta.actor);
      throwIfInvalid([violation('token', inviteTokenProblem(token))]);
      const { invite, chat } = await workingLink(token, now());
      return { chat, expireTime: invite.expireTime };
    },

    /**
     * The caller joins the group a working link opens, using it once; a
     * member already gets the group and uses nothing. A block between the
     * caller and the link's creator voids the link for them, as a block
     * keeps an invitation from being made.
     */
    async joinChatByInvite(meta: CallMeta, token: string): Promise<Chat> {
      const me = callerId(meta.actor);
      throwIfInvalid([violation('token', inviteTokenProblem(token))]);
      let profiles: Awaited<ReturnType<typeof users.getProfiles>> | undefined;
      return retryOnChatRace(async () => {
        const time = now();
        const { invite, chat } = await workingLink(token, time);
        if (isMember(chat, me)) return chat;
        if (profiles === undefined) {
          // Asked on the first attempt only: a retry means another change of the group won the race, not a new link.
          if ((await friends.relation(me, invite.creatorId, meta.requestId)).blocked) throw inviteLinkNotFound();
          profiles = await users.getProfiles([me], meta.requestId);
        }
        if (chat.members.length + 1 > limits.memberCap) throw memberCap(limits.memberCap);
        const after: Chat = {
          ...chat,
          members: [...chat.members, memberFrom(me, profiles.get(me), 'member', time)],
          version: chat.version + 1,
        };
        await store.useChatInvite(
          after,
          invite.id,
          [
            {
              kind: 'members_changed',
              before: chat,
              after,
              added: [me],
              removed: [],
              time,
              actorId: me,
              requestId: meta.requestId,
            },
          ],
          systemNotice(chat.id, systemEvent('joined_by_link', me, [invite.creatorId]), time, meta.requestId),
        );
        return after;
      });
    },
  };
}
