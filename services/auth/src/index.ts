// What the embedded runner needs to start the auth service in its own process.
export {
  type AuthServiceDeps,
  type MailSettings,
  type OAuthSettings,
  type RunningService,
  startAuthService,
} from './app.ts';
export { grpcUserProfiles } from './clients/user-profiles.client.ts';
export { type AuthConfig, authPolicyDeps, authSettings, loadAuthConfig } from './config.ts';
export type { UserProfiles } from './domain/user-profiles.ts';
export type { OidcProviderConfig } from './oidc/openid-oidc-client.ts';
export type { AuthStore } from './store/auth-store.ts';
export { MemoryAuthStore } from './store/memory/memory-auth-store.ts';
export { openMongoAuthStore } from './store/mongo/mongo-auth-store.ts';
export { SqliteAuthStore } from './store/sqlite/sqlite-auth-store.ts';
