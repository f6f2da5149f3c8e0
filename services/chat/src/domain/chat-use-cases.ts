// The chat service's use cases as one object, for the gRPC handlers and the
// consumers: chats and members, messages, and reactions to user events.
import { attachmentUseCases } from './attachments.ts';
import { chatUseCases } from './chats.ts';
import { inviteLinkUseCases } from './invite-links.ts';
import { memberSettingsUseCases } from './member-settings.ts';
import { messageReactionUseCases } from './message-reactions.ts';
import { messageUseCases } from './messages.ts';
import { pinUseCases } from './pins.ts';
import { type ChatUseCaseDeps, useCaseContext } from './use-case-context.ts';
import { userReactions } from './user-reactions.ts';

export type ChatUseCases = ReturnType<typeof createChatUseCases>;

export function createChatUseCases(deps: ChatUseCaseDeps) {
  const ctx = useCaseContext(deps);
  return {
    ...chatUseCases(ctx),
    ...messageUseCases(ctx),
    ...userReactions(ctx),
    ...messageReactionUseCases(ctx),
    ...pinUseCases(ctx),
    ...inviteLinkUseCases(ctx),
    ...memberSettingsUseCases(ctx),
    ...attachmentUseCases(ctx, deps.media),
  };
}
