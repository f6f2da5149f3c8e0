import {
  type Device as DeviceMessage,
  NotificationServiceService,
} from '@messenger/gen/messenger/notification/v1/notification';
import type { Actor } from '@messenger/platform/domain';
import { type Caller, type ServiceRegistration, service } from '@messenger/platform/grpc';
import type { Device } from '../domain/device.ts';
import type { DeviceUseCases } from '../domain/device-use-cases.ts';

function actorOf(caller: Caller): Actor {
  switch (caller.kind) {
    case 'user':
      return { kind: 'user', userId: caller.userId };
    case 'service':
      return { kind: 'service', service: caller.service };
    default:
      throw new Error('anonymous caller reached a handler that requires authentication');
  }
}

/** A device as its owner sees it: never the Web Push secrets, an FCM token only by its tail. */
export function toDeviceMessage(device: Device): DeviceMessage {
  const { target } = device;
  return {
    deviceId: device.id,
    createTime: device.createdAt,
    ...(target.kind === 'webpush'
      ? { webPush: { endpoint: target.endpoint, p256dh: '', auth: '' } }
      : { fcm: { token: `…${target.token.slice(-8)}` } }),
  };
}

/** Thin: decode the request, call one use case, encode the answer. Errors map in the platform. */
export function notificationServiceHandlers(devices: DeviceUseCases): ServiceRegistration {
  return service(NotificationServiceService, {
    registerDevice: async (req, ctx) => ({
      device: toDeviceMessage(await devices.register(actorOf(ctx.caller), { webPush: req.webPush, fcm: req.fcm })),
    }),
    listDevices: async (_req, ctx) => ({ devices: (await devices.list(actorOf(ctx.caller))).map(toDeviceMessage) }),
    removeDevice: async (req, ctx) => ({ removed: await devices.remove(actorOf(ctx.caller), req.deviceId) }),
    getWebPushKey: async () => ({ publicKey: devices.webPushKey() }),
  });
}
