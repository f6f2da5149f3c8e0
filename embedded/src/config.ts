import { loadSubscriberConfig, type SubscriberConfig } from '@messenger/subscriber';
import { loadUserConfig, type UserConfig } from '@messenger/user';

/**
 * Embedded mode reads each service's own settings (ports, log level, …) from
 * the one environment, so a variable means the same thing in both modes.
 * Adapter choices (stores, event bus, revocations) are fixed to in-process.
 */
export interface EmbeddedConfig {
  readonly user: UserConfig;
  readonly subscriber: SubscriberConfig;
}

export function loadEmbeddedConfig(env: Readonly<Record<string, string | undefined>>): EmbeddedConfig {
  return { user: loadUserConfig(env), subscriber: loadSubscriberConfig(env) };
}
