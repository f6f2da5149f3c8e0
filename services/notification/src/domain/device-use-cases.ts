import { randomUUID } from 'node:crypto';
import {
  type Actor,
  callerId,
  canonicalId,
  DomainError,
  ErrorKind,
  throwIfInvalid,
  violation,
} from '@messenger/platform/domain';
import type { DeviceStore } from '../store/device-store.ts';
import { type Device, fcmTokenViolations, type PushTarget, webPushViolations } from './device.ts';

export interface DeviceUseCasesDeps {
  readonly store: DeviceStore;
  readonly maxDevicesPerUser: number;
  readonly allowLoopbackHttp: boolean;
  /** The VAPID public key browsers subscribe with. */
  readonly webPushPublicKey: string;
  readonly now?: () => Date;
}

/** A target as a request names it: exactly one of the two. */
export interface TargetRequest {
  readonly webPush?: { endpoint: string; p256dh: string; auth: string } | undefined;
  readonly fcm?: { token: string } | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createDeviceUseCases(deps: DeviceUseCasesDeps) {
  const now = deps.now ?? (() => new Date());
  const targetOf = (request: TargetRequest): PushTarget => {
    if (request.webPush && !request.fcm) {
      const { endpoint, p256dh, auth } = request.webPush;
      throwIfInvalid(webPushViolations(request.webPush, 'web_push', { allowLoopbackHttp: deps.allowLoopbackHttp }));
      return { kind: 'webpush', endpoint, p256dh, auth };
    }
    if (request.fcm && !request.webPush) {
      throwIfInvalid(fcmTokenViolations(request.fcm.token, 'fcm'));
      return { kind: 'fcm', token: request.fcm.token };
    }
    throw DomainError.invalid([{ field: 'target', description: 'exactly one of web_push and fcm is required' }]);
  };

  return {
    async register(actor: Actor, request: TargetRequest): Promise<Device> {
      const userId = callerId(actor);
      const target = targetOf(request);
      const outcome = await deps.store.register(
        { id: randomUUID(), userId, target, createdAt: now() },
        deps.maxDevicesPerUser,
      );
      if (outcome.kind === 'limit') {
        throw new DomainError(
          ErrorKind.ResourceExhausted,
          'DEVICE_LIMIT',
          `at most ${deps.maxDevicesPerUser} devices per user; remove one first`,
        );
      }
      return outcome.device;
    },
    list: (actor: Actor): Promise<Device[]> => deps.store.listByUser(callerId(actor)),
    async remove(actor: Actor, deviceId: string): Promise<boolean> {
      const userId = callerId(actor);
      throwIfInvalid([violation('device_id', UUID.test(deviceId) ? undefined : 'must be a UUID')]);
      return deps.store.remove(userId, canonicalId(deviceId));
    },
    webPushKey: (): string => deps.webPushPublicKey,
  };
}

export type DeviceUseCases = ReturnType<typeof createDeviceUseCases>;
