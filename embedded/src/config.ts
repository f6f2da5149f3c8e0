import { type GatewayConfig, loadGatewayConfig } from '@messenger/api-gateway';
import { type AuthConfig, loadAuthConfig } from '@messenger/auth';
import { type ChatConfig, loadChatConfig } from '@messenger/chat';
import { loadSubscriberConfig, type SubscriberConfig } from '@messenger/subscriber';
import { loadUserConfig, type UserConfig } from '@messenger/user';

/**
 * Embedded mode reads each process's own settings (ports, log level, …) from
 * the one environment, so a variable means the same thing in both modes.
 * Adapter choices (stores, event bus, revocations, shared state) are fixed
 * to in-process; addresses between services are the ports actually bound.
 * It is always one process: the `*_WORKERS` settings are read but not used,
 * since the services' memory stores, the event bus and the signing key live
 * in this process and a second one would have none of them.
 */
export interface EmbeddedConfig {
  readonly auth: AuthConfig;
  readonly user: UserConfig;
  readonly subscriber: SubscriberConfig;
  readonly chat: ChatConfig;
  readonly gateway: GatewayConfig;
}

export function loadEmbeddedConfig(env: Readonly<Record<string, string | undefined>>): EmbeddedConfig {
  return {
    auth: loadAuthConfig(env),
    user: loadUserConfig(env),
    subscriber: loadSubscriberConfig(env),
    chat: loadChatConfig(env),
    gateway: loadGatewayConfig(env),
  };
}
