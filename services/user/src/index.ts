// What the embedded runner needs to start the user service in its own process.
export { type RunningService, startUserService, type UserServiceDeps } from './app.ts';
export { loadUserConfig, type UserConfig, userSettings } from './config.ts';
export { MemoryUserStore } from './store/memory/memory-user-store.ts';
export { openMongoUserStore } from './store/mongo/mongo-user-store.ts';
export { SqliteUserStore } from './store/sqlite/sqlite-user-store.ts';
export type { UserStore } from './store/user-store.ts';
