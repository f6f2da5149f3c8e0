// Chats and their members: creating, listing and reading chats, adding and
// removing members.
import { randomUUID } from 'node:crypto';
import { callerId, canonicalId, throwIfInvalid, violation } from '@messenger/platform/domain';
import {
  type Chat,
  type ChatField,
  type ChatType,
  directKeyOf,
  type GroupAction,
  groupRoleOf,
  INVITATION_TTL_MS,
  type Invitation,
  isMember,
  isPending,
  MAX_PENDING_INVITATIONS,
  type Message,
  may,
  mayRemove,
  memberFrom,
  memberOf,
  type SystemEvent,
  systemEvent,
  withOwner,
  withoutMember,
  withRole,
} from './chat.ts';
import {
  directChat,
  invalidField,
  invitationNotFound,
  memberCap,
  memberNotFound,
  notFriends,
  notPermitted,
  ownerRole,
  tooManyInvitations,
  userNotFound,
} from './chat-errors.ts';
import { isStoreError, systemNotice } from './chat-storage.ts';
import {
  decodeChatsToken,
  decodeInvitationsToken,
  encodeChatsToken,
  encodeInvitationsToken,
  type Page,
  type PageInput,
  pageLimit,
  pageOf,
} from './page-tokens.ts';
import { type CallMeta, type ChatView, retryOnChatRace, type UseCaseContext } from './use-case-context.ts';
import {
  countProblem,
  MAX_ADD_PER_CALL,
  otherMemberIds,
  profileUpdateViolations,
  titleProblem,
  uniqueIds,
  uuidProblem,
} from './validation.ts';

export interface CreateChatInput {
  /** Undefined when the caller did not say. */
  readonly type: ChatType | undefined;
  readonly memberIds: readonly string[];
  readonly title: string;
}

/** A chat as one member sees it in their list. */
export interface ChatSummary extends ChatView {
  readonly lastMessage: Message | undefined;
  /** In a direct chat, the other member's read position; 0 in a group. */
  readonly peerReadSequence: number;
}

/** What creating a group or adding to it did: the chat after, and who was invited rather than added. */
export interface MembershipResult {
  readonly chat: Chat;
  /** Not the owner's friends: invited (or already pending), not members. */
  readonly invited: readonly string[];
}

/** A change of a group's profile: the fields named (proto names, as in `update_mask`) take their values. */
export interface ChatProfileInput {
  readonly paths: readonly string[];
  readonly values: { readonly title: string; readonly description: string; readonly avatarUrl: string } | undefined;
}

interface MemberChange {
  readonly added: string[];
  readonly removed: string[];
  readonly time: Date;
}

type Profiles = Awaited<ReturnType<UseCaseContext['users']['getProfiles']>>;

