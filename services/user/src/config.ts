import { type ConfigOf, type ConfigSpec, loadConfig } from '@messenger/platform/config';
import { grpcServiceSettings, runtimeSettings } from '@messenger/platform/runtime';

/** Every setting of the user service; the only place its environment is read. */
export const userSettings = {
  ...runtimeSettings,
  ...grpcServiceSettings('user', 50052, 'profiles'),
} satisfies ConfigSpec;

export type UserConfig = ConfigOf<typeof userSettings>;

export function loadUserConfig(env: Readonly<Record<string, string | undefined>>): UserConfig {
  return loadConfig(userSettings, env);
}
