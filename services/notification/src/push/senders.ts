import type { Logger } from '@messenger/platform/logger';
import type { NotificationConfig } from '../config.ts';
import type { Device } from '../domain/device.ts';
import type { PushSender } from '../domain/ports.ts';
import { fcmSender } from './fcm-sender.ts';
import { generateVapidKeys, type VapidKeys, webPushSender } from './web-push-sender.ts';

/**
 * The push senders the configuration allows. Web Push always (with the
 * configured VAPID keys; in embedded mode, generated ones when none are
 * set, said so in the log); FCM when a project and service account are set.
 * Cluster mode refuses to start without VAPID keys (main.ts): browsers
 * subscribe with the public key, so a key that changes at every start would
 * break every subscription.
 */
export function pushSendersOf(
  config: NotificationConfig,
  log: Logger,
): { senders: Partial<Record<Device['target']['kind'], PushSender>>; webPushPublicKey: string } {
  const vapid = vapidKeysOf(config, log);
  const senders: Partial<Record<Device['target']['kind'], PushSender>> = {
    webpush: webPushSender({ vapid, subject: config.vapidSubject }),
  };
  if (config.fcmProjectId !== '' && config.fcmServiceAccountEmail !== '' && config.fcmServiceAccountKey !== '') {
    senders.fcm = fcmSender({
      projectId: config.fcmProjectId,
      clientEmail: config.fcmServiceAccountEmail,
      privateKey: config.fcmServiceAccountKey,
      baseUrl: config.fcmBaseUrl,
      tokenUrl: config.fcmTokenUrl,
    });
  } else {
    log.warn('FCM is not configured (NOTIFICATION_FCM_*): FCM devices are registered but not pushed to');
  }
  return { senders, webPushPublicKey: vapid.publicKey };
}

function vapidKeysOf(config: NotificationConfig, log: Logger): VapidKeys {
  if (config.vapidPublicKey !== '' && config.vapidPrivateKey !== '') {
    return { publicKey: config.vapidPublicKey, privateKey: config.vapidPrivateKey };
  }
  if (config.vapidPublicKey !== '' || config.vapidPrivateKey !== '') {
    throw new Error('NOTIFICATION_VAPID_PUBLIC_KEY and NOTIFICATION_VAPID_PRIVATE_KEY are set together or not at all');
  }
  const keys = generateVapidKeys();
  log.warn(
    { vapidPublicKey: keys.publicKey },
    'no VAPID keys configured: generated ephemeral ones; Web Push subscriptions made now stop working at the next start',
  );
  return keys;
}
