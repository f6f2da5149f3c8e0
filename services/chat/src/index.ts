// What the embedded runner needs to start the chat service in its own process.
export {
  type ChatServiceDeps,
  type ChatServiceOptions,
  type RunningService,
  startChatService,
} from './app.ts';
export { type ChatConfig, chatServiceOptionsOf, chatSettings, loadChatConfig } from './config.ts';
export type { ChatLimits } from './domain/chat-use-cases.ts';
export type { FriendshipChecker, UserProfiles } from './domain/directories.ts';
export { grpcFriendshipChecker } from './grpc/friendship-checker.grpc.ts';
export { grpcUserProfiles } from './grpc/user-profiles.grpc.ts';
export type { ChatStore } from './store/chat-store.ts';
export { MemoryChatStore } from './store/memory/memory-chat-store.ts';
export { openMongoChatStore } from './store/mongo/mongo-chat-store.ts';
