// A member's own settings of a chat: mute and archive. Stored per member,
// shown only to that member, published so a notifier can honour the mute.
import { callerId, throwIfInvalid, violation } from '@messenger/platform/domain';
import { DEFAULT_MEMBER_SETTINGS, type MemberSettings, MUTE_FOREVER } from './chat.ts';
import { invalidField } from './chat-errors.ts';
import type { CallMeta, UseCaseContext } from './use-case-context.ts';

/** What to change; what is absent stays as it is. */
export interface SettingsChange {
  /** A time to mute until, `forever`, or `unmute`. */
  readonly mute?: { readonly until: Date } | 'forever' | 'unmute';
  readonly archived?: boolean;
}

export function memberSettingsUseCases(ctx: UseCaseContext) {
  const { store, now } = ctx;
  return {
    /** Changes the caller's settings of a chat; resolves with them after. */
    async updateChatSettings(meta: CallMeta, chatId: string, change: SettingsChange): Promise<MemberSettings> {
      const me = callerId(meta.actor);
      const time = now();
      const { mute } = change;
      throwIfInvalid([
        violation(
          'mute_until',
          typeof mute === 'object' && mute.until.getTime() <= time.getTime() ? 'must be in the future' : undefined,
        ),
      ]);
      if (mute === undefined && change.archived === undefined) {
        throw invalidField('mute', 'or archived must be set: there is nothing to change');
      }
      const chat = await ctx.visibleChat(me, chatId);
      const before = (await store.memberSettings(me, [chat.id])).get(chat.id) ?? DEFAULT_MEMBER_SETTINGS;
      const muteUntil =
        mute === undefined
          ? before.muteUntil
          : mute === 'unmute'
            ? undefined
            : mute === 'forever'
              ? MUTE_FOREVER
              : mute.until;
      const settings: MemberSettings = { muteUntil, archived: change.archived ?? before.archived };
      await store.putMemberSettings(chat.id, me, settings, [
        { kind: 'member_settings_changed', chatId: chat.id, userId: me, settings, time, requestId: meta.requestId },
      ]);
      return settings;
    },
  };
}
