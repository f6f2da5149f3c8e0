import { type GatewayConfig, loadGatewayConfig } from '@messenger/api-gateway';
import { type AuthConfig, loadAuthConfig } from '@messenger/auth';
import { type ChatConfig, loadChatConfig } from '@messenger/chat';
import { loadNotificationConfig, type NotificationConfig } from '@messenger/notification';
import { type ConfigOf, type ConfigSpec, loadConfig, setting } from '@messenger/platform/config';
import { loadSubscriberConfig, type SubscriberConfig } from '@messenger/subscriber';
import { loadUserConfig, type UserConfig } from '@messenger/user';

/** The settings only the embedded mode has: where its data lives. */
export const embeddedSettings = {
  storage: setting.oneOf('EMBEDDED_STORAGE', ['sqlite', 'memory'], 'sqlite', {
    description:
      'Embedded mode only. sqlite: accounts, sessions, revoked sessions, the signing keys, profiles, friendships, blocks, chats, messages, read positions and push devices are kept in DATA_DIR and survive a restart; memory: everything is lost on exit (tests that need isolation).',
  }),
  dataDir: setting.string('DATA_DIR', './.data', {
    description:
      'Embedded mode only, with EMBEDDED_STORAGE=sqlite: the directory of its SQLite files and signing keys, relative to the working directory; created when missing. `make reset` empties the default one.',
  }),
} satisfies ConfigSpec;

/**
 * Embedded mode reads each process's own settings (ports, log level, …) from
 * the one environment, so a variable means the same thing in both modes,
 * plus its own (`embeddedSettings`). The stores are chosen by
 * EMBEDDED_STORAGE, not by the services' `<SVC>_STORE`; the event bus and
 * the gateway's state are in-process; addresses between services are the
 * ports actually bound. It is always one process: the `*_WORKERS` settings
 * are read but not used, since the event bus and the outbox relays live in
 * this process (and, with EMBEDDED_STORAGE=memory, the stores) and a second
 * one would have none of them. gRPC between its services never leaves the
 * process's loopback, so it stays plaintext: GRPC_TLS_* are read, not used.
 */
export interface EmbeddedConfig {
  readonly embedded: ConfigOf<typeof embeddedSettings>;
  readonly auth: AuthConfig;
  readonly user: UserConfig;
  readonly subscriber: SubscriberConfig;
  readonly chat: ChatConfig;
  readonly notification: NotificationConfig;
  readonly gateway: GatewayConfig;
}

export function loadEmbeddedConfig(env: Readonly<Record<string, string | undefined>>): EmbeddedConfig {
  return {
    embedded: loadConfig(embeddedSettings, env),
    auth: loadAuthConfig(env),
    user: loadUserConfig(env),
    subscriber: loadSubscriberConfig(env),
    chat: loadChatConfig(env),
    notification: loadNotificationConfig(env),
    gateway: loadGatewayConfig(env),
  };
}
