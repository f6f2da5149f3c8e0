import { type ConfigOf, type ConfigSpec, loadConfig } from '@messenger/platform/config';
import {
  grpcServiceSettings,
  runtimeSettings,
  serviceAddressSettings,
  serviceSecretSetting,
} from '@messenger/platform/runtime';

/** Every setting of the subscriber service; the only place its environment is read. */
export const subscriberSettings = {
  ...runtimeSettings,
  ...grpcServiceSettings('subscriber', 50054, 'friendships'),
  userServiceAddress: serviceAddressSettings.userServiceAddress,
  serviceSecret: serviceSecretSetting('subscriber'),
} satisfies ConfigSpec;

export type SubscriberConfig = ConfigOf<typeof subscriberSettings>;

export function loadSubscriberConfig(env: Readonly<Record<string, string | undefined>>): SubscriberConfig {
  return loadConfig(subscriberSettings, env);
}