export function chatUseCases(ctx: UseCaseContext) {
  const { store, users, friends, limits, now } = ctx;

  /** Profiles of `required` (NOT_FOUND unless all exist) and of `extra` when it exists (the caller's own). */
  const profilesOf = async (required: readonly string[], requestId: string, field: string, extra?: string) => {
    const profiles = await users.getProfiles(extra === undefined ? required : [extra, ...required], requestId);
    const missing = required.filter((id) => !profiles.has(id));
    if (missing.length > 0) throw userNotFound(field, missing);
    return profiles;
  };

  /** A chat as created: no messages yet, version 1, no description or picture. */
  const newChat = (type: ChatType, fields: Pick<Chat, 'title' | 'ownerId' | 'directKey' | 'members'>, time: Date) => ({
    id: randomUUID(),
    type,
    description: '',
    avatarUrl: '',
    ...fields,
    createTime: time,
    lastActivityTime: time,
    lastSequence: 0,
    version: 1,
  });

  /** The pair's direct chat: the one they have, or a new one when they are friends. */
  const createDirect = async (me: string, others: string[], input: CreateChatInput, meta: CallMeta, time: Date) => {
    throwIfInvalid([
      violation('member_ids', others.length !== 1 ? 'must name exactly one other user for a direct chat' : undefined),
      violation('title', input.title !== '' ? 'must be empty for a direct chat' : undefined),
    ]);
    const other = others[0] as string;
    const directKey = directKeyOf(me, other);
    const existing = await store.findDirectChat(directKey);
    if (existing && isMember(existing, me)) return existing;
    const profiles = await profilesOf([other], meta.requestId, 'member_ids', me);
    if (!(await friends.relation(me, other, meta.requestId)).friends) throw notFriends();
    const members = [
      memberFrom(me, profiles.get(me), 'member', time),
      memberFrom(other, profiles.get(other), 'member', time),
    ];
    const chat: Chat = newChat('direct', { title: '', ownerId: '', directKey, members }, time);
    try {
      await store.createChat(chat, [{ kind: 'chat_created', chat, time, requestId: meta.requestId }]);
    } catch (error) {
      // Both users created it at once: the other call's chat is the pair's.
      if (!isStoreError(error, 'duplicate')) throw error;
      const winner = await store.findDirectChat(directKey);
      if (winner && isMember(winner, me)) return winner;
      throw error;
    }
    return chat;
  };

  const createGroup = async (me: string, others: string[], input: CreateChatInput, meta: CallMeta, time: Date) => {
    throwIfInvalid([
      violation('member_ids', countProblem(others, 1, limits.memberCap - 1, 'other users for a group')),
      violation('title', titleProblem(input.title)),
    ]);
    const profiles = await profilesOf(others, meta.requestId, 'member_ids', me);
    const { joining, invitees } = await byConsent(me, others, meta.requestId);
    await ensureRoomForInvitations(invitees, time);
    const members = [
      memberFrom(me, profiles.get(me), 'owner', time),
      ...joining.map((id) => memberFrom(id, profiles.get(id), 'member', time)),
    ];
    const chat: Chat = newChat('group', { title: input.title, ownerId: me, directKey: '', members }, time);
    await store.createChat(chat, [{ kind: 'chat_created', chat, time, requestId: meta.requestId }]);
    return { chat, invited: await invite(chat, me, invitees, meta.requestId) };
  };

  /** The members of `chat` that `candidates` would add; refuses a direct chat, a role that may not add, and the cap. */
  const membersToAdd = (chat: Chat, me: string, candidates: readonly string[]) => {
    if (chat.type !== 'group') throw directChat();
    if (!may(groupRoleOf(chat, me), 'add_members')) throw notPermitted('add_members');
    const toAdd = candidates.filter((id) => !isMember(chat, id));
    if (chat.members.length + toAdd.length > limits.memberCap) throw memberCap(limits.memberCap);
    return toAdd;
  };

  /**
   * `candidates` sorted by consent: the caller's friends join at once, anyone
   * else is invited and joins only by accepting. Users in a block with the
   * caller are in neither, silently: the answer is the one a skipped member
   * gets, so the blocked user cannot tell the block from any other outcome.
   */
  const byConsent = async (me: string, candidates: readonly string[], requestId: string) => {
    const relations = await Promise.all(candidates.map((id) => friends.relation(me, id, requestId)));
    const joining: string[] = [];
    const invitees: string[] = [];
    relations.forEach(({ friends: friendly, blocked }, i) => {
      if (!blocked) (friendly ? joining : invitees).push(candidates[i] as string);
    });
    return { joining, invitees };
  };

  /**
   * RESOURCE_EXHAUSTED before anything is written when an invitee's pending
   * invitations are full; the store checks again as it writes each one.
   */
  const ensureRoomForInvitations = async (invitees: readonly string[], time: Date) => {
    const counts = await Promise.all(invitees.map((id) => store.countPendingInvitations(id, time)));
    if (counts.some((n) => n >= MAX_PENDING_INVITATIONS)) throw tooManyInvitations(MAX_PENDING_INVITATIONS);
  };

  /** Invites each of `invitees` to the group; one already pending is left as it is. Resolves with them all. */
  const invite = async (chat: Chat, me: string, invitees: readonly string[], requestId: string) => {
    for (const inviteeId of invitees) {
      const time = now();
      const invitation: Invitation = {
        chatId: chat.id,
        inviteeId,
        inviterId: me,
        title: chat.title,
        createTime: time,
        expireTime: new Date(time.getTime() + INVITATION_TTL_MS),
      };
      const result = await store.putInvitation(
        invitation,
        [{ kind: 'invitation_created', invitation, time, requestId }],
        MAX_PENDING_INVITATIONS,
      );
      if (result === 'limit') throw tooManyInvitations(MAX_PENDING_INVITATIONS);
    }
    return [...invitees];
  };

  /** The caller's pending invitation to the chat; NOT_FOUND when there is none or it lapsed. */
  const pendingInvitation = async (me: string, chatId: string) => {
    throwIfInvalid([violation('chat_id', uuidProblem(chatId))]);
    const invitation = await store.getInvitation(canonicalId(chatId), me);
    if (!invitation || !isPending(invitation, now())) throw invitationNotFound();
    return invitation;
  };

  /** Adds `ids` (the owner's friends) to the group; resolves with the chat after (as it is when none is left to add). */
  const addFriends = (me: string, chatId: string, ids: readonly string[], profiles: Profiles, requestId: string) =>
    retryOnChatRace(async () => {
      const chat = await ctx.visibleChat(me, chatId);
      const toAdd = membersToAdd(chat, me, ids);
      if (toAdd.length === 0) return chat;
      const time = now();
      const after: Chat = {
        ...chat,
        members: [...chat.members, ...toAdd.map((id) => memberFrom(id, profiles.get(id), 'member', time))],
        version: chat.version + 1,
      };
      await changeMembers(chat, after, { added: toAdd, removed: [], time }, me, requestId);
      return after;
    });

  /**
   * A group and one of its members, as the caller may act on them: NOT_FOUND
   * unless both are members, FAILED_PRECONDITION for a direct chat,
   * PERMISSION_DENIED unless the caller's role may take `action`.
   */
  const groupAndMember = async (me: string, chatId: string, userId: string, action: GroupAction) => {
    const chat = await ctx.visibleChat(me, chatId);
    if (chat.type !== 'group') throw directChat();
    const target = memberOf(chat, canonicalId(userId));
    if (!target) throw memberNotFound();
    if (!may(groupRoleOf(chat, me), action)) throw notPermitted(action);
    return { chat, target };
  };

  /** Writes the chat's new roles, owner or profile with their `chat_updated` event and the system message. */
  const changeChat = (before: Chat, after: Chat, system: SystemEvent, requestId: string) => {
    const time = now();
    return store.updateChat(
      after,
      [{ kind: 'chat_updated', before, after, time, requestId }],
      systemNotice(after.id, system, time, requestId),
    );
  };

  /** Writes the chat's new members with their `members_changed` event and the system message, the caller as actor. */
  const changeMembers = (before: Chat, after: Chat, change: MemberChange, actorId: string, requestId: string) => {
    const [removed] = change.removed;
    const system =
      removed === undefined
        ? systemEvent('members_added', actorId, change.added)
        : removed === actorId
          ? systemEvent('member_left', actorId, [])
          : systemEvent('member_removed', actorId, [removed]);
    return store.updateChat(
      after,
      [{ kind: 'members_changed', before, after, ...change, actorId, requestId }],
      systemNotice(after.id, system, change.time, requestId),
    );
  };

  return {
    /** Creates a direct chat (or returns the pair's existing one) or a group owned by the caller. */
    /**
     * Creates a direct chat (or returns the pair's existing one), or a group
     * owned by the caller whose other members are the caller's friends; other
     * users named are invited instead.
     */
    async createChat(meta: CallMeta, input: CreateChatInput): Promise<MembershipResult> {
      const me = callerId(meta.actor);
      const others = otherMemberIds(me, input.memberIds, 'member_ids');
      if (input.type === undefined) throw invalidField('type', 'is required');
      const time = now();
      return input.type === 'direct'
        ? { chat: await createDirect(me, others, input, meta, time), invited: [] }
        : createGroup(me, others, input, meta, time);
    },

    /** The caller's chats they have not archived, or (`archived`) only those they have. */
    async listChats(meta: CallMeta, input: PageInput & { readonly archived?: boolean }): Promise<Page<ChatSummary>> {
      const me = callerId(meta.actor);
      const limit = pageLimit(input.pageSize);
      const after = input.pageToken === '' ? undefined : decodeChatsToken(input.pageToken);
      const found = await store.listChatsByArchive(me, input.archived ?? false, after, limit + 1);
      const page = pageOf(found, limit, (last) =>
        encodeChatsToken({ lastActivityTime: last.lastActivityTime, chatId: last.id }),
      );
      const chats = page.items;
      const [positions, lastMessages, peerReads] = await Promise.all([
        store.readPositions(
          me,
          chats.map((c) => c.id),
        ),
        store.messagesAt(
          chats.filter((c) => c.lastSequence > 0).map((c) => ({ chatId: c.id, sequence: c.lastSequence })),
        ),
        ctx.peerReadsOf(chats, me),
      ]);
      const lastByChat = new Map(lastMessages.map((m) => [m.chatId, m]));
      const views = await ctx.viewsOf(me, chats, positions);
      const items = views.map((view, i) => ({
        ...view,
        lastMessage: lastByChat.get(view.chat.id),
        peerReadSequence: peerReads[i] ?? 0,
      }));
      return { items, nextPageToken: page.nextPageToken };
    },

    /** The chat with the caller's read position, unread and unread-mention counts. */
    async getChat(meta: CallMeta, chatId: string): Promise<ChatView> {
      const me = callerId(meta.actor);
      const chat = await ctx.visibleChat(me, chatId);
      const [view] = await ctx.viewsOf(me, [chat], await store.readPositions(me, [chat.id]));
      return view as ChatView;
    },

    /**
     * Adds the owner's friends to a group and invites anyone else named
     * (owner only); those already in it are skipped.
     */
    async addMembers(meta: CallMeta, chatId: string, memberIds: readonly string[]): Promise<MembershipResult> {
      const me = callerId(meta.actor);
      const ids = uniqueIds(memberIds, 'member_ids');
      throwIfInvalid([violation('member_ids', countProblem(ids, 1, MAX_ADD_PER_CALL, 'users'))]);
      const first = await ctx.visibleChat(me, chatId);
      const candidates = membersToAdd(first, me, ids);
      if (candidates.length === 0) return { chat: first, invited: [] };
      const profiles = await profilesOf(candidates, meta.requestId, 'member_ids');
      const { joining, invitees } = await byConsent(me, candidates, meta.requestId);
      await ensureRoomForInvitations(invitees, now());
      const chat = await addFriends(me, chatId, joining, profiles, meta.requestId);
      return { chat, invited: await invite(chat, me, invitees, meta.requestId) };
    },

    /** The caller's pending invitations, newest first. */
    async listInvitations(meta: CallMeta, input: PageInput): Promise<Page<Invitation>> {
      const me = callerId(meta.actor);
      const limit = pageLimit(input.pageSize);
      const after = input.pageToken === '' ? undefined : decodeInvitationsToken(input.pageToken);
      return pageOf(await store.listInvitations(me, now(), after, limit + 1), limit, (last) =>
        encodeInvitationsToken({ createTime: last.createTime, chatId: last.chatId }),
      );
    },

    /**
     * The caller joins the group they are invited to, exactly as if its
     * owner had added them: the same event, with the inviter as its actor.
     */
    async acceptInvitation(meta: CallMeta, chatId: string): Promise<Chat> {
      const me = callerId(meta.actor);
      const first = await pendingInvitation(me, chatId);
      // A block since the invitation voids it, as a block would have kept it from being made.
      if ((await friends.relation(me, first.inviterId, meta.requestId)).blocked) throw invitationNotFound();
      const profiles = await profilesOf([], meta.requestId, 'chat_id', me);
      return retryOnChatRace(async () => {
        const invitation = await pendingInvitation(me, chatId);
        const chat = await store.getChat(invitation.chatId);
        if (!chat) throw invitationNotFound();
        if (isMember(chat, me)) {
          await store.deleteInvitation(chat.id, me);
          return chat;
        }
        if (chat.members.length + 1 > limits.memberCap) throw memberCap(limits.memberCap);
        const time = now();
        const after: Chat = {
          ...chat,
          members: [...chat.members, memberFrom(me, profiles.get(me), 'member', time)],
          version: chat.version + 1,
        };
        const change = { added: [me], removed: [], time };
        await store.acceptInvitation(
          after,
          me,
          [
            {
              kind: 'members_changed',
              before: chat,
              after,
              ...change,
              actorId: invitation.inviterId,
              requestId: meta.requestId,
            },
          ],
          systemNotice(chat.id, systemEvent('invitation_accepted', me, [invitation.inviterId]), time, meta.requestId),
        );
        return after;
      });
    },

    /** The caller turns their pending invitation down; nobody is told. */
    async declineInvitation(meta: CallMeta, chatId: string): Promise<void> {
      const me = callerId(meta.actor);
      const invitation = await pendingInvitation(me, chatId);
      await store.deleteInvitation(invitation.chatId, me);
    },

    /** A role removes those below it (`mayRemove`); a member removes themself (leaves). An owner who leaves hands over. */
    async removeMember(meta: CallMeta, chatId: string, userId: string): Promise<void> {
      const me = callerId(meta.actor);
      throwIfInvalid([violation('chat_id', uuidProblem(chatId)), violation('user_id', uuidProblem(userId))]);
      const target = canonicalId(userId);
      await retryOnChatRace(async () => {
        const chat = await ctx.visibleChat(me, chatId);
        if (chat.type !== 'group') throw directChat();
        const removed = memberOf(chat, target);
        if (!removed) throw memberNotFound();
        if (target !== me && !mayRemove(groupRoleOf(chat, me), removed.role)) throw notPermitted('remove_members');
        const after = withoutMember(chat, target);
        await changeMembers(chat, after, { added: [], removed: [target], time: now() }, me, meta.requestId);
      });
    },

    /** The owner makes a member an admin or an admin a member again; the same role again changes nothing. */
    async setMemberRole(meta: CallMeta, chatId: string, userId: string, role: 'admin' | 'member'): Promise<Chat> {
      const me = callerId(meta.actor);
      throwIfInvalid([violation('chat_id', uuidProblem(chatId)), violation('user_id', uuidProblem(userId))]);
      return retryOnChatRace(async () => {
        const { chat, target } = await groupAndMember(me, chatId, userId, 'manage_admins');
        if (target.role === 'owner') throw ownerRole();
        if (target.role === role) return chat;
        const after = withRole(chat, target.userId, role);
        await changeChat(chat, after, { ...systemEvent('role_changed', me, [target.userId]), role }, meta.requestId);
        return after;
      });
    },

    /** The owner hands the group to another member and becomes an admin; handing it to its owner changes nothing. */
    async transferOwnership(meta: CallMeta, chatId: string, userId: string): Promise<Chat> {
      const me = callerId(meta.actor);
      throwIfInvalid([violation('chat_id', uuidProblem(chatId)), violation('user_id', uuidProblem(userId))]);
      return retryOnChatRace(async () => {
        const { chat, target } = await groupAndMember(me, chatId, userId, 'transfer_ownership');
        if (target.userId === chat.ownerId) return chat;
        const after = withOwner(chat, target.userId);
        await changeChat(chat, after, systemEvent('ownership_transferred', me, [target.userId]), meta.requestId);
        return after;
      });
    },

    /** The owner or an admin changes the group's title, description or picture; the same values again change nothing. */
    async updateChat(meta: CallMeta, chatId: string, input: ChatProfileInput): Promise<Chat> {
      const me = callerId(meta.actor);
      throwIfInvalid([
        violation('chat_id', uuidProblem(chatId)),
        ...profileUpdateViolations(input.paths, input.values),
      ]);
      const values = input.values as NonNullable<ChatProfileInput['values']>;
      const named = (field: ChatField) => input.paths.includes(field);
      return retryOnChatRace(async () => {
        const chat = await ctx.visibleChat(me, chatId);
        if (chat.type !== 'group') throw directChat();
        if (!may(groupRoleOf(chat, me), 'change_profile')) throw notPermitted('change_profile');
        const title = named('title') ? values.title : chat.title;
        const description = named('description') ? values.description : chat.description;
        const avatarUrl = named('avatar_url') ? values.avatarUrl : chat.avatarUrl;
        if (title === chat.title && description === chat.description && avatarUrl === chat.avatarUrl) return chat;
        const after: Chat = { ...chat, title, description, avatarUrl, version: chat.version + 1 };
        const profile = {
          ...(title === chat.title ? {} : { title }),
          ...(description === chat.description ? {} : { description }),
          ...(avatarUrl === chat.avatarUrl ? {} : { avatar_url: avatarUrl }),
        };
        await changeChat(chat, after, { ...systemEvent('profile_changed', me, []), profile }, meta.requestId);
        return after;
      });
    },
  };
}
