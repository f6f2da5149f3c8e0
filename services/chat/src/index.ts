// What the embedded runner needs to start the chat service in its own process.
export {
  type ChatServiceDeps,
  type ChatServiceOptions,
  type RunningService,
  startChatService,
} from './app.ts';
export { grpcFriendshipChecker } from './clients/friendship-checker.client.ts';
export { grpcUserProfiles } from './clients/user-profiles.client.ts';
export { type ChatConfig, chatServiceOptionsOf, chatSettings, loadChatConfig } from './config.ts';
export type { FriendshipChecker, UserProfiles } from './domain/directories.ts';
export type { ChatLimits } from './domain/use-case-context.ts';
export type { ChatStore } from './store/chat-store.ts';
export { MemoryChatStore } from './store/memory/memory-chat-store.ts';
export { openMongoChatStore } from './store/mongo/mongo-chat-store.ts';
export { SqliteChatStore } from './store/sqlite/sqlite-chat-store.ts';
