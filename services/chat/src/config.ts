import { mediaStoreSettings } from '@messenger/platform/blob';
import { type ConfigOf, type ConfigSpec, loadConfig, setting } from '@messenger/platform/config';
import {
  grpcServiceSettings,
  runtimeSettings,
  serviceAddressSettings,
  serviceSecretSetting,
} from '@messenger/platform/runtime';
import type { ChatServiceOptions } from './app.ts';

/** Every setting of the chat service; the only place its environment is read. */
export const chatSettings = {
  ...runtimeSettings,
  ...grpcServiceSettings('chat', 50053, 'chats and messages'),
  userServiceAddress: serviceAddressSettings.userServiceAddress,
  subscriberServiceAddress: serviceAddressSettings.subscriberServiceAddress,
  serviceSecret: serviceSecretSetting('chat'),
  // Where the gateway keeps attachments: read to complete uploads, and to remove garbage.
  ...mediaStoreSettings('CHAT', ''),
  attachmentGcIntervalMs: setting.int(
    'CHAT_ATTACHMENT_GC_INTERVAL_MS',
    600_000,
    { min: 1000, max: 86_400_000 },
    {
      description:
        'How often the attachment collector runs: it removes the bytes of attachments whose message was deleted, uploads never sent within a day and reservations never uploaded within an hour.',
    },
  ),
  groupMemberCap: setting.int(
    'CHAT_GROUP_MEMBER_CAP',
    1000,
    { min: 2, max: 100_000 },
    { description: 'Members of a group, its owner included.' },
  ),
  maxTextLength: setting.int(
    'CHAT_MESSAGE_MAX_LENGTH',
    4096,
    { min: 1, max: 65_536 },
    { description: 'Characters (Unicode code points) of a message.' },
  ),
  unreadCountCap: setting.int(
    'CHAT_UNREAD_COUNT_CAP',
    1000,
    { min: 1, max: 1_000_000 },
    { description: 'Unread counts stop at this value, which bounds the cost of counting them.' },
  ),
  heartbeatIntervalMs: setting.int(
    'CHAT_STREAM_HEARTBEAT_MS',
    20_000,
    { min: 10, max: 600_000 },
    { description: 'A live-updates stream that had nothing for this long gets a heartbeat.' },
  ),
  streamQueueLimit: setting.int(
    'CHAT_STREAM_QUEUE_LIMIT',
    1000,
    { min: 1, max: 1_000_000 },
    {
      description:
        'Updates waiting for a slow stream reader before it is disconnected (it then resumes); a resume that missed this many or more is answered with resyncRequired instead of a replay.',
    },
  ),
  updatesWindowEvents: setting.int(
    'CHAT_UPDATES_WINDOW_EVENTS',
    10_000,
    { min: 1, max: 10_000_000 },
    { description: 'Events per event-log partition kept in memory so that streams can resume.' },
  ),
  updatesWindowMs: setting.int(
    'CHAT_UPDATES_WINDOW_MS',
    86_400_000,
    { min: 1000, max: 7 * 86_400_000 },
    { description: 'The longest time a kept event stays resumable.' },
  ),
  readReceiptGroupIntervalMs: setting.int(
    'CHAT_READ_RECEIPT_GROUP_INTERVAL_MS',
    2000,
    { min: 100, max: 600_000 },
    {
      description:
        "In a group, a member's read receipts are passed on at most once per this interval (the latest position), which bounds their fan-out to the other members' streams.",
    },
  ),
  presenceGraceMs: setting.int(
    'CHAT_PRESENCE_GRACE_MS',
    10_000,
    { min: 0, max: 600_000 },
    {
      description:
        'A user is still shown online this long after their last live-updates stream closed, so that a quick reconnect shows no offline; then their friends are told they went offline.',
    },
  ),
} satisfies ConfigSpec;

export type ChatConfig = ConfigOf<typeof chatSettings>;

export function loadChatConfig(env: Readonly<Record<string, string | undefined>>): ChatConfig {
  return loadConfig(chatSettings, env);
}

/** The service's tunables from its settings, as startChatService takes them. */
export function chatServiceOptionsOf(config: ChatConfig): ChatServiceOptions {
  return {
    limits: {
      memberCap: config.groupMemberCap,
      maxTextLength: config.maxTextLength,
      unreadCountCap: config.unreadCountCap,
    },
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    updates: {
      windowPerPartition: config.updatesWindowEvents,
      windowMaxAgeMs: config.updatesWindowMs,
      queueLimit: config.streamQueueLimit,
    },
    readReceiptGroupIntervalMs: config.readReceiptGroupIntervalMs,
    presenceGraceMs: config.presenceGraceMs,
    attachmentGcIntervalMs: config.attachmentGcIntervalMs,
  };
}
