// Reactions to the user service's events: a profile change refreshes the
// copies in the user's chats, a deleted user leaves every chat. Both are
// idempotent without a record of processed events: a copy already as new as
// the event is left alone, and a user no longer a member has nothing to leave.
import { canonicalId } from '@messenger/platform/domain';
import { type Chat, isMember, isNewerProfile, memberOf, type Profile, withoutMember, withProfile } from './chat.ts';
import { retryOnChatRace, type UseCaseContext } from './use-case-context.ts';

/** Chats of a user handled per step when a user event touches all of them. */
const WALK_BATCH = 100;

export function userReactions(ctx: UseCaseContext) {
  const { store, now } = ctx;

  /**
   * Calls `change` on each of the user's chats, in id order, a batch at a
   * time, each read afresh and retried when it loses a race; `change` writes
   * and says true, or leaves the chat alone and says false. Resolves with
   * how many chats changed.
   */
  const changeEachChatOf = async (userId: string, change: (chat: Chat) => Promise<boolean>): Promise<number> => {
    let changed = 0;
    let afterId: string | undefined;
    for (;;) {
      const ids = await store.chatIdsOf(userId, afterId, WALK_BATCH);
      for (const id of ids) {
        const done = await retryOnChatRace(async () => {
          const chat = await store.getChat(id);
          return chat ? change(chat) : false;
        });
        if (done) changed++;
      }
      if (ids.length < WALK_BATCH) return changed;
      afterId = ids.at(-1);
    }
  };

  return {
    /**
     * `user.user.updated`: refreshes the copy of the profile in each of the
     * user's chats, publishing `chat.chat.updated` for each chat changed.
     */
    refreshProfile(profile: Profile, requestId: string): Promise<number> {
      const userId = canonicalId(profile.userId);
      return changeEachChatOf(userId, async (chat) => {
        const member = memberOf(chat, userId);
        if (!member || !isNewerProfile(profile, member)) return false;
        const after = withProfile(chat, userId, profile);
        await store.updateChat(after, [{ kind: 'chat_updated', before: chat, after, time: now(), requestId }]);
        return true;
      });
    },

    /**
     * `user.user.deleted`: removes the user from every chat (an owner hands
     * over as when leaving), publishing `chat.chat.members_changed` for each,
     * and forgets their presence privacy setting.
     */
    async removeUser(userId: string, requestId: string): Promise<number> {
      const id = canonicalId(userId);
      await store.forgetPresencePrivacy(id);
      return changeEachChatOf(id, async (chat) => {
        if (!isMember(chat, id)) return false;
        const after = withoutMember(chat, id);
        await store.updateChat(after, [
          {
            kind: 'members_changed',
            before: chat,
            after,
            added: [],
            removed: [id],
            actorId: id,
            time: now(),
            requestId,
          },
        ]);
        return true;
      });
    },
  };
}

export type UserReactions = ReturnType<typeof userReactions>;
