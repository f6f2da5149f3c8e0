// What the embedded runner needs to start the subscriber service in its own process.
export { type RunningService, type SubscriberServiceDeps, startSubscriberService } from './app.ts';
export { grpcUserDirectory } from './clients/user-directory.client.ts';
export { loadSubscriberConfig, type SubscriberConfig, subscriberSettings } from './config.ts';
export type { UserDirectory } from './domain/user-directory.ts';
export type { FriendshipStore } from './store/friendship-store.ts';
export { MemoryFriendshipStore } from './store/memory/memory-friendship-store.ts';
export { openMongoFriendshipStore } from './store/mongo/mongo-friendship-store.ts';
export { SqliteFriendshipStore } from './store/sqlite/sqlite-friendship-store.ts';
