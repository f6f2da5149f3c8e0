// The standalone process refuses to start without its service secret or VAPID keys (browsers subscribe with the public key, so it must
// not change at each start), starts with them or with NOTIFICATION_VAPID_GENERATE=true, and stops cleanly on SIGTERM.
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials } from '@grpc/grpc-js';
import { NotificationServiceClient } from '@messenger/gen/messenger/notification/v1/notification';
import { call, spawnNode } from '@messenger/platform/testing';
import { generateVapidKeys } from './push/web-push-sender.ts';

const here = dirname(fileURLToPath(import.meta.url));

it('notification main.ts serves the configured VAPID public key and exits 0 on SIGTERM', async () => {
  const vapid = generateVapidKeys();
  const service = spawnNode(join(here, 'main.ts'), {
    PATH: process.env.PATH,
    NOTIFICATION_GRPC_PORT: '0',
    NOTIFICATION_SERVICE_SECRET: 'test-only-notification-secret',
    NOTIFICATION_VAPID_PUBLIC_KEY: vapid.publicKey,
    NOTIFICATION_VAPID_PRIVATE_KEY: vapid.privateKey,
  });
  try {
    const [, port] = await service.waitFor(/"port":(\d+)[^\n]*notification service listening/);
    const client = new NotificationServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      expect(await call(client, client.getWebPushKey, {})).toEqual({ publicKey: vapid.publicKey });
    } finally {
      client.close();
    }
    await expect(service.stop()).resolves.toBe(0);
  } finally {
    await service.stop('SIGKILL');
  }
});

it('notification main.ts refuses to start without VAPID keys or its service secret, naming them', async () => {
  const service = spawnNode(join(here, 'main.ts'), { PATH: process.env.PATH, NOTIFICATION_GRPC_PORT: '0' });
  let output = '';
  service.child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const [code] = (await once(service.child, 'close')) as [number | null];
  expect(code).not.toBe(0);
  expect(output).toContain('NOTIFICATION_VAPID_PUBLIC_KEY: is required in cluster mode');
  expect(output).toContain('NOTIFICATION_VAPID_PRIVATE_KEY: is required in cluster mode');
  expect(output).toContain('NOTIFICATION_SERVICE_SECRET: is required in cluster mode');
});

it('notification main.ts generates ephemeral VAPID keys when told to, and says so', async () => {
  const service = spawnNode(join(here, 'main.ts'), {
    PATH: process.env.PATH,
    NOTIFICATION_GRPC_PORT: '0',
    NOTIFICATION_SERVICE_SECRET: 'test-only-notification-secret',
    NOTIFICATION_VAPID_GENERATE: 'true',
  });
  try {
    await service.waitFor(/generated ephemeral ones/);
    await service.waitFor(/notification service listening/);
    await expect(service.stop()).resolves.toBe(0);
  } finally {
    await service.stop('SIGKILL');
  }
});
