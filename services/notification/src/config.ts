import { type ConfigOf, type ConfigSpec, loadConfig, setting } from '@messenger/platform/config';
import {
  grpcServiceSettings,
  runtimeSettings,
  serviceAddressSettings,
  serviceSecretSetting,
} from '@messenger/platform/runtime';

const grpcSettings = grpcServiceSettings('notification', 50055, 'registered devices');

/** Every setting of the notification service; the only place its environment is read. */
export const notificationSettings = {
  ...runtimeSettings,
  ...grpcSettings,
  maxDevicesPerUser: setting.int(
    'NOTIFICATION_MAX_DEVICES_PER_USER',
    10,
    { min: 1, max: 100 },
    {
      description:
        'Devices (Web Push subscriptions and FCM tokens together) one user may register; one more gets RESOURCE_EXHAUSTED (DEVICE_LIMIT).',
    },
  ),
  coalesceWindowMs: setting.int(
    'NOTIFICATION_COALESCE_WINDOW_MS',
    5000,
    { min: 0, max: 600_000 },
    {
      description:
        'Per user and chat: the first new message is pushed at once, later ones within this window are pushed together at its end as one push with their count. 0 pushes every message.',
    },
  ),
  allowLoopbackHttpEndpoints: setting.bool('NOTIFICATION_ALLOW_LOOPBACK_HTTP', false, {
    description:
      'Development only: also accept Web Push endpoints on http://127.0.0.1, http://[::1] or http://localhost (a local push stand-in). Production endpoints are always https.',
  }),
  vapidPublicKey: setting.optionalString('NOTIFICATION_VAPID_PUBLIC_KEY', {
    description:
      'Web Push VAPID public key (uncompressed P-256 point, base64url; `npx web-push generate-vapid-keys`). Browsers subscribe with it, so it must stay the same across restarts. Required in cluster mode unless NOTIFICATION_VAPID_GENERATE=true.',
  }),
  vapidGenerate: setting.bool('NOTIFICATION_VAPID_GENERATE', false, {
    description:
      'Development only: without NOTIFICATION_VAPID_PUBLIC_KEY/PRIVATE_KEY, generate a key pair at start-up (logged as ephemeral: subscriptions made with it stop working at the next start). Embedded mode always may.',
  }),
  vapidPrivateKey: setting.optionalString('NOTIFICATION_VAPID_PRIVATE_KEY', {
    description: 'The VAPID private key (32 bytes, base64url) of NOTIFICATION_VAPID_PUBLIC_KEY.',
    secret: true,
  }),
  vapidSubject: setting.string('NOTIFICATION_VAPID_SUBJECT', 'mailto:push@messenger.invalid', {
    description:
      'The VAPID `sub` claim: a mailto: or https: URL where push services can reach the operator. Set it in production.',
  }),
  fcmProjectId: setting.optionalString('NOTIFICATION_FCM_PROJECT_ID', {
    description: 'Firebase project id; empty: FCM devices can be registered but are not pushed to (start-up warns).',
  }),
  fcmServiceAccountEmail: setting.optionalString('NOTIFICATION_FCM_CLIENT_EMAIL', {
    description: "The FCM service account's `client_email`: the issuer of the JWT exchanged for an access token.",
  }),
  fcmServiceAccountKey: setting.optionalString('NOTIFICATION_FCM_PRIVATE_KEY', {
    description:
      "The service account's `private_key` (PKCS#8 PEM; `\\n` escapes are accepted) that signs that JWT (RS256).",
    secret: true,
  }),
  fcmBaseUrl: setting.url('NOTIFICATION_FCM_BASE_URL', 'https://fcm.googleapis.com', {
    description: 'Base URL of the FCM HTTP v1 API (`{base}/v1/projects/{id}/messages:send`).',
  }),
  chatServiceAddress: serviceAddressSettings.chatServiceAddress,
  serviceSecret: serviceSecretSetting('notification'),
  presenceTimeoutMs: setting.int(
    'NOTIFICATION_PRESENCE_TIMEOUT_MS',
    300,
    { min: 10, max: 10_000 },
    {
      description:
        "How long a new message's push waits for the chat service to say which recipients are online (they get no push). Past it, or on any failure, every recipient counts as offline and is pushed to.",
    },
  ),
  fcmTokenUrl: setting.url('NOTIFICATION_FCM_TOKEN_URL', 'https://oauth2.googleapis.com/token', {
    description: 'OAuth 2.0 token endpoint the service-account JWT is exchanged at (jwt-bearer grant).',
  }),
} satisfies ConfigSpec;

export type NotificationConfig = ConfigOf<typeof notificationSettings>;

export function loadNotificationConfig(env: Readonly<Record<string, string | undefined>>): NotificationConfig {
  return loadConfig(notificationSettings, env);
}
